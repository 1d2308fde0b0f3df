"""The ``checkers`` section: ``[checkers.NAME]`` entries validated into checkers.

Imported only when the project has such a section or ``config/checkers.yaml`` (a scan
whose findings all come from the cache stays light: no pydantic, no YAML).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic

from uet.config import PYPROJECT_FILE, Settings
from uet.errors import ConfigError
from uet.recovery.checkers.base import CHECKER_TIMEOUT_S, Checker, compile_glob
from uet.recovery.checkers.builtin import BUILTIN, builtin_checkers
from uet.recovery.checkers.command import CommandChecker, errorformat_regex
from uet.recovery.findings import Category, Severity
from uet.spec._problems import format_path, kind_of, translate
from uet.spec._read import read_data

SECTION = "checkers"
CHECKERS_FILE = Path("config") / "checkers.yaml"

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class _BuiltinEntry(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    files: list[str] | None = None
    timeout: float | None = pydantic.Field(default=None, gt=0)


class _CommandEntry(_BuiltinEntry):
    argv: list[str] = pydantic.Field(min_length=1)
    pattern: str | None = None
    regex: str | None = None
    severity: Literal["info", "warning", "error", "critical"] = "error"
    category: Literal["syntax", "type", "lint", "style", "format", "security", "test"] = "lint"
    rule: str | None = None
    ok_exit: list[int] = pydantic.Field(default_factory=lambda: [0])
    per_file: bool = False
    tool: str | None = None

    @pydantic.model_validator(mode="after")
    def _one_pattern(self) -> _CommandEntry:
        if self.pattern is not None and self.regex is not None:
            raise ValueError("give one of pattern and regex, not both")
        return self


def load_section(settings: Settings) -> dict[str, Checker]:
    """The project's enabled checkers by name: built-ins, then its own, sorted by name."""
    entries: dict[str, tuple[str, dict[str, Any]]] = {}  # name -> (file, merged entry)
    for file, prefix, section in _layers(settings):
        for name, entry in section.items():
            where = format_path((*prefix, name))
            if not isinstance(name, str) or not _NAME.match(name):
                raise ConfigError(file, where, "a checker name is lowercase letters, digits, "
                                  "'.', '_' and '-', starting with a letter or digit")  # fmt: skip
            if not isinstance(entry, Mapping):
                raise ConfigError(file, where, f"expected a table, got {kind_of(entry)}")
            old = entries.get(name, (file, {}))[1]
            entries[name] = (file, {**old, **entry})
            _checked(name, entries[name][1], file, (*prefix, name))  # each layer as applied
    checkers = builtin_checkers()
    for name, (file, entry) in entries.items():
        checker = _checked(name, entry, file, ())
        if checker is None:
            checkers.pop(name, None)
        else:
            checkers[name] = checker
    return dict(sorted(checkers.items()))


def _checked(name: str, entry: dict[str, Any], file: str, loc: tuple[str, ...]) -> Checker | None:
    model: type[_BuiltinEntry] = _BuiltinEntry if name in BUILTIN else _CommandEntry
    try:
        parsed = model.model_validate(entry)
    except pydantic.ValidationError as exc:
        problem = translate(exc, file, loc, model)[0]
        details = exc.errors(include_url=False)[0]
        message = problem.message
        if details["type"] == "value_error":
            message = str(details.get("ctx", {}).get("error", details["msg"]))
        if name in BUILTIN and details["type"] == "extra_forbidden":
            message = f"{message} (a built-in checker takes enabled, files and timeout)"
        raise ConfigError(problem.file, problem.path, message) from None
    if not parsed.enabled:
        return None
    where = format_path(loc) if loc else f"checkers.{name}"
    patterns = tuple(parsed.files) if parsed.files is not None else None
    for pattern in patterns or ():
        try:
            compile_glob(pattern)
        except ValueError as exc:
            raise ConfigError(file, f"{where}.files", str(exc)) from None
    changes: dict[str, Any] = {}
    if patterns is not None:
        changes["patterns"] = patterns
    if parsed.timeout is not None:
        changes["timeout"] = parsed.timeout
    if isinstance(parsed, _CommandEntry):
        return _command(name, parsed, changes, file, where)
    return dataclasses.replace(builtin_checkers()[name], **changes)


def _command(
    name: str, entry: _CommandEntry, changes: dict[str, Any], file: str, where: str
) -> Checker:
    regex = entry.regex
    try:
        if entry.pattern is not None:
            regex = errorformat_regex(entry.pattern)
        if regex is not None:
            re.compile(regex)
    except (ValueError, re.error) as exc:
        key = "pattern" if entry.pattern is not None else "regex"
        raise ConfigError(file, f"{where}.{key}", f"not a valid pattern: {exc}") from None
    return CommandChecker(
        name=name,
        tool=entry.tool or entry.argv[0],
        argv=tuple(entry.argv),
        regex=regex,
        severity=Severity(entry.severity),
        category=Category(entry.category),
        rule=entry.rule,
        ok_exit=frozenset(entry.ok_exit),
        per_file=entry.per_file,
        config_files=(),
        patterns=changes.get("patterns", ("*",)),
        timeout=changes.get("timeout", CHECKER_TIMEOUT_S),
    )


def _layers(settings: Settings) -> list[tuple[str, tuple[str, ...], Mapping[str, Any]]]:
    layers: list[tuple[str, tuple[str, ...], Mapping[str, Any]]] = []
    section = settings.sections.get(SECTION)
    if section is not None and settings.config_file is not None:
        file = settings.config_file
        prefix = ("tool", "uet", SECTION) if file.name == PYPROJECT_FILE else (SECTION,)
        if not isinstance(section, Mapping):
            raise ConfigError(str(file), format_path(prefix),
                              f"expected a table of checkers, got {kind_of(section)}")  # fmt: skip
        layers.append((str(file), prefix, section))
    path = settings.root / CHECKERS_FILE
    if path.is_file():
        data, problems = read_data(path)
        if problems and not (data is None and len(problems) == 1):
            raise ConfigError(problems[0].file, problems[0].path, problems[0].message)
        if data is not None:
            prefix_file: tuple[str, ...] = ()
            if isinstance(data, Mapping) and set(data) == {SECTION}:
                data, prefix_file = data[SECTION], (SECTION,)
            if not isinstance(data, Mapping):
                raise ConfigError(str(path), "", f"expected a mapping of checker names, got "
                                  f"{kind_of(data)}")  # fmt: skip
            layers.append((str(path), prefix_file, data))
    return layers
