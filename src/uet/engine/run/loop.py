"""The facade: :class:`RunLoop` drives one run, tick by tick, through its rooms."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from uet.clock import Clock
from uet.contain.paths import inside
from uet.engine.logpaths import logs_dir
from uet.engine.model import RunOptions, RunResult
from uet.engine.progress import NullProgress, Progress
from uet.engine.run.book import AttemptBook
from uet.engine.run.dispatch import CommandLauncher, Dispatcher, ToolLauncher
from uet.engine.run.ending import Ending
from uet.engine.run.pacing import Pacing, RealTime, Waves
from uet.engine.run.settle import Settler
from uet.engine.run.tick import Heartbeat, Tick
from uet.engine.scheduler import Scheduler
from uet.engine.tooltasks import ToolTasks
from uet.errors import StorageFault
from uet.events.bus import EventBus
from uet.execution.api import Executor, Finished, Job, OutputSink, Report, Started
from uet.spec.planned import PlannedTask
from uet.state.store import Store, Transaction

ExecutorFactory = Callable[[OutputSink, Clock], Executor]


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a run loop works with, besides its tasks."""

    store: Store
    bus: EventBus
    executor_factory: ExecutorFactory
    clock: Clock
    run_id: str
    options: RunOptions
    root: Path
    home: Path
    progress: Progress = field(default_factory=NullProgress)
    base_env: Mapping[str, str] = field(default_factory=dict)
    secrets: Sequence[str] = ()  # masked in every task's output (contain.env.known_secrets)
    interrupted: threading.Event = field(default_factory=threading.Event)
    tool_tasks: ToolTasks | None = None
    lock_timeout: float | None = None  # seconds a tick waits for the database's write lock


