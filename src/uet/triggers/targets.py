"""What a trigger starts: its target as a :class:`~uet.spec.models.Plan`.

* ``workstreams: [files]`` — loaded with :func:`uet.spec.load_files`, the target's ``vars``
  first, then the daemon's environment, for ``${VAR}``;
* ``exec: [argv]`` — a one-task plan (workstream ``trigger-<id>``, task ``exec``);
* ``script: NAME`` — the script registry's entry (not in this build yet: exit 2).
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


def plan_for(spec: TriggerSpec, root: Path) -> Plan:
    """The plan ``spec`` starts (SpecError / ConfigError on bad input: exit 2)."""
    target = spec.target
    if target.workstreams:
        files = [root / path for path in target.workstreams]
        return load_files(files, env={**os.environ, **target.vars})
    argv = target.exec
    if argv:
        return one_command_plan(f"trigger-{spec.id}", list(argv))
    if target.script:
        if "script" in TaskSpec.model_fields:  # the script registry is in this build
            task = TaskSpec.model_validate({"id": "script", "script": target.script})
            workstream = WorkstreamSpec(id=f"trigger-{spec.id}", tasks=[task])
            return Plan(workstreams=(workstream,), tasks=(plan_task(workstream, task, ()),))
        raise ConfigError(
            "triggers",
            f"triggers.{spec.id}.target.script",
            "script targets are not in this build yet (use exec: [argv] or workstreams:)",
        )
    raise ConfigError("triggers", f"triggers.{spec.id}.target", "no workstreams, exec or script")


def script_names(settings: Settings) -> list[str]:
    """The script registry's names (none while the registry is not in this build: every
    ``script:`` target is then refused at load, exit 2)."""
    try:
        from uet.spec.scripts import load_scripts  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415
    except ImportError:
        return []
    return sorted(load_scripts(settings))


def one_command_plan(workstream_id: str, argv: list[str]) -> Plan:
    """A plan of one task that runs ``argv`` (no shell)."""
    workstream = WorkstreamSpec(id=workstream_id, tasks=[TaskSpec(id=EXEC_TASK, argv=argv)])
    task = plan_task(workstream, workstream.tasks[0], ())
    return Plan(workstreams=(workstream,), tasks=(task,))
