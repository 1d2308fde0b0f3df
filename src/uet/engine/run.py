"""The run loop: a Plan becomes a finished run, durable at every step.

One thread drives everything, tick by tick::

    reports = executor.poll()                 # starts and finishes since the last tick
    with store.transaction() as tx:           # ONE transaction per tick:
        outcomes of finished attempts            fenced by attempt id
        scheduler: successes, retries, failures, skips (in memory)
        new attempts for the tasks now ready     recorded `dispatched`
        task rows, events, decisions, heartbeat
    executor.submit(jobs)                     # processes start only after that commit

So a task's start is on disk before its process exists, and its completion is on disk
before any dependent's process exists. A crash anywhere leaves a state that ``uet resume``
reconciles (``uet.engine.recovery``). Output lines travel on the event bus
(``task.output``); the bus is flushed before a tick that records a completion, so a task's
output precedes its outcome in the log.

Deterministic mode runs in waves: dispatch the ready tasks (smallest keys first), wait for
all of them, then record their outcomes sorted by key, stamping times from the engine's own
clock and writing output at completion. Real timing then cannot change the event log.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from uet import defaults
from uet.backoff import compute_backoff
from uet.clock import Clock
from uet.engine.model import RunOptions, RunResult, logs_dir
from uet.engine.progress import NullProgress, Progress
from uet.engine.scheduler import Scheduler
from uet.engine.tooltasks import Choice, ToolTasks
from uet.events.bus import EventBus
from uet.execution.api import Executor, Finished, Job, Outcome, OutputSink, Report, Started
from uet.routing import Transition
from uet.spec.models import OnFailure, PlannedTask
from uet.state.records import AttemptRecord, AttemptResult, DecisionRecord, TaskUpdate
from uet.state.store import NewEvent, Store, Transaction
from uet.states import AttemptState, RunStatus, TaskStatus

ExecutorFactory = Callable[[OutputSink, Clock], Executor]

TOOL_TASKS_UNAVAILABLE = "tool tasks need tool profiles and a router (see docs/tools.md)"

START_RECORD_S = 0.05
"""Seconds at most that process starts wait for an outcome to share a tick with: a start
alone is not worth a transaction (its attempt is on disk already, as dispatched)."""


class _Tick:
    """Everything one tick will write, gathered before its transaction."""

    def __init__(self) -> None:
        self.events: list[NewEvent] = []
        self.updates: list[TaskUpdate] = []
        self.decisions: list[DecisionRecord] = []
        self.started: list[Started] = []
        self.seqs: list[int | None] = []  # of events, once written


class RunLoop:
    """Drives one run to its end. Build it with the plan's tasks (new run or resumed)."""

    def __init__(
        self,
        *,
        store: Store,
        bus: EventBus,
        executor_factory: ExecutorFactory,
        clock: Clock,
        run_id: str,
        tasks: Sequence[PlannedTask],
        workstream_limits: Mapping[str, int],
        options: RunOptions,
        root: Path,
        home: Path,
        progress: Progress | None = None,
        base_env: Mapping[str, str] | None = None,
        used: Mapping[str, int] | None = None,
        interrupted: threading.Event | None = None,
        numbered: Mapping[str, int] | None = None,
        tool_tasks: ToolTasks | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.run_id = run_id
        self.options = options
        self.root = root
        self.home = home
        self._logs = logs_dir(home, run_id)
        self.progress = progress or NullProgress()
        self.base_env = dict(base_env or {})
        # Processes at once are capped by the executor (-j); the scheduler may hand it up to
        # DISPATCH_AHEAD more, so that a slot never waits for the engine's next tick. Not
        # with an `abort` task (a queued task would start before the engine sees the
        # failure) nor in deterministic waves.
        aborting = any(task.on_failure is OnFailure.ABORT for task in tasks)
        ahead = 0 if options.deterministic or aborting else defaults.DISPATCH_AHEAD
        self.scheduler = Scheduler(
            tasks,
            concurrency=options.concurrency + ahead * options.concurrency,
            workstream_limits=workstream_limits,
        )
        self.tasks = self.scheduler.tasks  # key -> task
        self.used: dict[str, int] = defaultdict(int, used or {})  # counted against the budget
        # Highest attempt number given, canceled attempts included (numbers are unique).
        self._numbered: dict[str, int] = defaultdict(int, numbered or {})
        self.live: dict[int, tuple[str, int]] = {}  # attempt id -> (task key, number)
        self._retries: list[tuple[float, str]] = []  # (due, key) heap
        self._immediate: list[Finished] = []  # outcomes known without a process
        self._buffered: dict[int, list[str]] = defaultdict(list)  # deterministic output
        self._output_pending = False
        # Retry jitter only: no security property rests on it.
        self._rng = random.Random(0) if options.deterministic else random.Random()  # noqa: S311
        self._cancel_requested = False
        self._interrupted = interrupted or threading.Event()
        self._next_heartbeat = 0.0
        self._next_cancel_check = 0.0
        self.executor = executor_factory(self._on_output, clock)
        self.tool_tasks = tool_tasks

    # -- output (called on the executor's thread) -------------------------------------------

    def _on_output(self, attempt_id: int, lines: Sequence[str]) -> None:
        if self.options.deterministic:
            self._buffered[attempt_id].extend(lines)
            return
        for key, payload in self._output_events(attempt_id, lines):
            self.bus.emit(
                "task.output", payload, run_id=self.run_id, task_id=key, attempt_id=attempt_id
            )
        self._output_pending = True

    # -- the loop ---------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Stop soon, leaving the run resumable (Ctrl-C, SIGTERM). Safe from any thread."""
        self._interrupted.set()

    def run(self) -> RunResult:
        """Loop until every task is done, the run is canceled, or it is interrupted."""
        try:
            with self.store.pinned():
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
            reports = self._wait()

    def _wait(self) -> list[Report]:
        if self.options.deterministic:
            return self._wait_for_wave()
        timeout = defaults.CANCEL_CHECK_INTERVAL_S
        if self._retries:
            timeout = max(0.0, min(timeout, self._retries[0][0] - self.clock.now()))
        executor = self.executor
        reports = executor.poll(timeout)
        if reports and executor.running():
            # Gather what else finishes in the next moment: one tick (one transaction) for
            # several tasks costs far less than one each, and dependents wait only this long.
            reports.extend(executor.poll(defaults.TICK_GATHER_S))
            if not self._immediate and not _any_finished(reports):
                self._gather_outcome(reports, min(timeout, START_RECORD_S))
        reports.extend(self._immediate)
        self._immediate.clear()
        return reports

    def _gather_outcome(self, reports: list[Report], seconds: float) -> None:
        """Only starts so far: wait up to ``seconds`` for an outcome to record them with."""
        executor = self.executor
        until = time.monotonic() + seconds
        while executor.running() and not self._interrupted.is_set():
            left = until - time.monotonic()
            if left <= 0:
                return
            more = executor.poll(left)
            reports.extend(more)
            if _any_finished(more):
                reports.extend(executor.poll(defaults.TICK_GATHER_S))
                return

    def _wait_for_wave(self) -> list[Report]:
        reports: list[Report] = list(self._immediate)
        self._immediate.clear()
        while self.executor.running() and not self._interrupted.is_set():
            reports.extend(self.executor.poll(defaults.CANCEL_CHECK_INTERVAL_S))
        # Started reports carry real pids and times: not recorded in this mode.
        finished: list[Report] = [r for r in reports if isinstance(r, Finished)]
        finished.sort(key=lambda r: self.live[r.attempt_id])
        return finished

    def _commit_tick(self, reports: list[Report]) -> tuple[list[Job], RunResult | None]:
        tick = _Tick()
        now = self.clock.now()
        if any(isinstance(r, Finished) for r in reports) and self._output_pending:
            self._output_pending = False
            self.bus.flush()  # output of a finished task is durable before its outcome
        jobs: list[Job] = []
        done: RunResult | None = None
        with self.store.transaction() as tx:
            self._check_cancel(tx, now)
            self._apply_reports(tx, tick, reports, now)
            self._requeue_due(tick, now)
            if not self._cancel_requested:
                jobs = self._dispatch(tx, tick, now)
            if self._cancel_requested and self.live:
                for attempt_id in sorted(self.live):
                    self.executor.cancel(attempt_id)
            if self._is_done():
                done = self._finish(tx, tick, now)
            self._write(tx, tick, now)
        self.bus.deliver_committed(tick.events, tick.seqs)
        self.progress.tick(self.scheduler.counts(), [t.key for t in jobs])
        return jobs, done

    def _write(self, tx: Transaction, tick: _Tick, now: float) -> None:
        tx.mark_started([(s.attempt_id, s.pid, s.pgid, s.at) for s in tick.started])
        tx.update_tasks(self.run_id, tick.updates)
        tx.record_decisions(tick.decisions)
        tick.seqs = tx.insert_events(tick.events)
        wall = time.time()  # heartbeats are wall time even on a fixed (deterministic) clock
        if wall >= self._next_heartbeat:
            tx.heartbeat(self.run_id, wall)
            self._next_heartbeat = wall + defaults.HEARTBEAT_INTERVAL_S

    def _event(
        self,
        tick: _Tick,
        type_: str,
        payload: dict[str, Any],
        *,
        task: str | None = None,
        attempt: int | None = None,
    ) -> None:
        tick.events.append((type_, self.clock.now(), self.run_id, task, attempt, payload or None))

    # -- reports ----------------------------------------------------------------------------

    def _apply_reports(
        self, tx: Transaction, tick: _Tick, reports: list[Report], now: float
    ) -> None:
        finished = {r.attempt_id for r in reports if isinstance(r, Finished)}
        started = {r.attempt_id: r for r in reports if isinstance(r, Started)}
        for attempt_id, start in started.items():
            if attempt_id not in finished and not self.options.deterministic:
                tick.started.append(start)
        results: list[AttemptResult] = []
        deterministic = self.options.deterministic
        for report in reports:
            if isinstance(report, Finished):
                if deterministic:
                    self._write_buffered_output(tick, report.attempt_id)
                results.append(self._result(report, started.get(report.attempt_id), now))
        accepted = set(tx.complete_attempts(results))
        for report in reports:
            if isinstance(report, Finished) and report.attempt_id in accepted:
                self._settle(tick, report.attempt_id, report.outcome, now)
            elif isinstance(report, Finished):  # fenced: `uet cancel` settled it already
                fenced = self.live.pop(report.attempt_id, None)
                if fenced is not None:
                    self.scheduler.cancel(fenced[0])

    def _result(self, report: Finished, started: Started | None, now: float) -> AttemptResult:
        outcome = report.outcome
        deterministic = self.options.deterministic
        return AttemptResult(
            attempt_id=report.attempt_id,
            state=outcome.state,
            ended_at=now if deterministic else outcome.ended_at,
            exit_code=outcome.exit_code,
            output_tail=outcome.output_tail or None,
            error=outcome.error,
            pid=None if deterministic or started is None else started.pid,
            pgid=None if deterministic or started is None else started.pgid,
            started_at=None if deterministic or started is None else started.at,
        )

    def _write_buffered_output(self, tick: _Tick, attempt_id: int) -> None:
        """Deterministic mode: a task's output goes in the tick that records its outcome."""
        lines = self._buffered.pop(attempt_id, [])
        for key, payload in self._output_events(attempt_id, lines):
            self._event(tick, "task.output", payload, task=key, attempt=attempt_id)

    def _output_events(
        self, attempt_id: int, lines: Sequence[str]
    ) -> Iterator[tuple[str | None, dict[str, Any]]]:
        """The ``task.output`` payloads of ``lines``, at most OUTPUT_EVENT_LINES each."""
        entry = self.live.get(attempt_id)  # one lookup: the loop thread may pop it meanwhile
        key = None if entry is None else entry[0]
        for start in range(0, len(lines), defaults.OUTPUT_EVENT_LINES):
            yield key, {"lines": list(lines[start : start + defaults.OUTPUT_EVENT_LINES])}

    def _settle(self, tick: _Tick, attempt_id: int, outcome: Outcome, now: float) -> None:
        key, number = self.live.pop(attempt_id)
        task = self.tasks[key]
        verdict = {
            "attempt": number,
            "outcome": outcome.state.value,
            "exit_code": outcome.exit_code,
        }
        if self.tool_tasks is not None and self._tool_fallback(
            tick, task, attempt_id, outcome, now
        ):
            return  # the tool was rate-limited: the next tool of the chain, no retry spent
        if outcome.state is not AttemptState.CANCELED:
            self.used[key] += 1
        if outcome.state is AttemptState.SUCCEEDED:
            self._event(tick, "task.completed", verdict, task=key, attempt=attempt_id)
            self._update(tick, key, TaskStatus.SUCCEEDED, outcome, now)
            self._mark_ready(tick, self.scheduler.succeed(key))
        elif outcome.state is AttemptState.CANCELED:
            self._event(tick, "task.canceled", verdict, task=key, attempt=attempt_id)
            self._update(tick, key, TaskStatus.CANCELED, outcome, now)
            self.scheduler.cancel(key)  # its dependents cannot run; the run is ending anyway
        elif self.used[key] < task.max_attempts and not self._stopping:
            self._schedule_retry(tick, task, self.used[key], outcome, now)
        else:
            self._fail(tick, key, outcome, now, verdict=verdict, attempt_id=attempt_id)

    def _tool_fallback(
        self, tick: _Tick, task: PlannedTask, attempt_id: int, outcome: Outcome, now: float
    ) -> bool:
        """Record a tool attempt's outcome with the router; True when the task goes to the
        next tool of its chain (the tool was rate-limited or out of quota)."""
        assert self.tool_tasks is not None  # noqa: S101 - the caller checks
        latency = outcome.ended_at - (outcome.started_at or outcome.ended_at)
        tool, transitions, fallback = self.tool_tasks.finished(attempt_id, task, outcome, latency)
        self._breaker_events(tick, transitions, task.key, attempt_id)
        if not fallback or self._stopping:  # only a routed task falls back
            return False
        decision = DecisionRecord(
            category="fallback",
            chosen="next tool",
            reason=f"{tool} was rate-limited or out of quota; no retry is spent",
            ts=now,
            run_id=self.run_id,
            task_id=task.key,
            alternatives=["next tool", "retry", "fail"],
            data={"tool": tool, "excluded": sorted(self.tool_tasks.excluded[task.key])},
        )
        payload = {"attempt": self._numbered[task.key], "outcome": "rate_limited", "fallback": tool}
        self._retry_later(tick, task, now, decision, payload)
        return True

    def _breaker_events(
        self, tick: _Tick, transitions: Sequence[Transition], key: str, attempt_id: int | None
    ) -> None:
        for moved in transitions:
            payload = {"tool": moved.tool, "from": moved.before.value, "reason": moved.reason}
            self._event(tick, moved.event_type, payload, task=key, attempt=attempt_id)

    @property
    def _stopping(self) -> bool:
        return self._cancel_requested or self.scheduler.aborted

    def _fail(
        self,
        tick: _Tick,
        key: str,
        outcome: Outcome,
        now: float,
        *,
        verdict: dict[str, Any],
        attempt_id: int,
    ) -> None:
        self._event(
            tick, "task.failed", {**verdict, "error": outcome.error}, task=key, attempt=attempt_id
        )
        self._update(tick, key, TaskStatus.FAILED, outcome, now)
        ready, skipped = self.scheduler.fail(key)
        self._mark_ready(tick, ready)
        for dependent in skipped:
            self._event(tick, "task.skipped", {"because": key}, task=dependent)
            tick.updates.append(TaskUpdate(dependent, TaskStatus.SKIPPED, ended_at=now))
        if self.scheduler.aborted:
            for canceled in self.scheduler.cancel_pending():
                self._event(tick, "task.canceled", {"because": key}, task=canceled)
                tick.updates.append(TaskUpdate(canceled, TaskStatus.CANCELED, ended_at=now))
            for live_id in sorted(self.live):
                self.executor.cancel(live_id)

    def _schedule_retry(
        self, tick: _Tick, task: PlannedTask, number: int, outcome: Outcome, now: float
    ) -> None:
        rng = self._rng
        delay = compute_backoff(number, base=task.retry_delay, cap=300.0, rng=rng)  # 0 for 0
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
        self._retry_later(tick, task, now + delay, decision, payload)

    def _retry_later(
        self,
        tick: _Tick,
        task: PlannedTask,
        due: float,
        decision: DecisionRecord,
        payload: dict[str, Any],
    ) -> None:
        """Run ``task`` again at ``due``: recorded as ``decision`` and a task.retrying event."""
        heapq.heappush(self._retries, (due, task.key))
        self.scheduler.retry_later(task.key)
        tick.decisions.append(decision)
        self._event(tick, "task.retrying", payload, task=task.key)
        tick.updates.append(
            TaskUpdate(task.key, TaskStatus.PENDING, attempts_used=self.used[task.key])
        )

    def _requeue_due(self, tick: _Tick, now: float) -> None:
        while self._retries and (self._retries[0][0] <= now or self.options.deterministic):
            _, key = heapq.heappop(self._retries)
            if not self._stopping:
                self.scheduler.requeue(key)

    def _mark_ready(self, tick: _Tick, keys: list[str]) -> None:
        for key in keys:
            self._event(tick, "task.ready", {}, task=key)

    def _update(
        self, tick: _Tick, key: str, status: TaskStatus, outcome: Outcome, now: float
    ) -> None:
        tick.updates.append(
            TaskUpdate(
                key,
                status,
                outcome=outcome.state,
                exit_code=outcome.exit_code,
                attempts_used=self.used[key],
                ended_at=now,
            )
        )
        self.progress.task_done(key, status)

    # -- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, tx: Transaction, tick: _Tick, now: float) -> list[Job]:
        ready = self.scheduler.take()
        if not ready:
            return []
        numbers = [max(self.used[t.key], self._numbered[t.key]) + 1 for t in ready]
        choices = {t.key: self._choose_tool(tick, t, now) for t in ready if t.spec.tool is not None}
        ids = tx.dispatch_attempts(
            [
                AttemptRecord(
                    id=0,
                    run_id=self.run_id,
                    task_id=task.key,
                    number=number,
                    state=AttemptState.DISPATCHED,
                    dispatched_at=now,
                    tool=_chosen(choices, task) or task.spec.tool,
                )
                for task, number in zip(ready, numbers, strict=True)
            ]
        )
        jobs = []
        for task, number, attempt_id in zip(ready, numbers, ids, strict=True):
            self.live[attempt_id] = (task.key, number)
            self._numbered[task.key] = number
            self._event(
                tick, "task.started", {"attempt": number}, task=task.key, attempt=attempt_id
            )
            tick.updates.append(
                TaskUpdate(
                    task.key,
                    TaskStatus.RUNNING,
                    attempts_used=self.used[task.key] + 1,
                    started_at=now if number == 1 else None,
                )
            )
            choice = choices.get(task.key)
            if choice is not None and choice.tool is None:  # no tool can take it: the reason
                self._immediate.append(
                    Finished(
                        attempt_id, Outcome(AttemptState.ERROR, None, now, error=choice.reason)
                    )
                )
            else:
                jobs.append(self._job(task, attempt_id, number, _chosen(choices, task)))
        return jobs

    def _choose_tool(self, tick: _Tick, task: PlannedTask, now: float) -> Choice:
        """The tool for ``task``'s next attempt; without one, the reason is its error."""
        if self.tool_tasks is None:
            return Choice(None, TOOL_TASKS_UNAVAILABLE)
        choice = self.tool_tasks.choose(task, now)
        if choice.record is not None:
            tick.decisions.append(choice.record)
        self._breaker_events(tick, choice.transitions, task.key, None)
        self._event(tick, "route.decided", choice.payload, task=task.key)
        if choice.tool is None:
            return Choice(None, f"no tool can take it: {choice.reason}")
        return choice

    def _job(self, task: PlannedTask, attempt_id: int, number: int, tool: str | None) -> Job:
        env = {
            **self.base_env,
            **task.env,
            "UET_RUN_ID": self.run_id,
            "UET_TASK_ID": task.key,
            "UET_ATTEMPT": str(number),
            "UET_NON_INTERACTIVE": "1",
            "NON_INTERACTIVE": "1",
        }
        log_path = self._logs / f"{task.key}.log"  # = model.log_path(...), folder path made once
        if number > 1:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("a", encoding="utf-8") as log:
                log.write(f"\n--- uet: attempt {number} ---\n")
        if tool is not None and self.tool_tasks is not None:
            return Job(
                attempt_id=attempt_id,
                key=task.key,
                argv=self.tool_tasks.job_argv(task, attempt_id, number, tool),
                cwd=self.root,
                env={**env, "UET_TOOL": tool},
                timeout=self.tool_tasks.timeout(task, tool),
                kill_grace=defaults.KILL_GRACE_S,
                log_path=log_path,
            )
        return Job(
            attempt_id=attempt_id,
            key=task.key,
            argv=task.spec.argv,
            shell=task.spec.run,
            cwd=self.root / task.cwd if task.cwd else self.root,
            env=env,
            timeout=task.timeout,
            kill_grace=defaults.KILL_GRACE_S,
            log_path=log_path,
        )

    # -- cancel, finish, interrupt ----------------------------------------------------------

    def _check_cancel(self, tx: Transaction, now: float) -> None:
        if self._cancel_requested or now < self._next_cancel_check:
            return
        self._next_cancel_check = now + defaults.CANCEL_CHECK_INTERVAL_S
        run = tx.get_run(self.run_id)
        if run is not None and run.status in (RunStatus.CANCELING, RunStatus.CANCELED):
            self._cancel_requested = True
            for key in self.scheduler.cancel_pending():
                self.progress.task_done(key, TaskStatus.CANCELED)

    def _is_done(self) -> bool:
        if self.live or self._immediate:
            return False
        if self._stopping:
            return True
        return self.scheduler.finished and not self._retries

    def _finish(self, tx: Transaction, tick: _Tick, now: float) -> RunResult:
        counts = self.scheduler.counts()
        if self._cancel_requested:
            status = RunStatus.CANCELED
            pending = [k for k, s in self.scheduler.status.items() if s is TaskStatus.CANCELED]
            tick.updates.extend(TaskUpdate(k, TaskStatus.CANCELED, ended_at=now) for k in pending)
        elif counts.get(TaskStatus.FAILED) or counts.get(TaskStatus.CANCELED):
            status = RunStatus.FAILED
        else:
            status = RunStatus.SUCCEEDED
        summary = {s.value: n for s, n in sorted(counts.items())}
        self._event(tick, f"run.{_RUN_EVENT[status]}", {"status": status.value, "tasks": summary})
        tx.set_run_status(self.run_id, status, ended_at=now, summary=summary)
        return RunResult(self.run_id, status, counts)

    def _stop_interrupted(self) -> RunResult:
        """Kill what runs, record it canceled (no retry is used up), leave the run resumable."""
        self.executor.close()
        now = self.clock.now()
        tick = _Tick()
        with self.store.transaction() as tx:
            results = [
                AttemptResult(attempt_id, AttemptState.CANCELED, now, error="interrupted")
                for attempt_id in sorted(self.live)
            ]
            tx.complete_attempts(results)
            for attempt_id, (key, _) in sorted(self.live.items()):
                self._event(tick, "task.interrupted", {}, task=key, attempt=attempt_id)
                # a canceled attempt is not counted: the budget used is what it was before
                tick.updates.append(
                    TaskUpdate(key, TaskStatus.PENDING, attempts_used=self.used[key])
                )
            self.live.clear()
            self._event(tick, "run.interrupted", {})
            tx.set_run_status(self.run_id, RunStatus.INTERRUPTED, ended_at=now)
            self._write(tx, tick, now)
        self.bus.deliver_committed(tick.events, tick.seqs)
        return RunResult(self.run_id, RunStatus.INTERRUPTED, self.scheduler.counts())


def _chosen(choices: Mapping[str, Choice], task: PlannedTask) -> str | None:
    choice = choices.get(task.key)
    return None if choice is None else choice.tool


def _any_finished(reports: list[Report]) -> bool:
    return any(type(report) is Finished for report in reports)


_RUN_EVENT = {
    RunStatus.SUCCEEDED: "completed",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELED: "canceled",
}
