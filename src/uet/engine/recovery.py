"""After a crash: find runs whose orchestrator is gone, and make their state true again.

Whether a run's orchestrator lives is its lease's to say (``uet.state.lease``): on a SQLite
file, whether a process holds the run's lock; on PostgreSQL, whether the lease row has not
expired by the database's clock. Only a run with no lease (recorded by a uet from before
leases) is judged by its row: its orchestrator is taken as dead when, on this host, its pid
no longer exists or its heartbeat is older than the machine's boot or than the staleness
threshold (``ORCHESTRATOR_STALE_S``, setting ``runs.orchestrator_stale``); on another host,
when its heartbeat is stale. Reconciling takes the run's lease first and holds it
throughout, so it never races a live owner or a ``uet resume``. For a dead orchestrator,
reconciling a run:

1. kills the process groups its live attempts left behind (only groups whose processes carry
   the run's ``UET_RUN_ID``: a recycled group number is never killed), including those of
   attempts whose group id it died before recording (found by their environment),
2. marks those attempts ``lost`` (fenced: an attempt settled meanwhile is left alone), and
   their tasks ``pending`` with outcome ``lost`` (a resume re-dispatches them within budget);
   an attempt that never started (``dispatched``, no process found: it waited in the
   executor's queue) is marked ``canceled`` instead, and so uses up no retry,
3. marks the run ``interrupted`` (or ``canceled`` if a cancel was asked), resumable.

``cancel_run`` asks a live orchestrator to cancel (status ``canceling``, which it polls), and
does the work itself when the orchestrator is dead or too slow.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from uet import defaults
from uet.clock import Clock
from uet.engine.adoption import NOT_STARTED, ORCHESTRATOR_DIED, adopt_outcomes, executor_pid
from uet.engine.tooltasks import FALLBACK_EXITS
from uet.errors import LeaseHeldError, StoreError
from uet.execution.process import environments_with, kill_process_group
from uet.state.lease import RunLease, lease_owner, take_lease
from uet.state.records import AttemptRecord, AttemptResult, RunRecord, TaskRecord, TaskUpdate
from uet.state.store import NewEvent, Store
from uet.states import (
    LIVE_ATTEMPT_STATES,
    UNCOUNTED_ATTEMPT_STATES,
    AttemptState,
    RunStatus,
    TaskStatus,
)

CANCEL_WAIT_S = 0.75
"""Seconds ``cancel_run`` gives a live orchestrator before killing the groups itself: three of
its looks for a cancel (``CANCEL_CHECK_INTERVAL_S``), and short enough that, with the kill
grace and the command's own start-up, the groups are gone within 2 s of ``uet cancel``."""

CANCEL_KILL_GRACE_S = 0.3
"""Seconds between SIGTERM and SIGKILL when ``cancel_run`` kills groups itself."""


@dataclass(frozen=True, slots=True)
class Reconciled:
    run_id: str
    lost: list[int]  # attempts marked lost
    killed: list[int]  # process groups killed
    status: RunStatus


def owner_alive(
    store: Store, run: RunRecord, now: float, *, stale_after: float = defaults.ORCHESTRATOR_STALE_S
) -> bool:
    """Whether the process that drives ``run`` still does: its lease says, else its row."""
    held = lease_owner(store, run.id).held
    if held is None:
        return orchestrator_alive(run, now, stale_after=stale_after)
    return held


def orchestrator_alive(
    run: RunRecord, now: float, *, stale_after: float = defaults.ORCHESTRATOR_STALE_S
) -> bool:
    """Whether the run's row says its orchestrator lives (pid and heartbeat): the judge for
    runs that have no lease (see the module docstring)."""
    if run.pid is None or run.heartbeat_at is None:
        return False
    if now - run.heartbeat_at > stale_after:
        return False
    if run.host != socket.gethostname():
        return True
    return run.heartbeat_at >= _booted_at() and _pid_exists(run.pid)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process has that pid: it may still be the orchestrator
    return True


def reconcile(
    store: Store,
    run_id: str,
    clock: Clock,
    *,
    lease: RunLease | None = None,
    ttl: float = defaults.RUN_LEASE_TTL_S,
    stale_after: float = defaults.ORCHESTRATOR_STALE_S,
) -> Reconciled | None:
    """Reconcile ``run_id`` if its orchestrator is dead; None when there is nothing to do.

    Pass the run's ``lease`` when the caller holds it (``uet resume``); otherwise it is
    taken here for the time of the work, and a live owner (one that holds it) means there
    is nothing to do. Nor is there when the lease cannot be taken at all (a database or a
    lock folder this user cannot write: a read-only look changes nothing)."""
    with store.reader() as tx:
        run = tx.get_run(run_id)
        if run is None or (run.status.finished and run.status is not RunStatus.INTERRUPTED):
            return None
        if run.status is RunStatus.INTERRUPTED and not tx.get_attempts(
            run_id, states=LIVE_ATTEMPT_STATES
        ):
            return None  # reconciled already: nothing left to settle
    if lease is not None:
        return _reconcile(store, run, clock)
    try:
        own = take_lease(store, run_id, host=socket.gethostname(), pid=os.getpid(), ttl=ttl)
    except (LeaseHeldError, StoreError):  # its owner lives, or no lease can be taken here
        return None
    with own:
        if own.fresh and orchestrator_alive(run, clock.now(), stale_after=stale_after):
            return None  # a run of an older uet, whose orchestrator seems to live
        return _reconcile(store, run, clock)