class RunLoop:
    """Drives one run to its end. Build it with the plan's tasks (new run or resumed)."""

    def __init__(
        self,
        context: RunContext,
        tasks: Sequence[PlannedTask],
        *,
        workstream_limits: Mapping[str, int],
        used: Mapping[str, int] | None = None,
        numbered: Mapping[str, int] | None = None,
    ) -> None:
        self.context = context
        self.store = context.store
        self.bus = context.bus
        self.clock = context.clock
        self.run_id = context.run_id
        self.options = context.options
        self.progress = context.progress
        self.tool_tasks = context.tool_tasks
        self._interrupted = context.interrupted
        self.book = AttemptBook(used, numbered)
        pacing_type: type[Pacing] = Waves if self.options.deterministic else RealTime
        self.pacing = pacing_type(self.run_id, self.bus, self.book)
        # Processes at once are capped by the executor (-j); the scheduler may hand it up to
        # `ahead` more per slot, so that a slot never waits for the engine's next tick.
        concurrency = self.options.concurrency
        self.scheduler = Scheduler(
            tasks,
            concurrency=concurrency + self.pacing.ahead(tasks) * concurrency,
            workstream_limits=workstream_limits,
        )
        self.tasks = self.scheduler.tasks  # key -> task
        self.ending = Ending(
            book=self.book,
            scheduler=self.scheduler,
            progress=self.progress,
            run_id=self.run_id,
            abort_kills=self.options.abort_kills,
        )
        self.settler = Settler(
            book=self.book,
            scheduler=self.scheduler,
            tasks=self.tasks,
            pacing=self.pacing,
            progress=self.progress,
            run_id=self.run_id,
            stopping=lambda: self.ending.stopping,
            tool_tasks=self.tool_tasks,
        )
        self.dispatcher = Dispatcher(
            book=self.book,
            scheduler=self.scheduler,
            run_id=self.run_id,
            logs=inside(context.home, logs_dir(context.home, self.run_id)),  # no link out
            base_env=context.base_env,
            commands=CommandLauncher(context.root, self.options.stdio, self.options.kill_grace),
            tools=ToolLauncher(
                self.tool_tasks, self.settler, context.root, self.options.kill_grace
            ),
            secrets=context.secrets,
        )
        self._heartbeat = Heartbeat()
        self.executor = context.executor_factory(self.pacing.on_output, self.clock)
        self.pacing.executor = self.executor

    @property
    def used(self) -> dict[str, int]:
        """Attempts each task has used against its retry budget."""
        return self.book.used

    # -- the loop ---------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Stop soon, leaving the run resumable (Ctrl-C, SIGTERM). Safe from any thread."""
        self._interrupted.set()

    def run(self) -> RunResult:
        """Loop until every task is done, the run is canceled, or it is interrupted."""
        try:
            with self.store.pinned(abort=self._interrupted, lock_timeout=self.context.lock_timeout):
                try:
                    return self._loop()
                finally:
                    if self.tool_tasks is not None:
                        self.tool_tasks.close()  # the router's state and decisions, written
        finally:
            self.executor.close()

    def _loop(self) -> RunResult:
        reports: list[Report] = []
        while True:
            if self._interrupted.is_set():
                return self._stop_interrupted()
            jobs, done = self._commit_tick(reports)
            for job in jobs:
                self.executor.submit(job)
            if done is not None:
                return done
            next_retry = self.book.next_retry()
            retry_in = None if next_retry is None else next_retry - self.clock.now()
            reports = self.pacing.wait(self._interrupted, retry_in)

    def _commit_tick(self, reports: list[Report]) -> tuple[list[Job], RunResult | None]:
        """One tick, in this order: outcomes, due retries, new attempts, the run's end."""
        if self.bus.fault is not None:
            raise self.bus.fault  # the database cannot take writes: end the run (exit 3)
        tick = Tick(self.run_id, self.clock)
        now = self.clock.now()
        self.pacing.before_tick(reports, self._interrupted)
        jobs: list[Job] = []
        done: RunResult | None = None
        ending = self.ending
        with self.store.transaction() as tx:
            ending.check_cancel(tx, now)
            self._apply_reports(tx, tick, reports, now)
            self._requeue_due(now)
            if not ending.cancel_requested:
                jobs = self.dispatcher.dispatch(tx, tick, now)
            if ending.stopping and self.book.live and ending.kills_running:
                for attempt_id in sorted(self.book.live):
                    self.executor.cancel(attempt_id)
            if ending.is_done():
                done = ending.finish(tx, tick, now)
            tick.write(tx, self._heartbeat)
        if done is not None:
            self.store.check_file()  # the end is committed where the user looks for it
        self.bus.deliver_committed(tick.events, tick.seqs)
        _raise_log_fault(reports)
        self.progress.tick(self.scheduler.counts(), [t.key for t in jobs])
        return jobs, done

    def _apply_reports(
        self, tx: Transaction, tick: Tick, reports: list[Report], now: float
    ) -> None:
        pacing = self.pacing
        tick.started.extend(pacing.starts(reports))
        started = {r.attempt_id: r for r in reports if isinstance(r, Started)}
        finished = [r for r in reports if isinstance(r, Finished)]
        for report in finished:
            pacing.finished_output(tick, report.attempt_id)
        results = [pacing.result(r, started.get(r.attempt_id), now) for r in finished]
        accepted = set(tx.complete_attempts(results))
        for report in finished:
            if report.attempt_id in accepted:
                self.settler.settle(tick, report.attempt_id, report.outcome, now)
            else:  # fenced: `uet cancel` settled it already
                self.settler.fenced(report.attempt_id)

    def _requeue_due(self, now: float) -> None:
        for key in self.book.due(now, all_of_them=not self.pacing.retries_wait):
            if not self.ending.stopping:
                self.scheduler.requeue(key)

    def _stop_interrupted(self) -> RunResult:
        """Kill what runs, record it canceled (no retry is used up), leave it resumable."""
        self.bus.give_up_retrying()  # a signal: no waiting out a failing database
        self.executor.close()
        now = self.clock.now()
        tick = Tick(self.run_id, self.clock)
        with self.store.transaction() as tx:
            result = self.ending.interrupted(tx, tick, now)
            tick.write(tx, self._heartbeat)
        self.bus.deliver_committed(tick.events, tick.seqs)
        return result


def _raise_log_fault(reports: Sequence[Report]) -> None:
    """A task's output could not all go to its log file (disk full, read-only, gone): the
    run ends (exit 3) once the tick holding that task's outcome is committed, as for the
    database — output a user will look for must not be lost quietly."""
    for report in reports:
        if isinstance(report, Finished) and report.outcome.log_error is not None:
            raise StorageFault(f"the logs: {report.outcome.log_error}")
