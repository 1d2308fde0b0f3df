"""Reading triggers from ``uet.toml`` and ``config/triggers.yaml`` (see uet.spec.triggers).

Each source is read into entries (one per trigger, located at its key path), each entry is
validated, then the checks that need them all run: unique ids across the sources, target
workstream files that exist and load, scripts in the registry, no cycle of event triggers.
Every problem is collected; :class:`~uet.spec.triggers.TriggerConfigError` reports them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from uet.config import PYPROJECT_FILE, Settings
from uet.errors import Problem, SpecError
from uet.spec._globs import is_literal, normalise_path_glob
from uet.spec._problems import Loc, describe, format_path, kind_of, translate
from uet.spec._read import read_data
from uet.spec._trigger_cycles import find_trigger_cycles
from uet.spec.graph import format_cycle
from uet.spec.triggers import (
    TRIGGERS_FILE,
    TriggerConfigError,
    Triggers,
    TriggerSpec,
)

SECTION = "triggers"
_EMPTY = "the file is empty"  # what read_data says of a file without data
_LOADER_KEYS = frozenset({"workstream_ids"})  # set by the loader


@dataclass(frozen=True, slots=True)
class Entry:
    """One trigger as found: its file (as shown), key path, id and raw data."""

    file: str
    label: str  # uet.toml, config/triggers.yaml
    where: Loc
    trigger_id: object
    data: Any


def load(settings: Settings, *, root: Path, script_names: Collection[str] | None) -> Triggers:
    problems: list[Problem] = []
    entries = [*_config_entries(settings, problems), *_file_entries(root, problems)]
    specs: dict[str, TriggerSpec] = {}
    sources: dict[str, str] = {}
    located: dict[str, Entry] = {}
    seen: dict[object, str] = {}
    loader = _TargetLoader(root)
    for entry in entries:
        here = f"{entry.label}: {format_path(entry.where)}"
        if isinstance(entry.trigger_id, str) and entry.trigger_id in seen:
            first = seen[entry.trigger_id]
            message = f"duplicate trigger id {entry.trigger_id!r}: also defined at {first}"
            problems.append(Problem(entry.file, format_path(entry.where), message))
            continue
        seen.setdefault(entry.trigger_id, here)
        spec = _validate(entry, root, problems)
        if spec is None:
            continue
        problems.extend(_own_file_globs(spec, entry, settings, root))
        spec = _resolve_target(spec, entry, loader, script_names, problems)
        specs[spec.id] = spec
        sources[spec.id] = here
        located[spec.id] = entry
    for cycle in find_trigger_cycles(specs.values()):
        entry = located[cycle[0]]
        message = (
            f"event triggers would fire each other forever: {format_cycle(cycle)}"
            " (narrow an event or its where, e.g. where: {workstream: ws-build})"
        )
        problems.append(Problem(entry.file, format_path(entry.where), message))
    if problems:
        raise TriggerConfigError(problems)
    ordered = sorted(specs)
    return Triggers({i: specs[i] for i in ordered}, {i: sources[i] for i in ordered})


def _config_entries(settings: Settings, problems: list[Problem]) -> list[Entry]:
    section = settings.sections.get(SECTION)
    if section is None or settings.config_file is None:
        return []
    file = settings.config_file
    prefix: Loc = ("tool", "uet", SECTION) if file.name == PYPROJECT_FILE else (SECTION,)
    return list(_entries(str(file), file.name, prefix, section, problems))


def _file_entries(root: Path, problems: list[Problem]) -> list[Entry]:
    """``config/triggers.yaml``: ``triggers: {ID: {...}}`` (or ``triggers: [{id: ...}]``),
    or the mapping of ids alone."""
    path = root / TRIGGERS_FILE
    if not path.exists():
        return []
    data, read_problems = read_data(path)
    if data is None and [p.message for p in read_problems] == [_EMPTY]:
        return []  # only comments
    if read_problems:
        problems.extend(read_problems)
        return []
    prefix: Loc = ()
    if isinstance(data, Mapping) and SECTION in data:
        data, prefix = data[SECTION], (SECTION,)
        if data is None:
            return []
    label = TRIGGERS_FILE.as_posix()
    return list(_entries(str(path), label, prefix, data, problems))


def _entries(
    file: str, label: str, prefix: Loc, section: Any, problems: list[Problem]
) -> Iterator[Entry]:
    """A section's triggers: a mapping of ids to tables, or a list of tables with ``id``."""
    if isinstance(section, Mapping):
        for trigger_id, data in section.items():
            yield Entry(file, label, (*prefix, str(trigger_id)), trigger_id, data)
    elif isinstance(section, list):
        for index, data in enumerate(section):
            trigger_id = data.get("id") if isinstance(data, Mapping) else None
            yield Entry(file, label, (*prefix, index), trigger_id, data)
    else:
        message = f"expected a mapping of trigger ids to triggers, got {kind_of(section)}"
        problems.append(Problem(file, format_path(prefix), message))


