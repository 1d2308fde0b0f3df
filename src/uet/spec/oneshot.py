"""One command as a plan: the one-task workstream ``uet exec`` (and ``uet scripts run``) runs.

::

    plan = one_command_plan(argv=["pytest", "-q"], name="tests", timeout=600, retries=2)
    start_run(plan, settings=..., store=..., options=RunOptions(...))

The task is validated by the same model as a workstream file's (``TaskSpec``), so a bad
value is a :class:`~uet.errors.SpecError` naming ``source`` (``uet exec`` by default), the
key and the problem, exit 2. Its key is ``<workstream>/<task>``: ``exec/<name>``, where the
name is ``name`` made into an id, or the program's base name.

Values that are plainly valid (what ``uet exec``'s options give) skip the model: the plan
is then made of :class:`~uet.spec.planned.CommandTask` without importing pydantic; anything
else (an odd type, a bound crossed, a bad regex) goes through ``TaskSpec``, which accepts
it or says what is wrong.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from uet import defaults
from uet.errors import Problem, SpecError
from uet.spec.planned import (
    DEFAULT_RETRY_DELAY_S,
    ID_PATTERN,
    AbortRunning,
    CommandTask,
    CommandWorkstream,
    OnFailure,
    Plan,
    PlannedTask,
    RetryBackoff,
)

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
    light = _light_plan(fields, workstream_id, source)
    return light if light is not None else _model_plan(fields, workstream_id, source)


def _model_plan(fields: Mapping[str, object], workstream_id: str, source: str) -> Plan:
    """The plan of ``fields`` validated by ``TaskSpec`` (SpecError when it refuses them)."""
    import pydantic  # noqa: PLC0415 - only for values that need the model's word

    from uet.spec._problems import translate  # noqa: PLC0415
    from uet.spec._resolve import plan_task  # noqa: PLC0415
    from uet.spec.models import TaskSpec, WorkstreamSpec  # noqa: PLC0415

    try:
        task = TaskSpec.model_validate(fields)
        workstream = WorkstreamSpec(id=workstream_id, tasks=[task])
    except pydantic.ValidationError as exc:
        raise SpecError(translate(exc, source, (), TaskSpec)) from None
    planned = plan_task(workstream, task, [])
    return Plan(workstreams=(workstream,), tasks=(planned,), sources={workstream_id: Path(source)})


_ID = re.compile(ID_PATTERN)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _ModelDecides(Exception):
    """A value the light path does not take as it is: ``TaskSpec`` judges it."""


def _light_plan(fields: Mapping[str, object], workstream_id: str, source: str) -> Plan | None:
    """The plan of ``fields`` when every value is one ``TaskSpec`` takes as it is (else
    None: the model decides)."""
    try:
        task = _command_task(fields)
    except _ModelDecides:
        return None
    if not _ID.fullmatch(workstream_id):
        return None
    workstream = CommandWorkstream(id=workstream_id, tasks=(task,))
    planned = PlannedTask(
        key=f"{workstream_id}/{task.id}",
        workstream_id=workstream_id,
        id=task.id,
        spec=task,
        depends_on=(),
        timeout=task.timeout,
        retries=task.retries if task.retries is not None else 0,
        retry_delay=task.retry_delay if task.retry_delay is not None else DEFAULT_RETRY_DELAY_S,
        on_failure=OnFailure.SKIP_DEPENDENTS,
        env=dict(task.env),
        cwd=task.cwd,
        retry_backoff=RetryBackoff.EXPONENTIAL,
        abort_running=AbortRunning.KILL,
    )
    return Plan(workstreams=(workstream,), tasks=(planned,), sources={workstream_id: Path(source)})


def _command_task(fields: Mapping[str, object]) -> CommandTask:
    argv = fields.get("argv")
    if argv is not None and not (isinstance(argv, list) and argv):
        raise _ModelDecides
    env = fields.get("env")
    if not isinstance(env, dict) or not all(
        isinstance(key, str) and _ENV_NAME.fullmatch(key) for key in env
    ):
        raise _ModelDecides
    interactive = fields.get("interactive")
    if not isinstance(interactive, bool):
        raise _ModelDecides
    ident = _text(fields["id"])
    if ident is None or not _ID.fullmatch(ident):
        raise _ModelDecides
    name = fields.get("name")
    return CommandTask(
        id=ident,
        name=None if name is None else _plain(name),
        run=_text(fields.get("run")),
        argv=None if argv is None else [_plain(item) for item in argv],
        timeout=_number(fields.get("timeout"), 0.0, defaults.MAX_TIMEOUT_S, low_open=True),
        retries=_retries(fields.get("retries")),
        retry_delay=_number(fields.get("retry_delay"), 0.0, defaults.MAX_RETRY_DELAY_S),
        retry_on=_retry_on(fields.get("retry_on")),
        cwd=_text(fields.get("cwd")),
        env={key: _plain(value) for key, value in env.items()},
        interactive=interactive,
    )


def _plain(value: object) -> str:
    """A string as the model keeps it (no NUL); anything else is the model's to judge."""
    if not isinstance(value, str) or "\0" in value:
        raise _ModelDecides
    return value


def _text(value: object) -> str | None:
    return None if value is None else _plain(value)


def _number(value: object, low: float, high: float, *, low_open: bool = False) -> float | None:
    """``value`` as the float the model makes of it (an int or a float within bounds)."""
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _ModelDecides
    number = float(value)
    inside = (low < number if low_open else low <= number) and number <= high
    if not (math.isfinite(number) and inside):
        raise _ModelDecides
    return number


def _retries(value: object) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= defaults.MAX_RETRIES:
        raise _ModelDecides
    return value


def _retry_on(value: object) -> list[int] | str | None:
    if value is None:
        return None
    if isinstance(value, str) and value:
        try:
            re.compile(value)
        except re.error:
            raise _ModelDecides from None
        return value
    if not isinstance(value, list) or not value:
        raise _ModelDecides
    codes = []
    for code in value:
        if type(code) is not int or not 1 <= code <= 255:
            raise _ModelDecides
        codes.append(code)
    return codes
