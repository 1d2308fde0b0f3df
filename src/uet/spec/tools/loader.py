"""Loading tool profiles: the built-ins, then ``uet.toml``, then ``config/tools.yaml``.

Later layers win. A layer's entry for a tool that exists already changes only the keys it
gives (mappings such as ``env`` and ``check`` are merged key by key; lists and other values
are replaced); an entry for a new name defines a new tool and must be complete. Each layer
is validated as it is applied, so an error names the file that introduced it, the key path
(``tools.aider.max_parallel``) and the problem.
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
from uet.spec.tools.profile import RESERVED_NAMES, TOOL_NAME_PATTERN, ToolProfile

SECTION = "tools"
_EMPTY = "the file is empty"  # what read_data says of a file without data
TOOLS_FILE = Path("config") / "tools.yaml"
"""The tools section as a file of its own, relative to the project root."""

_NAME_RULE = "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"
_LOADER_KEYS = frozenset({"name", "source"})  # set by the loader, never by a file


@dataclass(frozen=True, slots=True)
class ToolLayer:
    """One source of tool profiles: its label (``uet.toml``), file, key prefix and entries."""

    label: str
    file: str
    prefix: Loc
    entries: Mapping[str, Any]


def load_tools(settings: Settings, *, include_disabled: bool = False) -> dict[str, ToolProfile]:
    """Every tool profile of the project, by name (sorted): built-ins < config file <
    ``config/tools.yaml``. Profiles with ``enabled = false`` only with ``include_disabled``."""
    layers = [*_config_file_layer(settings), *_yaml_layer(settings.root)]
    tools = merge_layers(layers)
    return {n: p for n, p in sorted(tools.items()) if include_disabled or p.enabled}


def merge_layers(layers: list[ToolLayer]) -> dict[str, ToolProfile]:
    """The built-in profiles with ``layers`` applied in order."""
    data: dict[str, dict[str, Any]] = {n: dict(d) for n, d in BUILTIN_TOOL_DATA.items()}
    sources = dict.fromkeys(data, "built-in")
    tools: dict[str, ToolProfile] = {}
    for layer in layers:
        for name, entry in _entries(layer):
            data[name] = _merged(data.get(name, {}), entry)
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
        for key in _LOADER_KEYS & entry.keys():
            problem = f"{key!r} is set by uet (the profile's name is its key)"
            raise ConfigError(layer.file, format_path((*where, key)), problem)
        found.append((str(name), dict(entry)))
    return found


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


def _yaml_layer(root: Path) -> list[ToolLayer]:
    """``config/tools.yaml``: the section's body (``aider: {...}``), or it under ``tools:``."""
    path = root / TOOLS_FILE
    if not path.is_file():
        return []
    data, problems = read_data(path)
    if data is None and [p.message for p in problems] == [_EMPTY]:
        return []  # only comments
    if problems:
        raise ConfigError(problems[0].file, problems[0].path, problems[0].message)
    prefix: Loc = ()
    if isinstance(data, Mapping) and list(data) == [SECTION] and isinstance(data[SECTION], dict):
        data, prefix = data[SECTION], (SECTION,)
    if not isinstance(data, Mapping):
        problem = f"expected a mapping of tool names to profiles, got {kind_of(data)}"
        raise ConfigError(str(path), "", problem)
    return [ToolLayer(TOOLS_FILE.as_posix(), str(path), prefix, data)]