def _reconcile(store: Store, run: RunRecord, clock: Clock) -> Reconciled | None:
    """Reconcile ``run``, whose lease this process holds (see the module docstring)."""
    run_id = run.id
    with store.reader() as tx:
        run = tx.get_run(run_id) or run  # as it is now that we hold its lease
        if run.status.finished and run.status is not RunStatus.INTERRUPTED:
            return None
    if (waiting := _adopt_journal(store, run, clock)) is not None:
        return waiting  # its executor process still runs the tasks: they are not lost
    with store.reader() as tx:
        attempts = tx.get_attempts(run_id)
        # Only when one could be a routed task's fallback (rare): which tasks are routed.
        fallbacks = any(a.exit_code in FALLBACK_EXITS for a in attempts)
        routed = routed_tasks(tx.get_tasks(run_id)) if fallbacks else set()
    live = [a for a in attempts if a.state in LIVE_ATTEMPT_STATES]
    groups = _process_groups(run, live)
    killed = _kill_groups(run, groups.values(), grace=2.0)
    # What the journal proved never started was settled by _adopt_journal. No process found
    # proves nothing (it may have run and ended): lost, which uses up no retry
    # (adoption.free_lost), LOST_REDISPATCH_MAX times per task.
    unstarted: set[int] = set()
    status = RunStatus.CANCELED if run.status is RunStatus.CANCELING else RunStatus.INTERRUPTED
    now = clock.now()
    with store.transaction() as tx:
        settled = set(
            tx.complete_attempts(
                [
                    AttemptResult(a.id, AttemptState.CANCELED, now, error=NOT_STARTED)
                    if a.id in unstarted
                    else AttemptResult(a.id, AttemptState.LOST, now, error=ORCHESTRATOR_DIED)
                    for a in live
                ]
            )
        )
        reconciled = [a for a in live if a.id in settled]
        lost = [a.id for a in reconciled if a.id not in unstarted]
        # Its task is no longer running: it waits for a resume (which re-dispatches it within
        # its budget), and shows why.
        lost_now = [a for a in attempts if a.id in settled - unstarted]
        used = counted_attempts(attempts, routed) + Counter(a.task_id for a in lost_now)
        tx.update_tasks(
            run_id,
            [
                TaskUpdate(
                    a.task_id,
                    TaskStatus.PENDING,
                    outcome=None if a.id in unstarted else AttemptState.LOST,
                    attempts_used=used[a.task_id],
                )
                for a in reconciled
            ],
        )
        events: list[NewEvent] = [
            (
                "task.interrupted" if a.id in unstarted else "task.lost",
                now,
                run_id,
                a.task_id,
                a.id,
                {"attempt": a.number},
            )
            for a in reconciled
        ]
        if run.host is not None and run.pid is not None:  # its routers' tool slots
            tx.release_tool_slots(run.host, run.pid)
        if run.status is not RunStatus.INTERRUPTED or reconciled:
            tx.set_run_status(run_id, status, ended_at=now)
            events.append((f"run.{status.value}", now, run_id, None, None, {"reconciled": True}))
        tx.insert_events(events)
    return Reconciled(run_id, lost, killed, status)


def cancel_run(
    store: Store,
    run_id: str,
    clock: Clock,
    *,
    stale_after: float = defaults.ORCHESTRATOR_STALE_S,
    grace: float | None = None,
) -> RunStatus | None:
    """Cancel a run from any process; returns its final status (None: no such run).

    A live orchestrator stops its tasks' groups itself (SIGTERM, SIGKILL after its kill
    grace); ``grace`` (the run's own kill grace, ``overlap: replace``) is how long it is
    given to before this process kills what is left, SIGTERM then SIGKILL ``grace`` s
    later (without: the short waits of ``uet cancel``)."""
    with store.transaction() as tx:
        run = tx.get_run(run_id)
        if run is None:
            return None
        if run.status.finished and run.status is not RunStatus.INTERRUPTED:
            return run.status
        tx.set_run_status(run_id, RunStatus.CANCELING)
        tx.insert_events([("run.cancel_requested", clock.now(), run_id, None, None, None)])
    if owner_alive(store, run, clock.now(), stale_after=stale_after):
        deadline = time.monotonic() + CANCEL_WAIT_S + (grace or 0.0)
        while time.monotonic() < deadline:
            time.sleep(0.05)
            with store.reader() as tx:
                current = tx.get_run(run_id)
            if current is not None and current.status is RunStatus.CANCELED:
                return RunStatus.CANCELED
    return _cancel_ourselves(store, run, clock, CANCEL_KILL_GRACE_S if grace is None else grace)


