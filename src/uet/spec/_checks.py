"""The rules pydantic cannot check: ids unique, one action per task, dependencies known, no cycles.

:func:`check_tasks` looks inside one workstream (all it needs is in its file);
:func:`check_workstreams` looks across every workstream of a run, which may come from
several files. Both return problems, never raise, so every problem of every file is found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from uet.errors import Problem
from uet.spec._formats import Origin
from uet.spec._problems import suggest
from uet.spec.graph import find_cycles, format_cycle
from uet.spec.models import WorkstreamSpec

ACTIONS = ("run", "argv", "tool", "script")
"""A task does exactly one of these."""
_OTHER_WORKSTREAM = (
    "; tasks depend on tasks of their own workstream (use the workstream's depends_on)"
)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A workstream that passed validation, and where it came from."""

    spec: WorkstreamSpec
    origin: Origin


class TaskView(NamedTuple):  # a tuple: a hundred thousand of them are made in a blink
    """What the task checks need of a task, from a validated model or from raw data.

    Raw data is checked too when validation failed, so a file's type errors and its
    dependency errors are reported together. ``depends_on`` holds None where the raw
    item was not a string (validation reports it); ``actions`` is None when the format
    has no choice of action (a plan step always runs a command).
    """

    position: int  # in the file's task list
    id: str
    depends_on: tuple[str | None, ...]
    actions: tuple[str, ...] | None


def views_of_spec(spec: WorkstreamSpec) -> list[TaskView]:
    return [
        TaskView(
            i, task.id, tuple(task.depends_on), _given(task.run, task.argv, task.tool, task.script)
        )
        for i, task in enumerate(spec.tasks)
    ]


def views_of_raw(tasks: object, actions: bool) -> list[TaskView]:
    """Views of the well-formed parts of a raw task list; the rest is left to validation."""
    if not isinstance(tasks, list):
        return []
    views = []
    for index, item in enumerate(tasks):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        deps = item.get("depends_on", [])
        deps = (
            [dep if isinstance(dep, str) else None for dep in deps]
            if isinstance(deps, list)
            else []
        )
        given = _given(*(item.get(name) for name in ACTIONS)) if actions else None
        views.append(TaskView(index, item["id"], tuple(deps), given))
    return views


def _given(run: object, argv: object, tool: object, script: object = None) -> tuple[str, ...]:
    """The names of the actions a task gives (values present, whatever their type)."""
    values = (run, argv, tool, script)
    return tuple([name for name, value in zip(ACTIONS, values, strict=True) if value is not None])


def check_tasks(tasks: Sequence[TaskView], origin: Origin) -> list[Problem]:
    """Problems among the tasks of one workstream: ids, actions, dependencies, cycles."""
    first: dict[str, int] = {}
    ids = {task.id for task in tasks}
    problems: list[Problem] = []
    for task in tasks:
        if task.id in first:
            where = origin.task_path(first[task.id])
            message = f"duplicate task id {task.id!r} (first defined at {where})"
            problems.append(Problem(origin.file, origin.task_path(task.position, "id"), message))
        else:
            first[task.id] = task.position
        problems.extend(_action_problems(task, origin))
        problems.extend(_unknown_tasks(task, ids, origin))
    problems.extend(_task_cycles(tasks, origin, first))
    return problems


def check_workstreams(loaded: Sequence[Loaded], also_known: Iterable[str] = ()) -> list[Problem]:
    """Problems across workstreams: duplicate ids, unknown dependencies, cycles.

    ``also_known`` are ids of workstreams that exist but failed validation: depending on them
    is not reported again as an unknown dependency.
    """
    first: dict[str, Loaded] = {}
    problems: list[Problem] = []
    for item in loaded:
        spec_id, origin = item.spec.id, item.origin
        if spec_id in first:
            message = (
                f"duplicate workstream id {spec_id!r} ({_elsewhere(first[spec_id].origin, origin)})"
            )
            problems.append(Problem(origin.file, origin.path(origin.format.id_key), message))
        else:
            first[spec_id] = item
    known = set(first) | set(also_known)
    for item in loaded:
        problems.extend(_unknown_workstreams(item, known))
    problems.extend(_workstream_cycles(first))
    return problems


def _elsewhere(first: Origin, again: Origin) -> str:
    if first.file != again.file:
        return f"also defined in {first.file}"
    if first.prefix != again.prefix:
        return f"also defined at {first.path(first.format.id_key)}"
    return "the file is given twice"


def _action_problems(task: TaskView, origin: Origin) -> list[Problem]:
    if task.actions is None or len(task.actions) == 1:
        return []
    found = f"has {' and '.join(task.actions)}" if task.actions else "has none"
    message = f"a task needs exactly one of run, argv, tool, script ({found})"
    return [Problem(origin.file, origin.task_path(task.position), message)]


def _unknown_tasks(task: TaskView, ids: set[str], origin: Origin) -> list[Problem]:
    """Dependencies naming no task of the workstream (tasks may be listed in any order)."""
    problems = []
    for position, dep in enumerate(task.depends_on):
        if dep is None or dep in ids:
            continue
        hint = _OTHER_WORKSTREAM if "/" in dep else suggest(dep, ids - {task.id})
        where = origin.task_path(task.position, "depends_on", position)
        problems.append(Problem(origin.file, where, f"unknown task {dep!r}{hint}"))
    return problems


def _task_cycles(
    tasks: Sequence[TaskView], origin: Origin, first: Mapping[str, int]
) -> list[Problem]:
    deps: dict[str, list[str]] = {}
    for task in tasks:
        deps.setdefault(task.id, []).extend(dep for dep in task.depends_on if dep is not None)
    problems = []
    for cycle in find_cycles(deps):
        where = origin.task_path(first[cycle[0]], "depends_on")
        message = f"dependency cycle: {format_cycle(cycle)}"
        problems.append(Problem(origin.file, where, message))
    return problems


def _unknown_workstreams(item: Loaded, known: set[str]) -> list[Problem]:
    problems = []
    for position, dep in enumerate(item.spec.depends_on):
        if dep not in known:
            others = known - {item.spec.id}
            message = f"unknown workstream {dep!r}{suggest(dep, others)}"
            if item.origin.format.name == "legacy bundle":
                folder = Path(item.origin.file).parent
                message += f" (no bundle file in {folder}/ defines it: give the file that does)"
            where = item.origin.path("depends_on", position)
            problems.append(Problem(item.origin.file, where, message))
    return problems


def _workstream_cycles(by_id: Mapping[str, Loaded]) -> list[Problem]:
    deps = {spec_id: item.spec.depends_on for spec_id, item in by_id.items()}
    problems = []
    for cycle in find_cycles(deps):
        origin = by_id[cycle[0]].origin
        message = f"workstream dependency cycle: {format_cycle(cycle)}"
        problems.append(Problem(origin.file, origin.path("depends_on"), message))
    return problems
