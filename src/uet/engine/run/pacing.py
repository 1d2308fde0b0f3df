"""How the loop paces itself: in real time, or in deterministic waves (one strategy, chosen
once, instead of a ``deterministic`` branch in every room).

- :class:`RealTime` records what happens as it happens: starts with their pids, outcomes with
  their real times, output on the bus as it comes, retries when they are due, and dispatches
  ahead of free slots so a slot never waits for the next tick.
- :class:`Waves` dispatches the ready tasks (smallest keys first), waits for all of them, then
  records their outcomes sorted by key, stamped by the engine's own clock, with each task's
  output in the tick of its outcome. Real timing then cannot change the event log.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from uet import defaults
from uet.engine.run.book import AttemptBook
from uet.engine.run.tick import Tick
from uet.events.bus import EventBus
from uet.execution.api import Executor, Finished, Report, Started
from uet.spec.planned import OnFailure, PlannedTask
from uet.state.records import AttemptResult

START_RECORD_S = 0.05
"""Seconds at most that process starts wait for an outcome to share a tick with: a start
alone is not worth a transaction (its attempt is on disk already, as dispatched)."""


class Pacing:
    """What differs between real time and waves; the loop asks, never checks the mode."""

    deterministic = False

    def __init__(self, run_id: str, bus: EventBus, book: AttemptBook) -> None:
        self.run_id = run_id
        self.bus = bus
        self.book = book
        self.executor: Executor | None = None  # set by the loop once it is built
        self.rng = random.Random()  # noqa: S311 - retry jitter only: no security rests on it

    def ahead(self, tasks: Sequence[PlannedTask]) -> int:
        """Tasks per slot that the scheduler may hand the executor beyond ``-j``."""
        return 0

    def on_output(self, attempt_id: int, lines: Sequence[str]) -> None:
        """Output lines of a live attempt (called on the executor's thread)."""
        raise NotImplementedError

    def before_tick(self, reports: Sequence[Report], interrupted: threading.Event) -> None:
        """Called before the tick that records ``reports`` opens its transaction."""

    def wait(self, interrupted: threading.Event, retry_in: float | None) -> list[Report]:
        """The reports of the next tick; ``retry_in``: seconds until the first retry is due."""
        raise NotImplementedError

    def starts(self, reports: Sequence[Report]) -> list[Started]:
        """The process starts to record (those of attempts not finished in the same tick)."""
        finished = {r.attempt_id for r in reports if isinstance(r, Finished)}
        return [r for r in reports if isinstance(r, Started) and r.attempt_id not in finished]

    def result(self, report: Finished, started: Started | None, now: float) -> AttemptResult:
        outcome = report.outcome
        return AttemptResult(
            attempt_id=report.attempt_id,
            state=outcome.state,
            ended_at=outcome.ended_at,
            exit_code=outcome.exit_code,
            output_tail=outcome.output_tail or None,
            error=outcome.error,
            pid=None if started is None else started.pid,
            pgid=None if started is None else started.pgid,
            started_at=None if started is None else started.at,
        )

    def finished_output(self, tick: Tick, attempt_id: int) -> None:
        """Output of a finished attempt that belongs in the tick of its outcome."""

    @property
    def retries_wait(self) -> bool:
        """Whether a retry waits for its delay (waves take every retry in the next wave)."""
        return True

    def output_events(
        self, attempt_id: int, lines: Sequence[str]
    ) -> Iterator[tuple[str | None, dict[str, Any]]]:
        """The ``task.output`` payloads of ``lines``, at most OUTPUT_EVENT_LINES each."""
        key = self.book.key_of(attempt_id)
        for start in range(0, len(lines), defaults.OUTPUT_EVENT_LINES):
            yield key, {"lines": list(lines[start : start + defaults.OUTPUT_EVENT_LINES])}


class RealTime(Pacing):
    def __init__(self, run_id: str, bus: EventBus, book: AttemptBook) -> None:
        super().__init__(run_id, bus, book)
        self._output_pending = False

    def ahead(self, tasks: Sequence[PlannedTask]) -> int:
        # Not with an `abort` task: a queued task would start before the engine sees the
        # failure.
        aborting = any(task.on_failure is OnFailure.ABORT for task in tasks)
        return 0 if aborting else defaults.DISPATCH_AHEAD

    def on_output(self, attempt_id: int, lines: Sequence[str]) -> None:
        for key, payload in self.output_events(attempt_id, lines):
            self.bus.emit(
                "task.output", payload, run_id=self.run_id, task_id=key, attempt_id=attempt_id
            )
        self._output_pending = True

    def before_tick(self, reports: Sequence[Report], interrupted: threading.Event) -> None:
        if self._output_pending and _any_finished(reports):
            self._output_pending = False
            # output of a finished task is durable before its outcome (a signal cuts the
            # wait short; a storage fault raises)
            self.bus.flush(abort=interrupted)

    def wait(self, interrupted: threading.Event, retry_in: float | None) -> list[Report]:
        executor = self.executor
        assert executor is not None  # noqa: S101 - the loop sets it before it waits
        timeout = defaults.CANCEL_CHECK_INTERVAL_S
        if retry_in is not None:
            timeout = max(0.0, min(timeout, retry_in))
        reports = executor.poll(timeout)
        if reports and executor.running():
            # Gather what else finishes in the next moment: one tick (one transaction) for
            # several tasks costs far less than one each, and dependents wait only this long.
            reports.extend(executor.poll(defaults.TICK_GATHER_S))
            if not self.book.immediate and not _any_finished(reports):
                self._gather_outcome(reports, min(timeout, START_RECORD_S), interrupted)
        reports.extend(self.book.take_immediate())
        return reports

    def _gather_outcome(
        self, reports: list[Report], seconds: float, interrupted: threading.Event
    ) -> None:
        """Only starts so far: wait up to ``seconds`` for an outcome to record them with."""
        executor = self.executor
        assert executor is not None  # noqa: S101
        until = time.monotonic() + seconds
        while executor.running() and not interrupted.is_set():
            left = until - time.monotonic()
            if left <= 0:
                return
            more = executor.poll(left)
            reports.extend(more)
            if _any_finished(more):
                reports.extend(executor.poll(defaults.TICK_GATHER_S))
                return


class Waves(Pacing):
    deterministic = True

    def __init__(self, run_id: str, bus: EventBus, book: AttemptBook) -> None:
        super().__init__(run_id, bus, book)
        self.rng = random.Random(0)  # noqa: S311 - fixed: two runs draw the same jitter
        self._buffered: dict[int, list[str]] = defaultdict(list)

    def on_output(self, attempt_id: int, lines: Sequence[str]) -> None:
        self._buffered[attempt_id].extend(lines)

    def wait(self, interrupted: threading.Event, retry_in: float | None) -> list[Report]:
        executor = self.executor
        assert executor is not None  # noqa: S101
        reports: list[Report] = list(self.book.take_immediate())
        while executor.running() and not interrupted.is_set():
            reports.extend(executor.poll(defaults.CANCEL_CHECK_INTERVAL_S))
        # Started reports carry real pids and times: not recorded in this mode.
        finished: list[Report] = [r for r in reports if isinstance(r, Finished)]
        live = self.book.live
        finished.sort(key=lambda r: live[r.attempt_id])
        return finished

    def starts(self, reports: Sequence[Report]) -> list[Started]:
        return []

    def result(self, report: Finished, started: Started | None, now: float) -> AttemptResult:
        outcome = report.outcome
        return AttemptResult(
            attempt_id=report.attempt_id,
            state=outcome.state,
            ended_at=now,
            exit_code=outcome.exit_code,
            output_tail=outcome.output_tail or None,
            error=outcome.error,
        )

    def finished_output(self, tick: Tick, attempt_id: int) -> None:
        lines = self._buffered.pop(attempt_id, [])
        for key, payload in self.output_events(attempt_id, lines):
            tick.event("task.output", payload, task=key, attempt=attempt_id)

    @property
    def retries_wait(self) -> bool:
        return False


def _any_finished(reports: Sequence[Report]) -> bool:
    return any(type(report) is Finished for report in reports)
