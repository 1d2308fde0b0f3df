"""An attempt's outcome becomes the task's verdict: succeeded, canceled, a retry later, a
fall back to the next tool, or failed — a value first, then applied to the tick."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from uet.backoff import compute_backoff
from uet.engine.progress import Progress
from uet.engine.run.book import AttemptBook
from uet.engine.run.pacing import Pacing
from uet.engine.run.tick import Tick
from uet.engine.scheduler import Scheduler
from uet.engine.tooltasks import CANNOT_START_EXIT, ToolTasks
from uet.execution.api import Outcome
from uet.execution.prompts import waited_for_input
from uet.spec.planned import PlannedTask, RetryBackoff
from uet.state.records import DecisionRecord, TaskUpdate
from uet.states import AttemptState, TaskStatus

if TYPE_CHECKING:
    from uet.routing import Transition

RETRY_DELAY_CAP_S = 300.0


class Verdict(enum.Enum):
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
    RETRY = "retry"
    FAILED = "failed"


def verdict(
    outcome: Outcome,
    *,
    used: int,
    max_attempts: int,
    stopping: bool,
    retry_on: tuple[int, ...] | str | None = None,
) -> Verdict:
    """What an outcome means for its task, ``used`` attempts of ``max_attempts`` spent: a
    ``needs_input`` attempt is never retried (nobody will answer the next one either), and
    with ``retry_on`` only the failures it names are."""
    if outcome.state is AttemptState.SUCCEEDED:
        return Verdict.SUCCEEDED
    if outcome.state is AttemptState.CANCELED:
        return Verdict.CANCELED
    if outcome.state is AttemptState.NEEDS_INPUT:
        return Verdict.FAILED
    if used < max_attempts and not stopping and retryable(outcome, retry_on):
        return Verdict.RETRY
    return Verdict.FAILED


def retryable(outcome: Outcome, retry_on: tuple[int, ...] | str | None) -> bool:
    """Whether ``retry_on`` lets this failure be retried: its exit status (128+N when
    signal N killed it) is one of the codes, or the regex is found in its output's tail
    (the last ``OUTPUT_TAIL_BYTES``). Without ``retry_on`` every failure is."""
    if retry_on is None:
        return True
    if isinstance(retry_on, str):
        return re.search(retry_on, outcome.output_tail, re.MULTILINE) is not None
    code = outcome.exit_code
    if code is None:
        return False
    return (128 - code if code < 0 else code) in retry_on


def retry_delay(task: PlannedTask, number: int, pacing: Pacing) -> float:
    """Seconds before the retry after attempt ``number`` (0 when the task's delay is 0):
    ``retry_delay`` every time for a fixed backoff (the originals' plans), else growing."""
    if task.retry_backoff is RetryBackoff.FIXED:
        return task.retry_delay
    return compute_backoff(number, base=task.retry_delay, cap=RETRY_DELAY_CAP_S, rng=pacing.rng)


class Settler:
    """Applies outcomes: events, task rows, the scheduler, retries, tool fallbacks."""

    def __init__(
        self,
        *,
        book: AttemptBook,
        scheduler: Scheduler,
        tasks: Mapping[str, PlannedTask],
        pacing: Pacing,
        progress: Progress,
        run_id: str,
        stopping: Callable[[], bool],
        tool_tasks: ToolTasks | None,
    ) -> None:
        self.book = book
        self.scheduler = scheduler
        self.tasks = tasks
        self.pacing = pacing
        self.progress = progress
        self.run_id = run_id
        self.stopping = stopping
        self.tool_tasks = tool_tasks

    def settle(self, tick: Tick, attempt_id: int, outcome: Outcome, now: float) -> None:
        """The accepted outcome of a live attempt."""
        entry = self.book.closed(attempt_id)
        assert entry is not None  # noqa: S101 - only live attempts are settled
        key, number = entry
        task = self.tasks[key]
        if self.tool_tasks is not None and self._tool_fallback(
            tick, task, attempt_id, outcome, now
        ):
            return  # the tool was rate-limited: the next tool of the chain, no retry spent
        used = self.book.used[key]
        if outcome.state is not AttemptState.CANCELED:
            used = self.book.count(key)
        payload = {
            "attempt": number,
            "outcome": outcome.state.value,
            "exit_code": outcome.exit_code,
        }
        match verdict(
            outcome,
            used=used,
            max_attempts=task.max_attempts,
            stopping=self.stopping(),
            retry_on=task.retry_on,
        ):
            case Verdict.SUCCEEDED:
                tick.event("task.completed", payload, task=key, attempt=attempt_id)
                self._update(tick, key, TaskStatus.SUCCEEDED, outcome, now)
                self.mark_ready(tick, self.scheduler.succeed(key))
            case Verdict.CANCELED:
                tick.event("task.canceled", payload, task=key, attempt=attempt_id)
                self._update(tick, key, TaskStatus.CANCELED, outcome, now)
                self.scheduler.cancel(key)  # its dependents cannot run; the run is ending
            case Verdict.RETRY:
                self._schedule_retry(tick, task, used, outcome, now)
            case Verdict.FAILED:
                payload["error"] = outcome.error
                payload["needs_input"] = _prompt_of(outcome)
                tick.event("task.failed", payload, task=key, attempt=attempt_id)
                self._update(tick, key, TaskStatus.FAILED, outcome, now)
                self._fail(tick, key, now)

    def fenced(self, attempt_id: int) -> None:
        """An outcome the store refused: `uet cancel` settled the attempt already."""
        entry = self.book.closed(attempt_id)
        if entry is not None:
            self.scheduler.cancel(entry[0])

    def mark_ready(self, tick: Tick, keys: Sequence[str]) -> None:
        for key in keys:
            tick.event("task.ready", task=key)

    def breaker_events(
        self, tick: Tick, transitions: Sequence[Transition], key: str, attempt_id: int | None
    ) -> None:
        for moved in transitions:
            payload = {"tool": moved.tool, "from": moved.before.value, "reason": moved.reason}
            tick.event(moved.event_type, payload, task=key, attempt=attempt_id)

    def retry_later(
        self,
        tick: Tick,
        task: PlannedTask,
        due: float,
        decision: DecisionRecord,
        payload: dict[str, Any],
    ) -> None:
        """Run ``task`` again at ``due``: recorded as ``decision`` and a task.retrying event."""
        self.book.retry_at(due, task.key)
        self.scheduler.retry_later(task.key)
        tick.decisions.append(decision)
        tick.event("task.retrying", payload, task=task.key)
        tick.updates.append(
            TaskUpdate(task.key, TaskStatus.PENDING, attempts_used=self.book.used[task.key])
        )

    # -- the verdicts -----------------------------------------------------------------------

    def _fail(self, tick: Tick, key: str, now: float) -> None:
        ready, skipped = self.scheduler.fail(key)
        self.mark_ready(tick, ready)
        for dependent in skipped:
            tick.event("task.skipped", {"because": key}, task=dependent)
            tick.updates.append(TaskUpdate(dependent, TaskStatus.SKIPPED, ended_at=now))
        if self.scheduler.aborted:
            for canceled in self.scheduler.cancel_pending():
                tick.event("task.canceled", {"because": key}, task=canceled)
                tick.updates.append(TaskUpdate(canceled, TaskStatus.CANCELED, ended_at=now))

    def _schedule_retry(
        self, tick: Tick, task: PlannedTask, number: int, outcome: Outcome, now: float
    ) -> None:
        delay = retry_delay(task, number, self.pacing)
        if self.tool_tasks is not None:  # a named tool whose breaker opened: wait it out
            delay = max(delay, self.tool_tasks.wait_before_retry(task, now))
        budget = f"attempt {number} of {task.max_attempts}"
        decision = DecisionRecord(
            category="retry",
            chosen="retry",
            reason=f"{outcome.state.value} on {budget}",
            ts=now,
            run_id=self.run_id,
            task_id=task.key,
            alternatives=["retry", "fail"],
            data={"delay": round(delay, 3)},
        )
        payload = {"attempt": number, "outcome": outcome.state.value, "delay": round(delay, 3)}
        self.retry_later(tick, task, now + delay, decision, payload)

    def _tool_fallback(
        self, tick: Tick, task: PlannedTask, attempt_id: int, outcome: Outcome, now: float
    ) -> bool:
        """Record a tool attempt's outcome with the router; True when the task goes to the
        next tool of its chain (the tool was rate-limited, out of quota, or could not start)."""
        assert self.tool_tasks is not None  # noqa: S101 - the caller checks
        latency = outcome.ended_at - (outcome.started_at or outcome.ended_at)
        tool, transitions, fallback = self.tool_tasks.finished(attempt_id, task, outcome, latency)
        self.breaker_events(tick, transitions, task.key, attempt_id)
        if not fallback or self.stopping():  # only a routed task falls back
            return False
        decision = DecisionRecord(
            category="fallback",
            chosen="next tool",
            reason=f"{tool} {_why_fallback(outcome)}; no retry is spent",
            ts=now,
            run_id=self.run_id,
            task_id=task.key,
            alternatives=["next tool", "retry", "fail"],
            data={"tool": tool, "excluded": sorted(self.tool_tasks.excluded[task.key])},
        )
        number = self.book.numbered[task.key]
        cannot_start = outcome.exit_code == CANNOT_START_EXIT
        payload = {
            "attempt": number,
            "outcome": "cannot_start" if cannot_start else "rate_limited",
            "fallback": tool,
        }
        self.retry_later(tick, task, now, decision, payload)
        return True

    def _update(
        self, tick: Tick, key: str, status: TaskStatus, outcome: Outcome, now: float
    ) -> None:
        tick.updates.append(
            TaskUpdate(
                key,
                status,
                outcome=outcome.state,
                exit_code=outcome.exit_code,
                attempts_used=self.book.used[key],
                ended_at=now,
            )
        )
        self.progress.task_done(key, status)


def _prompt_of(outcome: Outcome) -> str | None:
    """The prompt a ``needs_input`` attempt waited at (``task.failed``'s ``needs_input``)."""
    if outcome.state is not AttemptState.NEEDS_INPUT:
        return None
    return waited_for_input(outcome.output_tail, succeeded=outcome.exit_code == 0)


def _why_fallback(outcome: Outcome) -> str:
    if outcome.exit_code == CANNOT_START_EXIT:
        return f"could not start (exit {CANNOT_START_EXIT}: its program was not found)"
    return "was rate-limited or out of quota"
