"""The originals' tool-profile formats, turned into uet's profile keys.

Three shapes are read, each an entry per tool name:

* ``config/tool_profiles.json`` of the pipeline: ``command`` + ``args``, ``env``,
  ``timeout_sec`` / ``timeout-sec``, ``success_exit_codes`` / ``success-exit-codes``,
  ``working_dir``, ``type``, ``model``;
* ``invoke.yaml``'s ``tools:``: the same keys with ``timeout``, or (MINI_PIPE) ``binary`` +
  ``flags`` (each flag split into words, as the shell did);
* MINI_PIPE's ``config/tool_profiles.json`` ``profiles{…}``: ``command_template``,
  ``default_env``, ``default_timeout_seconds``, ``exit_codes`` (code -> meaning),
  ``requirements{binary, min_version}``, ``description``.

Placeholders map onto uet's (:data:`PLACEHOLDER_MAP`); ``--model {model_name}`` becomes
``--model={model}`` (left out when no model is set). A profile whose template uses a
placeholder uet cannot fill is loaded *disabled*, with the reason in its ``notes``. A
``type: ai`` tool can take the edit kinds; another ``type`` is its one capability. Keys uet
has no use for (``capture_output``, ``aim_tool_id``, ``contract_version``, a tool's own
``max_line_length``…) are ignored, as the originals' loaders ignored what they did not read.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any, NoReturn

from uet.errors import ConfigError
from uet.spec._problems import Loc, format_path, kind_of
from uet.spec.tools.profile import (
    KIND_PATTERN,
    PLACEHOLDER_ALIASES,
    PLACEHOLDERS,
    VERSION_PATTERN,
)

PLACEHOLDER_MAP = PLACEHOLDER_ALIASES
"""The originals' placeholder -> uet's (the tool runs in the task's clone: ``{workdir}``)."""

EDIT_KINDS = ("code_edit", "refactor", "test_fix", "docs")
_AIM_KINDS = {"code_generation": "code_edit", "refactoring": "refactor"}

MARKER_KEYS = frozenset(
    {
        "command",
        "args",
        "binary",
        "flags",
        "command_template",
        "default_env",
        "default_timeout_seconds",
        "requirements",
        "exit_codes",
        "timeout_sec",
        "timeout-sec",
        "success_exit_codes",
        "success-exit-codes",
        "type",
    }
)
"""Keys that only the originals' entries have: an entry with one of them (and no
``argv``) is read in the originals' format."""

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_-]*)\}")


def is_original_entry(entry: Mapping[str, Any]) -> bool:
    return "argv" not in entry and bool(MARKER_KEYS & entry.keys())


def convert_entry(
    name: str, entry: Mapping[str, Any], *, file: str, where: Loc, builtin: bool
) -> dict[str, Any]:
    """uet's profile keys for the originals' ``entry`` of tool ``name``; a bad value is a
    :class:`ConfigError` naming ``file`` and the key under ``where``."""
    reader = _Reader(file, where, entry)
    notes: list[str] = []
    argv, unknown = _argv(name, reader)
    converted: dict[str, Any] = {"argv": argv}
    if unknown:
        shown = ", ".join(f"{{{p}}}" for p in unknown)
        notes.append(f"disabled: uet cannot fill {shown} (it fills {_known()})")
        converted["enabled"] = False
    converted.update(_limits(reader))
    for key in ("model", "description", "enabled"):
        if key in entry:
            converted[key] = entry[key]
    if "capabilities" in entry:
        converted["capabilities"] = entry["capabilities"]
    elif not builtin:
        kinds = _kinds(entry)
        if kinds:
            converted["capabilities"] = kinds
    workdir = entry.get("working_dir", entry.get("working-dir"))
    if isinstance(workdir, str) and _translate(workdir)[0] != "{workdir}":
        notes.append(f"working_dir {workdir!r} is not used: a tool runs in the task's clone")
    converted["notes"] = notes
    return converted


def _limits(reader: _Reader) -> dict[str, Any]:
    """env, timeout, success codes, exit-code meanings and the availability check."""
    entry = reader.entry
    converted: dict[str, Any] = {}
    env = reader.mapping("env") or reader.mapping("default_env")
    if env:
        converted["env"] = {str(k): str(v) for k, v in env.items()}
    for key in ("timeout", "timeout_sec", "timeout-sec", "default_timeout_seconds"):
        if key in entry:
            converted["timeout"] = reader.number(key)
    for key in ("success_exit_codes", "success-exit-codes"):
        if key in entry:
            converted["success_codes"] = reader.codes(key)
    meanings = reader.mapping("exit_codes")
    if meanings:
        converted["exit_codes"] = _meanings(reader, meanings)
    check = _check(reader)
    if check:
        converted["check"] = check
    return converted


