"""After a crash: take the outcomes a run's executor process journaled, instead of guessing.

An orchestrator that dies (kill -9) leaves attempts ``dispatched`` or ``running`` in the
store. Its executor process (``uet.execution.spawner``) lives on: it starts nothing new, lets
the running tasks end and journals each outcome. Before reconciliation marks anything
``lost``, this module reads that journal (``uet.execution.journal``):

* an attempt with an outcome in the journal gets that outcome: a task that exited 0 is
  ``succeeded`` (never ``lost``, never run again), one that waited for input is ``failed``
  (``needs_input`` is never retried), one that failed otherwise is judged like any failure
  (retried within its budget, or failed);
* an attempt the executor dropped from its queue, or that it never received although its
  session ended cleanly, provably never started: ``canceled``, ``not started`` (no retry);
* a tool task's attempt is adopted when it succeeded (the agent runner's whole chain ran:
  tool, scope, commit, merge queue; calling the agent again would cost money and redo the
  change); a tool attempt that failed needs the engine's own follow-up (a rate-limited tool
  hands the task to the next one of its chain, spending no retry), so it is left, like
  anything else unknown (the executor died too), for reconciliation to mark ``lost``. A
  ``lost`` attempt whose orchestrator died does not use up a retry, ``LOST_REDISPATCH_MAX``
  times per task (``free_lost``; each such re-run is a decision).

While the executor process still runs (it holds the journal's lock) nothing is reconciled:
``wait_for_executor`` is what ``uet resume`` does first; it also releases an executor that
still serves a live orchestrator whose lease was taken over (a stopped one, on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from uet import defaults
from uet.clock import Clock
from uet.execution.journal import Journal, holder, read_journal
from uet.state.records import (
    AttemptRecord,
    AttemptResult,
    DecisionRecord,
    RunRecord,
    TaskRecord,
    TaskUpdate,
)
from uet.state.store import NewEvent, Store
from uet.states import LIVE_ATTEMPT_STATES, AttemptState, TaskStatus

NOT_STARTED = "not started: its orchestrator died first"
"""``error`` of an attempt that provably never started (its executor says so)."""

ORCHESTRATOR_DIED = "its orchestrator died"
"""``error`` of an attempt lost because uet died, not the task."""

JOURNAL_PARAM = "journal"
"""The key of a run's params that names its journal (runs with an executor process)."""


def journal_of(run: RunRecord) -> Path | None:
    value = run.params.get(JOURNAL_PARAM)
    return Path(value) if isinstance(value, str) and value else None


def executor_pid(run: RunRecord) -> int | None:
    """The pid of the run's executor process while it still runs (0: pid unknown)."""
    path = journal_of(run)
    return None if path is None else holder(path)


def wait_for_executor(
    run: RunRecord,
    on_wait: Callable[[int], None] | None = None,
    interrupted: threading.Event | None = None,
) -> bool:
    """Block until the run's previous executor process has ended (its running tasks too);
    ``on_wait(pid)`` is called now and then meanwhile. False when interrupted first."""
    next_note = 0.0
    released = False
    while (pid := executor_pid(run)) is not None:
        if not released:  # it may still serve an orchestrator we took over (SIGSTOP, PG)
            released = True
            release_executor(pid)
        if interrupted is not None and interrupted.is_set():
            return False
        if on_wait is not None and time.monotonic() >= next_note:
            on_wait(pid)
            next_note = time.monotonic() + defaults.EXECUTOR_WAIT_REPORT_S
        time.sleep(0.05)
    return True


def release_executor(pid: int) -> None:
    """Tell the executor process ``pid`` (the holder of a run's journal) that its
    orchestrator lost the run: it ends once its running jobs have (``spawner``'s SIGUSR1).
    Harmless to one whose orchestrator died: it drains already."""
    if pid > 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGUSR1)


def adopt_outcomes(store: Store, run: RunRecord, clock: Clock) -> list[int]:
    """Settle the run's live attempts from its journal (see the module docstring); returns
    the attempts settled. Only call it once the executor process has ended."""
    path = journal_of(run)
    if path is None:
        return []
    journal = read_journal(path)
    if not journal.exists:
        return []
    with store.reader() as tx:
        live = tx.get_attempts(run.id, states=LIVE_ATTEMPT_STATES)
        if not live:
            return []
        tasks = {t.id: t for t in tx.get_tasks(run.id)}
    results, updates, events = _settlements(run.id, live, tasks, journal, clock.now())
    if not results:
        return []
    with store.transaction() as tx:
        accepted = set(tx.complete_attempts(results))
        by_attempt = {a.id: a.task_id for a in live}
        tx.update_tasks(run.id, [u for a, u in updates if a in accepted])
        tx.insert_events([e for a, e in events if a in accepted])
    return sorted(accepted & set(by_attempt))


