"""Loading the script registry: ``[scripts.NAME]`` in ``uet.toml`` (or ``[tool.uet.scripts]``
in ``pyproject.toml``), then ``config/scripts.yaml``.

The two have the same schema, and the later wins field by field, as tool profiles do
(:mod:`uet.spec.tools.loader`): an entry for a script defined already changes only the keys
it gives (``env`` and ``params`` are merged key by key, each parameter's keys too), except
that ``run`` and ``argv`` are one thing, the command: giving either replaces the other. An
entry for a new name must be complete. Each layer is validated as it is applied, so an error
names the file that introduced it, the key path (``scripts.deploy.params.env.default``) and
the problem.
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
from uet.spec.scripts.model import SCRIPT_NAME_PATTERN, ScriptSpec

SECTION = "scripts"
SCRIPTS_FILE = Path("config") / "scripts.yaml"
"""The scripts section as a file of its own, relative to the project root."""

_EMPTY = "the file is empty"  # what read_data says of a file without data
_NAME_RULE = "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit"
_PARAM_RULE = "use letters, digits and '_', not starting with a digit (it is written ${NAME})"
_LOADER_KEYS = frozenset({"name", "source"})  # set by the loader
_COMMAND = ("run", "argv")


@dataclass(frozen=True, slots=True)
class ScriptLayer:
    """One source of scripts: its label (``uet.toml``), file, key prefix and entries."""

    label: str
    file: str
    prefix: Loc
    entries: Mapping[str, Any]


def load_scripts(settings: Settings) -> dict[str, ScriptSpec]:
    """Every script of the project, by name (sorted): the config file, then
    ``config/scripts.yaml``. Raises :class:`ConfigError` (exit 2) naming file, key, problem."""
    layers = [*_config_file_layer(settings), *_file_layer(settings.root, SCRIPTS_FILE)]
    return dict(sorted(merge_layers(layers).items()))


def merge_layers(layers: list[ScriptLayer]) -> dict[str, ScriptSpec]:
    """The scripts of ``layers`` applied in order, each validated as it is applied."""
    data: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    scripts: dict[str, ScriptSpec] = {}
    for layer in layers:
        for name, entry in _entries(layer):
            base = data.get(name, {})
            if any(key in entry for key in _COMMAND):  # a new command replaces the old one
                base = {key: value for key, value in base.items() if key not in _COMMAND}
            data[name] = _merged(base, entry)
            sources[name] = f"{sources[name]} + {layer.label}" if name in sources else layer.label
            scripts[name] = _validate(layer, name, data[name], sources[name])
    return scripts


def _entries(layer: ScriptLayer) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, entry in layer.entries.items():
        where = (*layer.prefix, name)
        if not isinstance(name, str) or not re.fullmatch(SCRIPT_NAME_PATTERN, name):
            problem = f"{describe(name)} is not a valid script name: use {_NAME_RULE}"
            raise ConfigError(layer.file, format_path(where), problem)
        if not isinstance(entry, Mapping):
            problem = f"expected a mapping of script keys (run or argv, ...), got {kind_of(entry)}"
            raise ConfigError(layer.file, format_path(where), problem)
        for key in _LOADER_KEYS & entry.keys():
            problem = f"{key!r} is set by uet (the script's name is its key)"
            raise ConfigError(layer.file, format_path((*where, key)), problem)
        found.append((name, dict(entry)))
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


def _validate(layer: ScriptLayer, name: str, data: dict[str, Any], source: str) -> ScriptSpec:
    try:
        return ScriptSpec.model_validate({**data, "name": name, "source": source})
    except pydantic.ValidationError as exc:
        details = exc.errors(include_url=False)[0]
        problem = translate(exc, layer.file, (*layer.prefix, name), ScriptSpec)[0]
        message = problem.message
        if details["type"] == "value_error":  # the model's own checks say it whole
            message = str(details.get("ctx", {}).get("error", details["msg"]))
        elif details["loc"][:1] == ("params",) and details["loc"][-1:] == ("[key]",):
            message = f"{describe(details['input'])} is not a valid param name: {_PARAM_RULE}"
        raise ConfigError(problem.file, problem.path, message) from None


def _config_file_layer(settings: Settings) -> list[ScriptLayer]:
    section = settings.sections.get(SECTION)
    if section is None or settings.config_file is None:
        return []
    file = settings.config_file
    prefix: Loc = ("tool", "uet", SECTION) if file.name == PYPROJECT_FILE else (SECTION,)
    if not isinstance(section, Mapping):
        problem = f"expected a table of scripts ([scripts.NAME]), got {kind_of(section)}"
        raise ConfigError(str(file), format_path(prefix), problem)
    return [ScriptLayer(file.name, str(file), prefix, section)]


def _file_layer(root: Path, relative: Path) -> list[ScriptLayer]:
    """``config/scripts.yaml``: the section's body (``lint: {...}``), or it under
    ``scripts:`` (a script called ``scripts`` has a ``run`` or an ``argv``)."""
    path = root / relative
    if not path.is_file():
        return []
    data, problems = read_data(path)
    if data is None and [p.message for p in problems] == [_EMPTY]:
        return []  # only comments
    if problems:
        raise ConfigError(problems[0].file, problems[0].path, problems[0].message)
    if not isinstance(data, Mapping):
        problem = f"expected a mapping of script names to scripts, got {kind_of(data)}"
        raise ConfigError(str(path), "", problem)
    prefix: Loc = ()
    body = data.get(SECTION)
    if set(data) == {SECTION} and isinstance(body, Mapping) and not set(_COMMAND) & body.keys():
        data, prefix = data[SECTION], (SECTION,)
    return [ScriptLayer(relative.as_posix(), str(path), prefix, data)]