def _argv(name: str, reader: _Reader) -> tuple[list[str], list[str]]:
    entry = reader.entry
    if "command_template" in entry:
        words = reader.words("command_template")
    elif "command" in entry:
        command = reader.text("command")
        words = shlex.split(command) if any(c.isspace() for c in command) else [command]
        words += reader.words("args") if "args" in entry else []
    else:
        program = reader.text("binary") if "binary" in entry else name
        flags = reader.words("flags") if "flags" in entry else []
        words = [program, *(word for flag in flags for word in shlex.split(flag))]
    if not words or not words[0]:
        reader.fail("command" if "command" in entry else "command_template", "names no program")
    argv: list[str] = []
    unknown: list[str] = []
    for word in words:
        text, missing = _translate(word)
        unknown += [m for m in missing if m not in unknown]
        if text == "{model}" and argv and argv[-1].startswith("--") and "=" not in argv[-1]:
            argv[-1] = f"{argv[-1]}={{model}}"  # left out whole when no model is set
        else:
            argv.append(text)
    return argv, unknown


def _translate(word: str) -> tuple[str, list[str]]:
    """The word with uet's placeholders; the originals' names uet cannot fill. Literal
    braces are escaped (the originals replaced names only)."""
    unknown: list[str] = []

    def one(match: re.Match[str]) -> str:
        token, found = match.group(0), match.group(1)
        if not found:
            return token * 2  # "{{" stays "{{" once rendered
        mapped = PLACEHOLDER_MAP.get(found, found)
        if mapped not in PLACEHOLDERS:
            unknown.append(found)
            return f"{{{{{found}}}}}"  # kept as text, so the profile still validates
        return f"{{{mapped}}}"

    return _TOKEN.sub(one, word), unknown


def _check(reader: _Reader) -> dict[str, Any]:
    requirements = reader.mapping("requirements")
    check: dict[str, Any] = {}
    if "binary" in requirements:
        check["binary"] = str(requirements["binary"])
    minimum = requirements.get("min_version")
    if minimum is not None:
        if not re.fullmatch(VERSION_PATTERN, str(minimum)):
            reader.fail("requirements.min_version", f"{minimum!r} is not a version like 1.2.3")
        check["min_version"] = str(minimum)
    return check


def _meanings(reader: _Reader, meanings: Mapping[str, Any]) -> dict[int, str]:
    found: dict[int, str] = {}
    for code, meaning in meanings.items():
        try:
            found[int(code)] = str(meaning)
        except ValueError:
            reader.fail(f"exit_codes.{code}", "an exit code must be a whole number")
    return found


def _kinds(entry: Mapping[str, Any]) -> list[str]:
    kind = entry.get("type")
    kinds: list[str] = list(EDIT_KINDS) if kind == "ai" else []
    if isinstance(kind, str) and kind != "ai":
        kinds.append(kind)
    for capability in entry.get("aim_capabilities") or []:
        kinds.append(_AIM_KINDS.get(str(capability), str(capability)))
    return [k for k in dict.fromkeys(kinds) if re.fullmatch(KIND_PATTERN, k)]


def _known() -> str:
    ours = ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
    theirs = ", ".join(f"{{{p}}}" for p in PLACEHOLDER_MAP)
    return f"{ours}, and the originals' {theirs}"


class _Reader:
    """Typed reads of one entry; a wrong type names the file and the key path."""

    def __init__(self, file: str, where: Loc, entry: Mapping[str, Any]) -> None:
        self.file = file
        self.where = where
        self.entry = entry

    def fail(self, key: str, problem: str) -> NoReturn:
        raise ConfigError(self.file, format_path((*self.where, *key.split("."))), problem)

    def text(self, key: str) -> str:
        value = self.entry[key]
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {kind_of(value)}")
        return str(value)

    def words(self, key: str) -> list[str]:
        value = self.entry[key]
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            self.fail(key, f"expected a list of strings, got {kind_of(value)}")
        return [str(v) for v in value]

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.entry.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, f"expected a mapping, got {kind_of(value)}")
        return value

    def number(self, key: str) -> float:
        value = self.entry[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.fail(key, f"expected a number of seconds above 0, got {kind_of(value)}")
        return float(value)

    def codes(self, key: str) -> list[int]:
        value = self.entry[key]
        if not isinstance(value, list) or not all(type(v) is int for v in value) or not value:
            self.fail(key, f"expected a list of exit codes, got {kind_of(value)}")
        return list(value)