def _settlements(
    run_id: str,
    live: Sequence[AttemptRecord],
    tasks: Mapping[str, TaskRecord],
    journal: Journal,
    now: float,
) -> tuple[list[AttemptResult], list[tuple[int, TaskUpdate]], list[tuple[int, NewEvent]]]:
    results: list[AttemptResult] = []
    updates: list[tuple[int, TaskUpdate]] = []
    events: list[tuple[int, NewEvent]] = []
    for attempt in live:
        outcome = journal.finished.get(attempt.id)
        never_received = journal.closed and attempt.id not in journal.started
        if (outcome is not None and outcome.started_at is None) or (
            outcome is None and never_received
        ):
            results.append(AttemptResult(attempt.id, AttemptState.CANCELED, now, error=NOT_STARTED))
            updates.append((attempt.id, TaskUpdate(attempt.task_id, TaskStatus.PENDING)))
            payload = {"attempt": attempt.number, "reason": NOT_STARTED}
            events.append((attempt.id, ("task.interrupted", now, run_id, attempt.task_id,
                                        attempt.id, payload)))  # fmt: skip
            continue
        task = tasks.get(attempt.task_id)
        if (
            outcome is None
            or task is None
            or (_is_tool_task(task) and outcome.state is not AttemptState.SUCCEEDED)
        ):
            continue  # unknown, or a tool's failure: reconciliation marks it lost
        start = journal.started.get(attempt.id)
        results.append(
            AttemptResult(
                attempt.id,
                outcome.state,
                outcome.ended_at,
                exit_code=outcome.exit_code,
                output_tail=outcome.output_tail or None,
                error=outcome.error,
                pid=None if start is None else start.pid,
                pgid=None if start is None else start.pgid,
                started_at=outcome.started_at,
            )
        )
        succeeded = outcome.state is AttemptState.SUCCEEDED
        final = succeeded or outcome.state is AttemptState.NEEDS_INPUT  # never run again
        status = TaskStatus.SUCCEEDED if succeeded else TaskStatus.FAILED
        update = TaskUpdate(
            attempt.task_id,
            status if final else TaskStatus.PENDING,
            outcome=outcome.state,
            exit_code=outcome.exit_code,
            ended_at=outcome.ended_at if final else None,
        )
        updates.append((attempt.id, update))
        payload = {
            "attempt": attempt.number,
            "outcome": outcome.state.value,
            "exit_code": outcome.exit_code,
            "adopted": True,
        }
        kind = "task.completed" if succeeded else "task.adopted"
        events.append((attempt.id, (kind, now, run_id, attempt.task_id, attempt.id, payload)))
    return results, updates, events


def _is_tool_task(task: TaskRecord) -> bool:
    """Whether the task runs an agent tool (its spec keeps the workstream's task as written)."""
    written = task.spec.get("task")
    return isinstance(written, Mapping) and written.get("tool") is not None


def free_lost(attempts: Iterable[AttemptRecord], limit: int) -> dict[str, int]:
    """Per task, the lost attempts that use up no retry (see ``_forgiven``)."""
    free: dict[str, int] = defaultdict(int)
    for attempt in _forgiven(attempts, limit):
        free[attempt.task_id] += 1
    return dict(free)


def redispatch_decisions(
    run_id: str,
    attempts: Sequence[AttemptRecord],
    lost_now: Iterable[int],
    now: float,
    limit: int,
) -> list[DecisionRecord]:
    """One decision per attempt just lost because uet died: run again without spending a
    retry (the first ``limit`` of a task), or count it (past that)."""
    free = {a.id for a in _forgiven(attempts, limit)}
    by_id = {a.id: a for a in attempts}
    decisions: list[DecisionRecord] = []
    for attempt_id in sorted(set(lost_now)):
        attempt = by_id.get(attempt_id)
        if attempt is None:
            continue
        forgiven = attempt_id in free
        reason = f"attempt {attempt.number} was lost because uet died, not the task: " + (
            "no retry is spent" if forgiven else f"counted, {limit} such re-runs were free"
        )
        decisions.append(
            DecisionRecord(
                category="recovery",
                chosen="run again" if forgiven else "count the attempt",
                reason=reason,
                ts=now,
                run_id=run_id,
                task_id=attempt.task_id,
                alternatives=["run again", "count the attempt"],
                data={"attempt": attempt.number, "limit": limit},
            )
        )
    return decisions


def _forgiven(attempts: Iterable[AttemptRecord], limit: int) -> list[AttemptRecord]:
    """The lost attempts that use up no retry: lost because the orchestrator died, the
    first ``limit`` of each task."""
    taken: dict[str, int] = defaultdict(int)
    forgiven = []
    for attempt in sorted(attempts, key=lambda a: (a.task_id, a.number)):
        died = attempt.state is AttemptState.LOST and attempt.error == ORCHESTRATOR_DIED
        if died and taken[attempt.task_id] < limit:
            taken[attempt.task_id] += 1
            forgiven.append(attempt)
    return forgiven
