"""How a run ends: a cancel request seen, the run finished, or an interrupted stop."""

from __future__ import annotations

from uet import defaults
from uet.engine.model import RunResult
from uet.engine.progress import Progress
from uet.engine.run.book import AttemptBook
from uet.engine.run.tick import Tick
from uet.engine.scheduler import Scheduler
from uet.spec.planned import AbortRunning
from uet.state.records import AttemptResult, TaskUpdate
from uet.state.store import Transaction
from uet.states import AttemptState, RunStatus, TaskStatus

RUN_EVENT = {
    RunStatus.SUCCEEDED: "completed",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELED: "canceled",
}


class Ending:
    """Watches for a cancel request and writes the run's end."""

    def __init__(
        self,
        *,
        book: AttemptBook,
        scheduler: Scheduler,
        progress: Progress,
        run_id: str,
        abort_kills: bool = False,
    ) -> None:
        self.book = book
        self.abort_kills = abort_kills
        self.scheduler = scheduler
        self.progress = progress
        self.run_id = run_id
        self.cancel_requested = False
        self._next_check = 0.0

    @property
    def stopping(self) -> bool:
        """Canceled, or aborted by a task's failure: nothing new starts."""
        return self.cancel_requested or self.scheduler.aborted

    @property
    def kills_running(self) -> bool:
        """Whether what still runs is killed: on a cancel, and on an abort unless the
        aborting task's workstream lets running tasks finish (a plan's, without
        ``--abort-kills``)."""
        if self.cancel_requested:
            return True
        key = self.scheduler.aborted_by
        if key is None:
            return self.scheduler.aborted
        task = self.scheduler.tasks[key]
        return self.abort_kills or task.abort_running is AbortRunning.KILL

    def check_cancel(self, tx: Transaction, now: float) -> None:
        """Has `uet cancel` (from any process) asked for this run to stop?"""
        if self.cancel_requested or now < self._next_check:
            return
        self._next_check = now + defaults.CANCEL_CHECK_INTERVAL_S
        run = tx.get_run(self.run_id)
        if run is not None and run.status in (RunStatus.CANCELING, RunStatus.CANCELED):
            self.cancel_requested = True
            for key in self.scheduler.cancel_pending():
                self.progress.task_done(key, TaskStatus.CANCELED)

    def is_done(self) -> bool:
        if not self.book.idle:
            return False
        if self.stopping:
            return True
        return self.scheduler.finished and not self.book.retries_waiting

    def finish(self, tx: Transaction, tick: Tick, now: float) -> RunResult:
        counts = self.scheduler.counts()
        if self.cancel_requested:
            status = RunStatus.CANCELED
            pending = [k for k, s in self.scheduler.status.items() if s is TaskStatus.CANCELED]
            tick.updates.extend(TaskUpdate(k, TaskStatus.CANCELED, ended_at=now) for k in pending)
        elif counts.get(TaskStatus.FAILED) or counts.get(TaskStatus.CANCELED):
            status = RunStatus.FAILED
        else:
            status = RunStatus.SUCCEEDED
        summary = {s.value: n for s, n in sorted(counts.items())}
        tick.event(f"run.{RUN_EVENT[status]}", {"status": status.value, "tasks": summary})
        tx.set_run_status(self.run_id, status, ended_at=now, summary=summary)
        return RunResult(self.run_id, status, counts)

    def interrupted(self, tx: Transaction, tick: Tick, now: float) -> RunResult:
        """Record what ran as canceled (no retry is used up); the run stays resumable."""
        book = self.book
        results = [
            AttemptResult(attempt_id, AttemptState.CANCELED, now, error="interrupted")
            for attempt_id in sorted(book.live)
        ]
        tx.complete_attempts(results)
        for attempt_id, (key, _) in sorted(book.live.items()):
            tick.event("task.interrupted", task=key, attempt=attempt_id)
            # a canceled attempt is not counted: the budget used is what it was before
            tick.updates.append(TaskUpdate(key, TaskStatus.PENDING, attempts_used=book.used[key]))
        book.live.clear()
        tick.event("run.interrupted")
        tx.set_run_status(self.run_id, RunStatus.INTERRUPTED, ended_at=now)
        return RunResult(self.run_id, RunStatus.INTERRUPTED, self.scheduler.counts())
