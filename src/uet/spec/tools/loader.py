"""Loading tool profiles: the built-ins, then the originals' files (``invoke.yaml``'s
``tools:``, ``config/tool_profiles.json``), then ``uet.toml``, then ``config/tools.yaml``.

Later layers win. A layer's entry for a tool that exists already changes only the keys it
gives (mappings such as ``env`` and ``check`` are merged key by key; lists and other values
are replaced); an entry for a new name defines a new tool and must be complete. Each layer
is validated as it is applied, so an error names the file that introduced it, the key path
(``tools.aider.max_parallel``) and the problem.

An entry in the originals' format (``command``/``args``, ``binary``/``flags``,
``command_template``…; see :mod:`uet.spec.tools.originals`) is converted first. An entry
that replaces a built-in's command ``overrides`` it (``uet tools list`` says so) and keeps
the built-in's prompt delivery (``--message-file {prompt_file}``…) and ``{model}`` argument
unless it has its own (or sets ``prompt_via``), so an aider entry carried over from the
originals still gets the task's prompt and model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from uet.config import PYPROJECT_FILE, Settings
from uet.errors import ConfigError
from uet.spec._problems import Loc, describe, format_path, kind_of, translate
from uet.spec._read import read_data
from uet.spec.tools.builtin import BUILTIN_TOOL_DATA
from uet.spec.tools.originals import convert_entry, is_original_entry
from uet.spec.tools.profile import RESERVED_NAMES, TOOL_NAME_PATTERN, ToolProfile, placeholders_in

SECTION = "tools"
_EMPTY = "the file is empty"  # what read_data says of a file without data
TOOLS_FILE = Path("config") / "tools.yaml"
"""The tools section as a file of its own, relative to the project root."""

INVOKE_FILE = Path("invoke.yaml")
"""The originals' project config; its ``tools:`` are tool profiles."""

TOOL_PROFILES_FILE = Path("config") / "tool_profiles.json"
"""The originals' tool profiles (a map of tools, or MINI_PIPE's ``profiles{…}``)."""

_NAME_RULE = "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"
_LOADER_KEYS = frozenset({"name", "source", "overrides", "notes"})  # set by the loader


@dataclass(frozen=True, slots=True)
class ToolLayer:
    """One source of tool profiles: its label (``uet.toml``), file, key prefix and entries."""

    label: str
    file: str
    prefix: Loc
    entries: Mapping[str, Any]
    original: bool = False  # every entry is in the originals' format (else: told by its keys)


def load_tools(settings: Settings, *, include_disabled: bool = False) -> dict[str, ToolProfile]:
    """Every tool profile of the project, by name (sorted): built-ins < config file <
    ``config/tools.yaml``. Profiles with ``enabled = false`` only with ``include_disabled``."""
    root = settings.root
    layers = [
        *_file_layer(root, INVOKE_FILE, original=True),
        *_file_layer(root, TOOL_PROFILES_FILE, original=True),
        *_config_file_layer(settings),
        *_file_layer(root, TOOLS_FILE),
    ]
    tools = merge_layers(layers)
    return {n: p for n, p in sorted(tools.items()) if include_disabled or p.enabled}


def merge_layers(layers: list[ToolLayer]) -> dict[str, ToolProfile]:
    """The built-in profiles with ``layers`` applied in order."""
    data: dict[str, dict[str, Any]] = {n: dict(d) for n, d in BUILTIN_TOOL_DATA.items()}
    sources = dict.fromkeys(data, "built-in")
    tools: dict[str, ToolProfile] = {}
    for layer in layers:
        for name, entry in _entries(layer):
            kept = [] if "argv" in entry else data.get(name, {}).get("notes", [])
            notes = [*kept, *entry.pop("notes", [])]  # a new command: the old notes are moot
            data[name] = {**_merged(data.get(name, {}), entry), "notes": notes}
            if name in BUILTIN_TOOL_DATA and "argv" in entry:
                data[name] = _shadowing(name, data[name])
            sources[name] = f"{sources[name]} + {layer.label}" if name in sources else layer.label
            tools[name] = _validate(layer, name, data[name], sources[name])
    for name in data.keys() - tools.keys():
        tools[name] = ToolProfile.model_validate({**data[name], "name": name, "source": "built-in"})
    return tools


