"""One command as a plan: the one-task workstream ``uet exec`` (and ``uet scripts run``) runs.

::

    plan = one_command_plan(argv=["pytest", "-q"], name="tests", timeout=600, retries=2)
    start_run(plan, settings=..., store=..., options=RunOptions(...))

The task is validated by the same model as a workstream file's (``TaskSpec``), so a bad
value is a :class:`~uet.errors.SpecError` naming ``source`` (``uet exec`` by default), the
key and the problem, exit 2. Its key is ``<workstream>/<task>``: ``exec/<name>``, where the
name is ``name`` made into an id, or the program's base name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pydantic

from uet.errors import Problem, SpecError
from uet.spec._problems import translate
from uet.spec._resolve import plan_task
from uet.spec.models import Plan, TaskSpec, WorkstreamSpec

EXEC_WORKSTREAM = "exec"
"""The workstream id of a one-command plan (``uet logs RUN exec/NAME``, or just ``NAME``)."""

_NOT_ID = re.compile(r"[^a-z0-9._-]+")


def command_id(name: str | None, argv: Sequence[str] | None, shell: str | None) -> str:
    """A task id from ``name``, else the program's base name: lower case, ``[a-z0-9._-]``."""
    if name:
        raw = name
    elif argv:
        raw = os.path.basename(str(argv[0]))
    else:
        raw = (shell or "").split(maxsplit=1)[0] if (shell or "").strip() else "command"
        raw = os.path.basename(raw)
    ident = _NOT_ID.sub("-", raw.lower()).strip("-._")[:64]
    return ident or "command"


def one_command_plan(
    *,
    argv: Sequence[str] | None = None,
    shell: str | None = None,
    name: str | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    retry_delay: float | None = None,
    retry_on: Sequence[int] | str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    interactive: bool = False,
    workstream_id: str = EXEC_WORKSTREAM,
    source: str = "uet exec",
) -> Plan:
    """A plan of one task running ``argv`` (exec form) or ``shell`` (``/bin/sh -c``).

    ``cwd`` may be absolute (``uet exec`` passes the folder it was started in) or relative
    to the project root; ``env`` overlays uet's environment and ``NON_INTERACTIVE_ENV``;
    ``retry_on`` is exit codes or a regex (see ``TaskSpec.retry_on``). Raises SpecError.
    """
    fields: dict[str, object] = {"id": command_id(name, argv, shell), "name": name}
    if argv is not None:
        fields["argv"] = list(argv)
    if shell is not None:
        fields["run"] = shell
    optional = {
        "timeout": timeout,
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_on": list(retry_on) if isinstance(retry_on, Sequence) and not isinstance(
            retry_on, str) else retry_on,
        "cwd": None if cwd is None else os.fspath(cwd),
    }  # fmt: skip
    fields.update({key: value for key, value in optional.items() if value is not None})
    fields["env"] = dict(env or {})
    fields["interactive"] = interactive
    if (argv is None) == (shell is None):
        raise SpecError([Problem(source, "", "give exactly one of a command line and a shell")])
    try:
        task = TaskSpec.model_validate(fields)
        workstream = WorkstreamSpec(id=workstream_id, tasks=[task])
    except pydantic.ValidationError as exc:
        raise SpecError(translate(exc, source, (), TaskSpec)) from None
    planned = plan_task(workstream, task, [])
    return Plan(workstreams=(workstream,), tasks=(planned,), sources={workstream_id: Path(source)})
