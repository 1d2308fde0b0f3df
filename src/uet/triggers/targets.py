"""What a trigger starts: its target as a :class:`~uet.spec.models.Plan`.

* ``workstreams: [files]`` — loaded with :func:`uet.spec.load_files`, the target's ``vars``
  first, then the daemon's environment, for ``${VAR}``;
* ``exec: [argv]`` — a one-task plan (workstream ``trigger-<id>``, task ``exec``);
* ``script: NAME`` — the script registry's entry (not in this build yet: exit 2).
"""

from __future__ import annotations

import os
from pathlib import Path

from uet.errors import ConfigError
from uet.spec import Plan, TaskSpec, WorkstreamSpec, load_files
from uet.spec._resolve import plan_task
from uet.spec.triggers import TriggerSpec

EXEC_TASK = "exec"
"""The task id of an ``exec:`` target's one-task plan."""


def plan_for(spec: TriggerSpec, root: Path) -> Plan:
    """The plan ``spec`` starts (SpecError / ConfigError on bad input: exit 2)."""
    target = spec.target
    if target.workstreams:
        files = [root / path for path in target.workstreams]
        return load_files(files, env={**os.environ, **target.vars})
    argv = getattr(target, "exec_", None) or getattr(target, "exec", None)
    if argv:
        return one_command_plan(f"trigger-{spec.id}", list(argv))
    if target.script:
        raise ConfigError(
            "triggers",
            f"triggers.{spec.id}.target.script",
            "script targets are not in this build yet (use exec: [argv] or workstreams:)",
        )
    raise ConfigError("triggers", f"triggers.{spec.id}.target", "no workstreams, exec or script")


def one_command_plan(workstream_id: str, argv: list[str]) -> Plan:
    """A plan of one task that runs ``argv`` (no shell)."""
    workstream = WorkstreamSpec(id=workstream_id, tasks=[TaskSpec(id=EXEC_TASK, argv=argv)])
    task = plan_task(workstream, workstream.tasks[0], ())
    return Plan(workstreams=(workstream,), tasks=(task,))