def _cancel_ourselves(store: Store, run: RunRecord, clock: Clock, grace: float) -> RunStatus:
    """The orchestrator is dead or slow: kill the groups, settle attempts and tasks."""
    with store.reader() as tx:
        live = tx.get_attempts(run.id, states=LIVE_ATTEMPT_STATES)
        unfinished = tx.get_tasks(run.id, statuses=[s for s in TaskStatus if not s.finished])
    _kill_groups(run, _process_groups(run, live).values(), grace)
    now = clock.now()
    with store.transaction() as tx:
        tx.complete_attempts(
            [AttemptResult(a.id, AttemptState.CANCELED, now, error="canceled") for a in live]
        )
        tx.update_tasks(
            run.id, [TaskUpdate(t.id, TaskStatus.CANCELED, ended_at=now) for t in unfinished]
        )
        tx.set_run_status(run.id, RunStatus.CANCELED, ended_at=now)
        tx.insert_events([("run.canceled", now, run.id, None, None, None)])
    return RunStatus.CANCELED


def _adopt_journal(store: Store, run: RunRecord, clock: Clock) -> Reconciled | None:
    """Before anything is marked lost: the outcomes the run's executor process journaled
    (``uet.engine.adoption``). While that process still runs, its tasks are not lost: the
    run is only marked ``interrupted`` (nothing drives it), its attempts stay as they are."""
    if not _reachable(run):
        return None
    pid = executor_pid(run)
    if pid is None:
        adopt_outcomes(store, run, clock)
        return None
    if run.status is RunStatus.RUNNING:
        now = clock.now()
        with store.transaction() as tx:
            tx.set_run_status(run.id, RunStatus.INTERRUPTED, ended_at=now)
            payload = {"reconciled": True, "executor": pid}
            tx.insert_events([("run.interrupted", now, run.id, None, None, payload)])
    return Reconciled(run.id, [], [], RunStatus.INTERRUPTED)


def counted_attempts(attempts: Iterable[AttemptRecord], routed: Collection[str]) -> Counter[str]:
    """Attempts each task has spent of its retry budget: finished ones, except canceled
    ones and the rate-limited or could-not-start attempts of routed tasks (those went on to
    the next tool)."""
    return Counter(
        a.task_id
        for a in attempts
        if a.state not in UNCOUNTED_ATTEMPT_STATES | LIVE_ATTEMPT_STATES
        and not (a.task_id in routed and a.exit_code in FALLBACK_EXITS)
    )


def routed_tasks(tasks: Iterable[TaskRecord]) -> set[str]:
    """The tasks the router chooses a tool for (``tool: auto``)."""
    return {task.id for task in tasks if task.spec.get("tool") == "auto"}


def _reachable(run: RunRecord) -> bool:
    """Whether the run's processes would be on this machine (else not ours to reach)."""
    return run.host is None or run.host == socket.gethostname()


def _process_groups(run: RunRecord, live: Sequence[AttemptRecord]) -> dict[int, int]:
    """Attempt id -> process group, for live attempts whose group is recorded, or (on this
    machine) whose processes are found though their group never reached the store: the
    orchestrator died between the spawn and the next commit."""
    groups = {a.id: a.pgid for a in live if a.pgid is not None}
    if _reachable(run):
        groups.update(_unrecorded_groups(run.id, [a for a in live if a.pgid is None]))
    return groups


def _kill_groups(run: RunRecord, pgids: Iterable[int], grace: float) -> list[int]:
    if not _reachable(run):
        return []
    guard = {"UET_RUN_ID": run.id}
    return [
        pgid for pgid in sorted(set(pgids)) if kill_process_group(pgid, grace, expect_env=guard)
    ]


def _unrecorded_groups(run_id: str, attempts: Sequence[AttemptRecord]) -> dict[int, int]:
    """Attempt id -> process group of ``attempts``, found in /proc by the ``UET_RUN_ID``,
    ``UET_TASK_ID`` and ``UET_ATTEMPT`` every task process is given."""
    wanted = {
        (f"UET_TASK_ID={a.task_id}".encode(), f"UET_ATTEMPT={a.number}".encode()): a.id
        for a in attempts
    }
    groups: dict[int, int] = {}
    if not wanted:
        return groups
    for pgid, pairs in environments_with("UET_RUN_ID", run_id):
        for (task, number), attempt_id in wanted.items():
            if task in pairs and number in pairs:
                groups[attempt_id] = pgid
    return groups


def _booted_at() -> float:
    """When this machine booted (seconds since the epoch); 0 where /proc does not say."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            for line in stat:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0