def _entries(layer: ToolLayer) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, entry in layer.entries.items():
        where = (*layer.prefix, name)
        if not isinstance(entry, Mapping):
            problem = f"expected a mapping of profile keys, got {kind_of(entry)}"
            raise ConfigError(layer.file, format_path(where), problem)
        if not isinstance(name, str) or not re.fullmatch(TOOL_NAME_PATTERN, name):
            problem = f"{describe(name)} is not a valid tool name: use {_NAME_RULE}"
            raise ConfigError(layer.file, format_path(where), problem)
        if name in RESERVED_NAMES:
            problem = f"{name!r} is reserved: `tool: auto` lets the router choose"
            raise ConfigError(layer.file, format_path(where), problem)
        if layer.original or is_original_entry(entry):
            builtin = name in BUILTIN_TOOL_DATA
            converted = convert_entry(name, entry, file=layer.file, where=where, builtin=builtin)
            found.append((str(name), converted))
            continue
        for key in _LOADER_KEYS & entry.keys():
            problem = f"{key!r} is set by uet (the profile's name is its key)"
            raise ConfigError(layer.file, format_path((*where, key)), problem)
        found.append((str(name), dict(entry)))
    return found


def _shadowing(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """A user's command for built-in ``name``: it keeps the built-in's prompt delivery and
    model argument unless it has its own (or sets ``prompt_via``)."""
    builtin = BUILTIN_TOOL_DATA[name]["argv"]
    if not isinstance(data["argv"], list):
        return data  # validation names the problem
    argv = list(data["argv"])
    used = set().union(*(placeholders_in(str(word)) for word in argv))
    notes = list(data["notes"])
    if "model" not in used:
        model = [word for word in builtin if "model" in placeholders_in(word)]
        if model:
            argv += model
            notes.append(f"keeps the built-in's model argument: {' '.join(model)}")
    if data.get("prompt_via") is None and not used & {"prompt", "prompt_file"}:
        delivery = _prompt_words(builtin)
        argv += delivery
        notes.append(f"keeps the built-in's prompt delivery: {' '.join(delivery)}")
    return {**data, "argv": argv, "overrides": f"built-in {name}", "notes": notes}


def _prompt_words(argv: list[str]) -> list[str]:
    """The words of ``argv`` that pass the prompt, with the option before a bare one."""
    words: list[str] = []
    for index, word in enumerate(argv):
        if placeholders_in(word) & {"prompt", "prompt_file"}:
            if word in ("{prompt}", "{prompt_file}") and argv[index - 1].startswith("-"):
                words.append(argv[index - 1])
            words.append(word)
    return words


def _merged(base: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = _merged(old, value)
        else:
            merged[key] = value
    return merged


def _validate(layer: ToolLayer, name: str, data: dict[str, Any], source: str) -> ToolProfile:
    try:
        return ToolProfile.model_validate({**data, "name": name, "source": source})
    except pydantic.ValidationError as exc:
        problem = translate(exc, layer.file, (*layer.prefix, name), ToolProfile)[0]
        raise ConfigError(problem.file, problem.path, problem.message) from None


def _config_file_layer(settings: Settings) -> list[ToolLayer]:
    section = settings.sections.get(SECTION)
    if section is None or settings.config_file is None:
        return []
    file = settings.config_file
    prefix: Loc = ("tool", "uet", SECTION) if file.name == PYPROJECT_FILE else (SECTION,)
    if not isinstance(section, Mapping):
        problem = f"expected a table of tools, got {kind_of(section)}"
        raise ConfigError(str(file), format_path(prefix), problem)
    return [ToolLayer(file.name, str(file), prefix, section)]


def _file_layer(root: Path, relative: Path, *, original: bool = False) -> list[ToolLayer]:
    """A file of tool profiles: the section's body (``aider: {...}``), or it under
    ``tools:`` (beside other keys in ``invoke.yaml``), or MINI_PIPE's ``profiles:``."""
    path = root / relative
    if not path.is_file():
        return []
    data, problems = read_data(path)
    if data is None and [p.message for p in problems] == [_EMPTY]:
        return []  # only comments
    if problems:
        raise ConfigError(problems[0].file, problems[0].path, problems[0].message)
    if not isinstance(data, Mapping):
        problem = f"expected a mapping of tool names to profiles, got {kind_of(data)}"
        raise ConfigError(str(path), "", problem)
    prefix: Loc = ()
    for key in ("profiles", SECTION):
        if isinstance(data.get(key), Mapping):
            data, prefix = data[key], (key,)
            original = original or key == "profiles"
            break
    else:
        if relative == INVOKE_FILE:
            return []  # an invoke.yaml without tools
    return [ToolLayer(relative.as_posix(), str(path), prefix, data, original)]
