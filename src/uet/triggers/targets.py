"""What a trigger starts: its target as a :class:`~uet.spec.models.Plan`.

* ``workstreams: [files]`` — loaded with :func:`uet.spec.load_files`, the target's ``vars``
  first, then the daemon's environment, for ``${VAR}``;
* ``exec: [argv]`` — a one-task plan (workstream ``trigger-<id>``, task ``exec``);
* ``script: NAME`` — the script registry's entry with its parameters' defaults (a plan
  as ``uet scripts run NAME`` runs).
"""

from __future__ import annotations

import os
from pathlib import Path

from uet.config import Settings
from uet.errors import ConfigError
from uet.spec import Plan, TaskSpec, WorkstreamSpec, load_files
from uet.spec._resolve import plan_task
from uet.spec.triggers import TriggerSpec

EXEC_TASK = "exec"
"""The task id of an ``exec:`` target's one-task plan."""


def plan_for(spec: TriggerSpec, root: Path, settings: Settings | None = None) -> Plan:
    """The plan ``spec`` starts (SpecError / ConfigError on bad input: exit 2); a
    ``script:`` target needs ``settings`` (where the registry is)."""
    target = spec.target
    if target.workstreams:
        files = [root / path for path in target.workstreams]
        return load_files(files, env={**os.environ, **target.vars})
    argv = target.exec
    if argv:
        return one_command_plan(f"trigger-{spec.id}", list(argv))
    if target.script and settings is not None:
        from uet.spec.scripts import load_scripts, prepare, script_plan  # noqa: PLC0415

        script = load_scripts(settings).get(target.script)
        if script is None:
            raise ConfigError(
                "triggers", f"triggers.{spec.id}.target.script", f"no script {target.script!r}"
            )
        invocation = prepare(script, environ={**os.environ, **target.vars})
        return script_plan(invocation.task(), workstream_id=f"trigger-{spec.id}")
    raise ConfigError("triggers", f"triggers.{spec.id}.target", "no workstreams, exec or script")


def script_names(settings: Settings) -> list[str]:
    """The script registry's names (what a ``script:`` target may name)."""
    from uet.spec.scripts import load_scripts  # noqa: PLC0415

    return sorted(load_scripts(settings))


def one_command_plan(workstream_id: str, argv: list[str]) -> Plan:
    """A plan of one task that runs ``argv`` (no shell)."""
    workstream = WorkstreamSpec(id=workstream_id, tasks=[TaskSpec(id=EXEC_TASK, argv=argv)])
    task = plan_task(workstream, workstream.tasks[0], ())
    return Plan(workstreams=(workstream,), tasks=(task,))
