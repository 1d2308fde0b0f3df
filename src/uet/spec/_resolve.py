"""Validated workstreams → one :class:`Plan`: task keys, effective settings, one DAG.

Each task's settings are its own value, else its workstream's ``defaults``, else uet's
(``Defaults()`` fills in whatever a workstream's ``defaults`` leaves out). Its environment is
the workstream's ``env`` overlaid by its own.

A workstream dependency ``B depends_on A`` means "B starts when A is done": every task of B
that depends on nothing inside B depends on every *sink* of A (a task no other task of A
depends on). When a sink finishes, everything else in A has finished before it or does not
feed it; when all sinks are done, all of A is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from uet.spec.graph import topological_order
from uet.spec.models import Plan, PlannedTask, TaskSpec, WorkstreamSpec

if TYPE_CHECKING:  # not at run time: a one-task plan (uet exec) loads no file format
    from uet.spec._checks import Loaded

KEY_SEPARATOR = "/"


def task_key(workstream_id: str, task_id: str) -> str:
    """``ws-build/lint``: a task's key, unique across a plan (ids cannot contain ``/``)."""
    return f"{workstream_id}{KEY_SEPARATOR}{task_id}"


def build_plan(loaded: Sequence[Loaded]) -> Plan:
    """The plan of checked workstreams (ids unique, dependencies known, acyclic)."""
    specs = [item.spec for item in loaded]
    sinks = {spec.id: _sinks(spec) for spec in specs}
    tasks: dict[str, PlannedTask] = {}
    for spec in specs:
        upstream = [key for dep in dict.fromkeys(spec.depends_on) for key in sinks[dep]]
        for task in spec.tasks:
            planned = plan_task(spec, task, upstream)
            tasks[planned.key] = planned
    order = topological_order({key: planned.depends_on for key, planned in tasks.items()})
    sources = {item.spec.id: Path(item.origin.file) for item in loaded}
    return Plan(workstreams=tuple(specs), tasks=tuple(tasks[key] for key in order), sources=sources)


def plan_task(spec: WorkstreamSpec, task: TaskSpec, upstream: Sequence[str]) -> PlannedTask:
    """One task with its effective settings; ``upstream`` is used when it has no dependency."""
    defaults = spec.defaults
    own = [task_key(spec.id, dep) for dep in task.depends_on]
    return PlannedTask(
        key=task_key(spec.id, task.id),
        workstream_id=spec.id,
        id=task.id,
        spec=task,
        depends_on=tuple(dict.fromkeys(own or upstream)),
        timeout=task.timeout if task.timeout is not None else defaults.timeout,
        retries=task.retries if task.retries is not None else defaults.retries,
        retry_delay=task.retry_delay if task.retry_delay is not None else defaults.retry_delay,
        on_failure=task.on_failure if task.on_failure is not None else defaults.on_failure,
        env={**spec.env, **task.env},
        cwd=task.cwd,
        retry_backoff=task.retry_backoff or defaults.retry_backoff,
        abort_running=defaults.abort_running,
    )


def _sinks(spec: WorkstreamSpec) -> list[str]:
    """Keys of the tasks no other task of the workstream depends on, in file order."""
    needed = {dep for task in spec.tasks for dep in task.depends_on}
    return [task_key(spec.id, task.id) for task in spec.tasks if task.id not in needed]