def _validate(entry: Entry, root: Path, problems: list[Problem]) -> TriggerSpec | None:
    file, where = entry.file, entry.where
    if not isinstance(entry.data, Mapping):
        message = f"expected a mapping of trigger keys, got {kind_of(entry.data)}"
        problems.append(Problem(file, format_path(where), message))
        return None
    data = dict(entry.data)
    if isinstance(where[-1], str):  # the mapping form: the key is the id
        given = data.get("id", entry.trigger_id)
        if given != entry.trigger_id:
            message = f"the id is the key ({entry.trigger_id!r}); got id {describe(given)}"
            problems.append(Problem(file, format_path((*where, "id")), message))
            return None
        data["id"] = entry.trigger_id
    elif "id" not in data:
        problems.append(Problem(file, format_path((*where, "id")), "required key is missing"))
        return None
    target = data.get("target")
    if isinstance(target, Mapping):
        for key in sorted(_LOADER_KEYS & target.keys()):
            message = f"{key!r} is set by uet from the target's files"
            problems.append(Problem(file, format_path((*where, "target", key)), message))
            return None
    try:
        return TriggerSpec.model_validate(data, context={"root": root})
    except pydantic.ValidationError as exc:
        problems.extend(_problems_of(exc, file, where))
        return None


def _problems_of(exc: pydantic.ValidationError, file: str, where: Loc) -> list[Problem]:
    """pydantic's errors as problems; our own ValueErrors keep their message as written."""
    translated = translate(exc, file, where, TriggerSpec)
    problems = []
    for found, details in zip(translated, exc.errors(include_url=False), strict=True):
        if details["type"] == "value_error":
            error = details.get("ctx", {}).get("error")
            found = Problem(found.file, found.path, str(error))  # noqa: PLW2901
        problems.append(found)
    return problems


class _TargetLoader:
    """Loads target workstream files once each: their ids, and whether they call tools."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Path, tuple[tuple[str, ...], bool] | str] = {}

    def load(self, relative: str) -> tuple[tuple[str, ...], bool] | str:
        """(workstream ids, has tool tasks), or the problem as a message."""
        path = Path(relative)
        path = path if path.is_absolute() else self.root / path
        if path not in self._cache:
            self._cache[path] = self._read(relative, path)
        return self._cache[path]

    def _read(self, relative: str, path: Path) -> tuple[tuple[str, ...], bool] | str:
        if not path.exists():
            return f"workstream file {relative!r} does not exist (relative to {self.root})"
        if not path.is_file():
            return f"{relative!r} is not a workstream file"
        from uet.spec.loader import load_file  # noqa: PLC0415 - only when a target has files

        try:
            specs = load_file(path)
        except SpecError as exc:
            first = exc.problems[0]
            more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
            return f"workstream file {relative!r} does not load: {first}{more}"
        ids = tuple(spec.id for spec in specs)
        tool = any(task.tool is not None for spec in specs for task in spec.tasks)
        return ids, tool


def _own_file_globs(
    spec: TriggerSpec, entry: Entry, settings: Settings, root: Path
) -> list[Problem]:
    """A ``files`` glob inside uet's home or ``.git`` can never fire: those writes are
    always ignored (see uet.triggers.files)."""
    own = [".git"]
    if settings.home.is_relative_to(root) and settings.home != root:
        own.append(settings.home.relative_to(root).as_posix())
    problems = []
    for index, pattern in enumerate(spec.files or ()):
        literal = []
        for segment in normalise_path_glob(pattern, str(root)).split("/"):
            if not is_literal(segment):
                break
            literal.append(segment)
        prefix = "/".join(literal)
        for folder in own:
            if prefix == folder or prefix.startswith(f"{folder}/"):
                message = (
                    f"{pattern!r} never fires: changes under {folder}/ are uet's own or git's"
                    " and never fire a trigger"
                )
                where = format_path((*entry.where, "files", index))
                problems.append(Problem(entry.file, where, message))
    return problems


def _resolve_target(
    spec: TriggerSpec,
    entry: Entry,
    loader: _TargetLoader,
    script_names: Collection[str] | None,
    problems: list[Problem],
) -> TriggerSpec:
    """``spec`` with its target's workstream ids and tool flag, checking what it names."""
    target = spec.target
    at = (*entry.where, "target")
    if target.script is not None and script_names is not None:
        if target.script not in script_names:
            message = _unknown_script(target.script, script_names)
            problems.append(Problem(entry.file, format_path((*at, "script")), message))
        return spec
    if target.workstreams is None:
        return spec
    ids: list[str] = []
    tool = target.tool
    for index, relative in enumerate(target.workstreams):
        found = loader.load(relative)
        if isinstance(found, str):
            loc = format_path((*at, "workstreams", index))
            problems.append(Problem(entry.file, loc, found))
            continue
        ids.extend(i for i in found[0] if i not in ids)
        tool = tool or found[1]
    resolved = target.model_copy(update={"workstream_ids": tuple(ids), "tool": tool})
    return spec.model_copy(update={"target": resolved})


def _unknown_script(name: str, known: Collection[str]) -> str:
    if not known:
        return f"unknown script {name!r}: no scripts are defined (the scripts section)"
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(known))})"
    return f"unknown script {name!r}{hint}"
