"""One command run as a recorded run: what ``uet exec`` (and ``uet scripts run``) call.

::

    plan = one_command_plan(argv=["make", "test"], timeout=600, retries=2)
    result = run_command(plan, settings=s, store=store, stdio=Stdio.PASSTHROUGH)
    sys.exit(result.exit_code)

The run is an ordinary run (``uet status/logs/events RUN`` work on it). Its exit code is the
command's own, as a shell reports it, with the conventions of ``timeout(1)`` and ``env(1)``
where the command has none of its own:

====================================  =========================================
how the last attempt ended            exit code
====================================  =========================================
exited N                              N
killed by signal N                    128 + N
timed out (``--timeout``)             124
needs_input, having exited 0          1 (the question it asked got no answer)
could not start: not found            127
could not start: other reasons        126
interrupted (Ctrl-C, SIGTERM)         130 (the run stays resumable)
====================================  =========================================
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uet.config import Settings
from uet.engine.api import start_run
from uet.engine.logpaths import log_path
from uet.engine.model import RunOptions
from uet.errors import ExitCode
from uet.execution.api import Stdio
from uet.execution.prompts import waited_for_input
from uet.spec.planned import Plan
from uet.state.reasons import attempt_reason
from uet.state.records import AttemptRecord
from uet.state.store import Store
from uet.states import AttemptState, RunStatus

EXIT_TIMED_OUT = 124
"""Exit code of a command stopped at its timeout (as ``timeout(1)``)."""

EXIT_CANNOT_RUN = 126
"""Exit code of a command that could not be run (not executable, bad cwd), as a shell."""

EXIT_NOT_FOUND = 127
"""Exit code of a command whose program was not found, as a shell."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a one-command run ended (``uet exec --json`` prints :meth:`to_dict`)."""

    run_id: str
    task_id: str
    status: RunStatus
    exit_code: int
    outcome: AttemptState | None  # the last attempt's state
    command_exit: int | None  # the command's own status (negative: killed by that signal)
    attempts: int
    duration: float | None  # seconds, first start to last end
    log_path: Path
    reason: str | None  # why it did not succeed, as `uet status` says it
    needs_input: str | None  # the prompt it waited at

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "task_id": self.task_id,
            "status": self.status.value,
            "exit_code": self.exit_code,
            "outcome": None if self.outcome is None else self.outcome.value,
            "command_exit": self.command_exit,
            "attempts": self.attempts,
            "duration": None if self.duration is None else round(self.duration, 6),
            "log_path": str(self.log_path),
            "reason": self.reason,
            "needs_input": self.needs_input,
        }


def run_command(
    plan: Plan,
    *,
    settings: Settings,
    store: Store,
    stdio: Stdio = Stdio.PASSTHROUGH,
    name: str | None = None,
    run_id: str | None = None,
    interrupted: threading.Event | None = None,
) -> CommandResult:
    """Run the one task of ``plan`` (``one_command_plan``) to its end and say how it ended."""
    (task,) = plan.tasks
    options = RunOptions.make(concurrency=1, deterministic=False, run_id=run_id)
    options = dataclasses.replace(options, name=name or task.spec.name or task.id, stdio=stdio)
    result = start_run(plan, settings=settings, store=store, options=options,
                       interrupted=interrupted)  # fmt: skip
    with store.reader() as tx:
        attempts = tx.get_attempts(result.run_id, task_id=task.key)
    last = attempts[-1] if attempts else None
    return CommandResult(
        run_id=result.run_id,
        task_id=task.key,
        status=result.status,
        exit_code=exit_code_of(result.status, last),
        outcome=None if last is None else last.state,
        command_exit=None if last is None else last.exit_code,
        attempts=sum(a.state is not AttemptState.CANCELED for a in attempts) or len(attempts),
        duration=_duration(attempts),
        log_path=log_path(settings.home, result.run_id, task.key),
        reason=None if last is None or last.state is AttemptState.SUCCEEDED
        else attempt_reason(last, {"timeout": task.timeout}),
        needs_input=_prompt(last),
    )  # fmt: skip


def exit_code_of(  # noqa: PLR0911 - one return per row of the table
    status: RunStatus, last: AttemptRecord | None
) -> int:
    """The exit code of a one-command run (the table of the module docstring)."""
    if status is RunStatus.INTERRUPTED:
        return int(ExitCode.INTERRUPTED)
    if last is None:
        return int(ExitCode.FAILED) if status is not RunStatus.SUCCEEDED else int(ExitCode.OK)
    if last.state is AttemptState.ERROR:
        error = last.error or ""
        missing = "not found" in error or ("does not exist" in error and "cwd" not in error)
        return EXIT_NOT_FOUND if missing else EXIT_CANNOT_RUN
    if last.state is AttemptState.TIMED_OUT or (
        last.state is AttemptState.NEEDS_INPUT and "timed out" in (last.error or "")
    ):
        return EXIT_TIMED_OUT
    code = last.exit_code
    if code is None:
        return int(ExitCode.FAILED)
    if code < 0:
        return 128 - code
    if code == 0 and last.state is not AttemptState.SUCCEEDED:
        return int(ExitCode.FAILED)
    return code


def _duration(attempts: list[AttemptRecord]) -> float | None:
    starts = [a.started_at for a in attempts if a.started_at is not None]
    ends = [a.ended_at for a in attempts if a.ended_at is not None]
    if not starts or not ends:
        return None
    return max(ends) - min(starts)


def _prompt(last: AttemptRecord | None) -> str | None:
    if last is None or last.state is not AttemptState.NEEDS_INPUT:
        return None
    found = waited_for_input(last.output_tail or "", succeeded=last.exit_code == 0)
    if found is None and (last.error or "").startswith(NEEDS_INPUT_PREFIX):
        found = (last.error or "")[len(NEEDS_INPUT_PREFIX) :].split(")", 1)[0]  # stdin: …
    return found


NEEDS_INPUT_PREFIX = "needs input ("
"""How the executor's error of a ``needs_input`` attempt starts (then the prompt)."""
