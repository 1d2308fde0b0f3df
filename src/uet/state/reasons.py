"""Why a task did not succeed, in one line a user can act on.

One function, :func:`attempt_reason`, turns a recorded attempt (its state, exit code, error and
output tail) and its task's stored document into that line; ``uet run``'s summary,
``uet status`` and reports all show it, so the wording lives here and only here::

    timed out after 600 s (killed the process group)
    could not start: 'pytst' not found on PATH
    cwd 'src/x' does not exist
    needs input (password: Password:): it waited for an answer; never retried
    exited 1                        (plus the last lines of its output: :func:`output_tail`)

:func:`task_failures` reads what a run's summary needs in two queries (the failed tasks and
their attempts), whatever the size of the run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from uet.states import AttemptState, TaskStatus

if TYPE_CHECKING:
    from uet.state.reads import Reads
    from uet.state.records import AttemptRecord, TaskRecord

TAIL_LINES = 5
"""Lines of output shown under a task that exited non-zero."""

EXIT_NOT_FOUND = 127
"""What a POSIX shell exits with when the command it was given is not found."""

_SHELL_NOT_FOUND = re.compile(
    r"^(?:/bin/|/usr/bin/)?(?:sh|bash|dash):(?: line)? \d+: "
    r"(?P<program>[^:]+?): (?:command )?not found$"
)
_CWD = re.compile(r"^cwd (?P<q>['\"])(?P<path>.*?)(?P=q) (?P<rest>.*)$")


_WITH_TAIL = (AttemptState.FAILED, AttemptState.NEEDS_INPUT)


@dataclass(frozen=True, slots=True)
class Failure:
    """A task that did not succeed, as a summary shows it."""

    task_id: str
    status: TaskStatus
    reason: str
    tail: tuple[str, ...] = ()  # last lines of output, for a task that exited non-zero
    attempts: int = 0

    def hint(self, run_id: str) -> str:
        """The command that shows everything the task printed."""
        return f"uet logs {run_id} {self.task_id}"

    def to_dict(self, run_id: str) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "status": self.status.value,
            "reason": self.reason,
            "tail": list(self.tail),
            "attempts": self.attempts,
            "logs": self.hint(run_id),
        }


def attempt_reason(  # noqa: PLR0911 - one return per attempt state
    attempt: AttemptRecord, document: Mapping[str, Any] | None = None
) -> str:
    """One line saying how ``attempt`` ended; ``document`` is its task's stored ``spec``
    (for the timeout and the cwd as the user wrote them)."""
    document = document or {}
    state, error = attempt.state, (attempt.error or "").strip()
    if state is AttemptState.TIMED_OUT:
        return _timed_out(error, document)
    if state is AttemptState.ERROR:
        return _could_not_start(error, document)
    if state is AttemptState.FAILED:
        return _failed(attempt)
    if state is AttemptState.NEEDS_INPUT:
        what = error.split(";", 1)[0] if error.startswith("needs input") else "needs input"
        return f"{what}: it waited for an answer nobody gives here; never retried"
    if state is AttemptState.LOST:
        return f"lost: {error}" if error else "lost"
    if state is AttemptState.CANCELED:
        return error if error and error != "canceled" else "canceled"
    return state.value


def output_tail(attempt: AttemptRecord, lines: int = TAIL_LINES) -> tuple[str, ...]:
    """The last ``lines`` non-blank lines the attempt printed (only for an exit ≠ 0)."""
    if attempt.state not in _WITH_TAIL or not attempt.output_tail:
        return ()
    kept = [line.rstrip() for line in attempt.output_tail.splitlines() if line.strip()]
    if attempt.exit_code == EXIT_NOT_FOUND and _shell_not_found(kept) is not None:
        return ()  # the reason already says it
    return tuple(kept[-lines:])


def task_reason(task: TaskRecord, attempt: AttemptRecord | None) -> str:
    """Why ``task`` did not succeed: its deciding attempt's reason, or what its status says."""
    if task.status is TaskStatus.SKIPPED:
        return "skipped: a task it depends on did not succeed"
    if attempt is None:
        return task.status.value if task.outcome is None else task.outcome.value
    return attempt_reason(attempt, task.spec)


def failures(tasks: Sequence[TaskRecord], attempts: Sequence[AttemptRecord]) -> list[Failure]:
    """The failed tasks among ``tasks``, each with its last attempt's reason (canceled and
    skipped tasks are the user's doing or a consequence: a status line says them)."""
    last: dict[str, AttemptRecord] = {}
    for attempt in attempts:  # in id order: the last one wins
        last[attempt.task_id] = attempt
    found = []
    for task in tasks:
        if task.status is not TaskStatus.FAILED:
            continue
        deciding = last.get(task.id)
        found.append(
            Failure(
                task.id,
                task.status,
                task_reason(task, deciding),
                () if deciding is None else output_tail(deciding),
                task.attempts_used,
            )
        )
    return found


def task_failures(tx: Reads, run_id: str) -> list[Failure]:
    """:func:`failures` of a run, read in two queries."""
    tasks = tx.get_tasks(run_id, statuses=[TaskStatus.FAILED])
    if not tasks:
        return []
    finished = [s for s in AttemptState if s.finished and s is not AttemptState.SUCCEEDED]
    return failures(tasks, tx.get_attempts(run_id, states=finished))


def _timed_out(error: str, document: Mapping[str, Any]) -> str:
    timeout = document.get("timeout")
    if isinstance(timeout, int | float) and not isinstance(timeout, bool):
        return f"timed out after {timeout:g} s (killed the process group)"
    return error.split(";", 1)[0] or "timed out (killed the process group)"


def _could_not_start(error: str, document: Mapping[str, Any]) -> str:
    match = _CWD.match(error)
    if match is None:
        return f"could not start: {error}" if error else "could not start"
    written = document.get("cwd")
    path = match["path"]
    if isinstance(written, str) and written and path.endswith(written.rstrip("/")):
        path = written  # as the user wrote it, not the absolute path it became
    return f"cwd {path!r} {match['rest']}"


def _failed(attempt: AttemptRecord) -> str:
    code = attempt.exit_code
    if code is None:
        return "failed"
    if code < 0:
        return attempt.error or f"killed by signal {-code}"
    if code == EXIT_NOT_FOUND:
        lines = [line.rstrip() for line in (attempt.output_tail or "").splitlines() if line.strip()]
        program = _shell_not_found(lines)
        if program is not None:
            return f"could not start: {program!r} not found on PATH"
    return f"exited {code}"


def _shell_not_found(lines: Sequence[str]) -> str | None:
    """The program of ``sh: 1: pytst: not found``, when that is the last line printed."""
    if not lines:
        return None
    match = _SHELL_NOT_FOUND.match(lines[-1])
    return None if match is None else match["program"]
