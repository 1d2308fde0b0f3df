"""Scripts as tasks: ``script: NAME`` in a workstream file, and a one-task plan of a command.

A ``script`` task is resolved when its file is loaded::

    - id: check
      script: lint               # from the registry
      params: {fix: true}        # checked against the script's parameters
      args: [src/]               # appended to its command
      timeout: 60                # the task's own settings beat the script's

Its ``run``/``argv`` come from the script (parameters substituted, ``args`` appended); the
script's ``timeout``, ``retries``, ``retry_on``, ``cwd`` and ``interactive`` apply unless the
task gives its own, and its ``env`` lies under the task's (the workstream's ``env`` under
both). A missing script or a bad parameter is a problem of the file (file, task, key).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence

from uet.errors import Problem
from uet.spec._problems import suggest
from uet.spec._resolve import plan_task
from uet.spec.models import Plan, TaskSpec, WorkstreamSpec
from uet.spec.scripts.model import ScriptSpec
from uet.spec.scripts.render import ScriptUsageError, bind, render

Registry = Mapping[str, ScriptSpec]
TaskPath = Callable[..., str]  # (task index, *keys) -> "tasks[2].params.env"

_INHERITED = ("timeout", "retries", "retry_on", "cwd", "interactive")
_WHERE = "scripts are defined in uet.toml [scripts.NAME] or config/scripts.yaml"


def has_script_tasks(spec: WorkstreamSpec) -> bool:
    return any(task.script is not None or task.params or task.args for task in spec.tasks)


def resolve_script_tasks(
    spec: WorkstreamSpec,
    registry: Callable[[], Registry],
    file: str,
    task_path: TaskPath,
    environ: Mapping[str, str],
) -> tuple[WorkstreamSpec, list[Problem]]:
    """``spec`` with its script tasks resolved, or the problems that keep them from it.

    ``registry`` is called once, when a task needs it (a file without script tasks does not
    load the project's configuration).
    """
    problems: list[Problem] = []
    tasks: list[TaskSpec] = []
    scripts: Registry | None = None
    for index, task in enumerate(spec.tasks):
        if task.script is None:
            problems.extend(_stray_keys(task, file, index, task_path))
            tasks.append(task)
            continue
        if task.run is not None or task.argv is not None or task.tool is not None:
            tasks.append(task)  # "exactly one of run, argv, tool, script" is said already
            continue
        scripts = registry() if scripts is None else scripts
        resolved = _resolve(
            task, scripts, file=file, index=index, task_path=task_path, environ=environ
        )
        if isinstance(resolved, Problem):
            problems.append(resolved)
        else:
            tasks.append(resolved)
    if problems:
        return spec, problems
    return spec.model_copy(update={"tasks": tasks}), []


def _stray_keys(task: TaskSpec, file: str, index: int, task_path: TaskPath) -> list[Problem]:
    return [
        Problem(file, task_path(index, key), f"task {task.id!r}: only a script task takes {key}")
        for key in ("params", "args")
        if getattr(task, key)
    ]


def _resolve(
    task: TaskSpec,
    scripts: Registry,
    *,
    file: str,
    index: int,
    task_path: TaskPath,
    environ: Mapping[str, str],
) -> TaskSpec | Problem:
    name = task.script or ""
    script = scripts.get(name)
    if script is None:
        hint = suggest(name, scripts) or f" ({_WHERE}; see `uet scripts list`)"
        message = f"task {task.id!r}: no script {name!r}{hint}"
        return Problem(file, task_path(index, "script"), message)
    try:
        invocation = render(script, bind(script, task.params), task.args, environ)
    except ScriptUsageError as error:
        key = error.key or ("script",)
        return Problem(file, task_path(index, *key), f"task {task.id!r}: {error}")
    given = task.model_fields_set
    update: dict[str, object] = {
        "run": invocation.run,
        "argv": None if invocation.argv is None else list(invocation.argv),
        "env": {**invocation.env, **task.env},
        "params": dict(invocation.params),
    }
    for field in _INHERITED:
        value = invocation.cwd if field == "cwd" else getattr(script, field)
        if field not in given and value is not None:
            update[field] = value
    return task.model_copy(update=update)


def script_plan(task: TaskSpec, *, workstream_id: str = "scripts", name: str | None = None) -> Plan:
    """A plan of one workstream with one task: how a single command is recorded as a run
    (``uet scripts run``; ``uet exec``'s ``one_command_plan`` makes the same shape)."""
    workstream = WorkstreamSpec(id=workstream_id, name=name, tasks=[task])
    return Plan(workstreams=(workstream,), tasks=(plan_task(workstream, task, ()),))


def script_commands(tasks: Sequence[TaskSpec]) -> list[tuple[str, str, str]]:
    """``(task id, script, command)`` for each resolved script task, for ``uet validate``."""
    return [
        (task.id, task.script, task.run if task.run is not None else shlex.join(task.argv or []))
        for task in tasks
        if task.script is not None and (task.run is not None or task.argv is not None)
    ]
