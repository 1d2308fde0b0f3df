"""Start, resume and cancel runs: the engine's door for the CLI and the Python API."""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from uet import defaults
from uet.clock import Clock, FixedClock, SystemClock
from uet.config import Settings, is_non_interactive, load_settings
from uet.contain.env import known_secrets
from uet.engine.adoption import (
    JOURNAL_PARAM,
    free_lost,
    redispatch_decisions,
    wait_for_executor,
)
from uet.engine.model import (
    RunOptions,
    RunResult,
    default_concurrency,
    planned_from_document,
    task_document,
)
from uet.engine.progress import NullProgress, Progress
from uet.engine.recovery import counted_attempts, orchestrator_alive, reconcile, routed_tasks
from uet.engine.run import ExecutorFactory, RunContext, RunLoop
from uet.engine.tooltasks import Tooling, ToolTasks, load_tooling
from uet.errors import LeaseHeldError, Problem, SpecError, StorageFault, UsageError
from uet.events.bus import EventBus
from uet.execution.api import Executor, OutputSink, Stdio
from uet.execution.executor_process import ProcessExecutor
from uet.execution.journal import journal_path
from uet.execution.local import LocalExecutor
from uet.execution.process import become_subreaper
from uet.ids import RandomIds, SequentialIds
from uet.spec.graph import topological_order
from uet.spec.planned import CommandTask, Plan, PlannedTask
from uet.state.lease import RunLease, take_lease
from uet.state.records import RunRecord, TaskRecord, TaskUpdate, WorkstreamRecord
from uet.state.store import NewEvent, Store, Transaction
from uet.states import RunStatus, TaskStatus

if TYPE_CHECKING:
    from uet.spec.models import TaskSpec

ABORT_KILLS_PARAM = "abort_kills"
KILL_GRACE_PARAM = "kill_grace"
"""A run's params key: seconds from SIGTERM to SIGKILL of its tasks' groups, when not
``defaults.KILL_GRACE_S`` (a trigger's ``grace`` for the runs ``overlap: replace`` stops)."""
"""In a run's params when it was started with ``--abort-kills``: its resumes keep it."""


def local_executor(concurrency: int) -> ExecutorFactory:
    """Tasks run by a thread of this process (``--executor local-inproc``)."""

    def make(output: OutputSink, clock: Clock) -> Executor:
        return LocalExecutor(max_workers=concurrency, output=output, clock=clock)

    return make


def process_executor(concurrency: int, journal: Path) -> ExecutorFactory:
    """Tasks run by a per-run executor process that journals every outcome (the default):
    outcomes survive the orchestrator (``uet.engine.adoption``)."""

    def make(output: OutputSink, clock: Clock) -> Executor:
        return ProcessExecutor(journal, max_workers=concurrency, output=output, clock=clock)

    return make


def terminal_executor(concurrency: int, *, subreaper: bool) -> ExecutorFactory:
    """Tasks run by a thread of this process, which hands them its own stdin, stdout and
    stderr: ``uet exec`` (output passed through; with ``subreaper`` this process becomes a
    child subreaper, so what escapes the command's group with setsid is stopped when it
    ends) and runs with ``interactive: true`` tasks."""

    def make(output: OutputSink, clock: Clock) -> Executor:
        reaper = subreaper and become_subreaper()
        return LocalExecutor(
            max_workers=concurrency, output=output, clock=clock, reaper=reaper, stdio_fds=(1, 2)
        )

    return make


def _uses_terminal(options: RunOptions, tasks: Sequence[PlannedTask]) -> bool:
    """Whether the run's processes need this process's stdio (not an executor process's)."""
    return options.stdio is not Stdio.NULL or any(task.interactive for task in tasks)


def _journal(
    settings: Settings, options: RunOptions, run_id: str, tasks: Sequence[PlannedTask]
) -> Path | None:
    """The run's journal when it gets an executor process (not in deterministic mode: its
    event log must not depend on a second process's timing; not for a run that uses the
    terminal)."""
    if settings.executor == "local-inproc" or options.deterministic:
        return None
    if _uses_terminal(options, tasks):
        return None
    return journal_path(settings.home, run_id)


def _default_executor(
    settings: Settings, options: RunOptions, run_id: str, tasks: Sequence[PlannedTask]
) -> ExecutorFactory:
    if _uses_terminal(options, tasks):
        return terminal_executor(options.concurrency, subreaper=options.stdio is not Stdio.NULL)
    journal = _journal(settings, options, run_id, tasks)
    if journal is None:
        return local_executor(options.concurrency)
    return process_executor(options.concurrency, journal)


def check_interactive(plan: Plan, *, non_interactive: bool) -> None:
    """Refuse (SpecError, exit 2) a plan with ``interactive: true`` tasks when uet may not
    use a terminal (``config.is_non_interactive``): nothing starts."""
    if not non_interactive:
        return
    problems = []
    for ws in plan.workstreams:
        source = str(plan.sources.get(ws.id, ws.id))
        tasks: Sequence[TaskSpec | CommandTask] = ws.tasks
        for index, task in enumerate(tasks):
            if task.interactive:
                problems.append(
                    Problem(
                        source,
                        f"tasks[{index}].interactive",
                        f"task {task.id!r} needs a terminal, and uet runs non-interactively "
                        "here (CI=true, UET_NON_INTERACTIVE, --non-interactive or no "
                        "terminal on stdin); drop `interactive: true` or run it from a terminal",
                    )
                )
    if problems:
        raise SpecError(problems)


def start_run(
    plan: Plan,
    *,
    settings: Settings,
    store: Store,
    options: RunOptions,
    progress: Progress | None = None,
    executor_factory: ExecutorFactory | None = None,
    interrupted: threading.Event | None = None,
    bus: EventBus | None = None,
) -> RunResult:
    """Record a new run of ``plan`` and drive it to its end.

    Pass ``bus`` to subscribe to the run's events (``bus.subscribe("task.*", fn)``); it is
    flushed, not closed, when the run ends.
    """
    clock: Clock = FixedClock() if options.deterministic else SystemClock()
    ids = SequentialIds() if options.deterministic else RandomIds()
    run_id = options.run_id or ids.new("run")
    tooling = load_tooling(plan.tasks, settings)  # a bad tools/routing section: nothing starts
    if options.stdio is Stdio.NULL:
        check_interactive(plan, non_interactive=is_non_interactive(settings))
    lease, announce = _record_new_run(
        store, run_id, plan, options, settings=settings, now=clock.now()
    )
    limits = {ws.id: ws.concurrency for ws in plan.workstreams if ws.concurrency}
    return _drive(
        store,
        settings=settings,
        run_id=run_id,
        tasks=plan.tasks,
        limits=limits,
        options=options,
        clock=clock,
        progress=progress,
        executor_factory=executor_factory,
        interrupted=interrupted,
        used={},
        bus=bus,
        announce=announce,
        tooling=tooling,
        lease=lease,
    )


def create_run(
    tx: Transaction,
    plan: Plan,
    *,
    run_id: str,
    options: RunOptions,
    settings: Settings,
    now: float,
    params: Mapping[str, object] | None = None,
) -> tuple[list[NewEvent], list[int | None]]:
    """Write a new run of ``plan`` inside the caller's transaction ``tx``: its row (status
    pending, not yet driven: claimed by this process, so that nobody takes it for orphaned
    while it lives), workstreams, tasks and first events. Returns the events and their
    sequence numbers (to deliver once ``tx`` committed). ``params`` are kept in the run's
    ``params`` (the daemon's ``trigger``, ``fire_key`` and ``chain``).

    The daemon writes a fire and the run it starts in one transaction this way
    (``uet.state.fires.record_fire``); :func:`launch_run` drives the run later, from any
    process."""
    if tx.get_run(run_id) is not None:
        raise UsageError(f"a run {run_id!r} exists already (see `uet status {run_id}`)")
    record = _run_record(
        run_id, plan, options, now, _journal(settings, options, run_id, plan.tasks)
    )
    if params:
        record = dataclasses.replace(record, params={**record.params, **params})
    tx.create_run(record)
    tx.add_workstreams(
        [
            WorkstreamRecord(
                run_id=run_id,
                id=ws.id,
                status=TaskStatus.PENDING,
                name=ws.name,
                concurrency=ws.concurrency,
                depends_on=list(ws.depends_on),
                source=str(plan.sources.get(ws.id, "")) or None,
                spec=ws.model_dump(mode="json", exclude={"tasks"}),
            )
            for ws in plan.workstreams
        ]
    )
    tx.add_tasks([_task_record(run_id, task) for task in plan.tasks])
    created: list[NewEvent] = [
        ("run.created", now, run_id, None, None, {"tasks": len(plan.tasks)})
    ] + [("task.ready", now, run_id, t.key, None, None) for t in plan.tasks if not t.depends_on]
    return created, tx.insert_events(created)


def _record_new_run(
    store: Store, run_id: str, plan: Plan, options: RunOptions, *, settings: Settings, now: float
) -> tuple[RunLease, tuple[list[NewEvent], list[int | None]]]:
    """Write a new run (its workstreams, tasks, first events) owned by this process from
    its first moment: nobody sees the run without its lease held."""
    lease: RunLease | None = None
    try:
        with store.transaction() as tx:
            announce = create_run(
                tx, plan, run_id=run_id, options=options, settings=settings, now=now
            )
            lease = take_lease(
                store,
                run_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                ttl=settings.run_lease_ttl,
                tx=tx,
            )
            return lease, announce
    except BaseException:
        if lease is not None:
            lease.release()
        raise


def kill_grace_of(run: RunRecord) -> float:
    """The seconds from SIGTERM to SIGKILL of ``run``'s tasks (its params say, if not the
    default)."""
    value = run.params.get(KILL_GRACE_PARAM, defaults.KILL_GRACE_S)
    return float(value) if isinstance(value, int | float) else defaults.KILL_GRACE_S


def launch_run(
    run_id: str,
    *,
    settings: Settings,
    store: Store,
    progress: Progress | None = None,
    executor_factory: ExecutorFactory | None = None,
    interrupted: threading.Event | None = None,
    bus: EventBus | None = None,
) -> RunResult | None:
    """Drive a run that :func:`create_run` recorded and nobody started yet, to its end.

    Exactly once: the run's lease is taken first, then its status read again; a run that
    another process holds, started or ended already gives None (nothing was done). A run
    reconciled to ``interrupted`` before anything started it counts as never started."""
    try:
        lease = take_lease(
            store, run_id, host=socket.gethostname(), pid=os.getpid(), ttl=settings.run_lease_ttl
        )
    except LeaseHeldError:
        return None  # another process drives it (or is starting it)
    try:
        with store.reader() as tx:
            run = tx.get_run(run_id)
            rows = tx.get_tasks(run_id) if run is not None else []
            workstreams = tx.get_workstreams(run_id) if run is not None else []
        if run is None:
            raise UsageError(f"no run {run_id!r} (see `uet runs`)")
        unstarted = run.status is RunStatus.PENDING or (
            run.status is RunStatus.INTERRUPTED and run.started_at is None
        )
        if not unstarted:
            return None
        tasks = _in_plan_order(rows)
        tooling = load_tooling(tasks, settings)
        clock: Clock = FixedClock() if run.deterministic else SystemClock()
        options = RunOptions(
            concurrency=int(run.params.get("concurrency", default_concurrency())),
            deterministic=run.deterministic,
            run_id=run_id,
            name=run.name,
            kill_grace=kill_grace_of(run),
        )
    except BaseException:
        lease.release()
        raise
    return _drive(
        store,
        settings=settings,
        run_id=run_id,
        tasks=tasks,
        limits={w.id: w.concurrency for w in workstreams if w.concurrency},
        options=options,
        clock=clock,
        progress=progress,
        executor_factory=executor_factory,
        interrupted=interrupted,
        used={},
        bus=bus,
        tooling=tooling,
        lease=lease,
    )


def resume_run(
    run_id: str,
    *,
    settings: Settings,
    store: Store,
    concurrency: int | None = None,
    progress: Progress | None = None,
    executor_factory: ExecutorFactory | None = None,
    interrupted: threading.Event | None = None,
    bus: EventBus | None = None,
    on_wait: Callable[[int], None] | None = None,
) -> RunResult:
    """Go on with an interrupted run: wait for its previous executor process to end (its
    running tasks with it; ``on_wait(pid)`` says so now and then), adopt the outcomes it
    journaled, reconcile what is left, then run every task not yet done, within what is left
    of each task's retry budget (an attempt lost because uet died uses none of it,
    ``settings.lost_redispatch_max`` times per task)."""
    with store.reader() as tx:
        run = tx.get_run(run_id)
    if run is None:
        raise UsageError(f"no run {run_id!r} (see `uet runs`)")
    clock: Clock = FixedClock() if run.deterministic else SystemClock()
    if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED):
        raise UsageError(f"run {run_id} has {run.status.value}: there is nothing to resume")
    lease = _take_for_resume(store, run, settings, clock)
    try:
        return _resume_owned(
            store,
            run,
            lease,
            settings=settings,
            clock=clock,
            concurrency=concurrency,
            progress=progress,
            executor_factory=executor_factory,
            interrupted=interrupted,
            bus=bus,
            on_wait=on_wait,
        )
    finally:
        lease.release()  # a no-op once the run loop gave it back


def _take_for_resume(store: Store, run: RunRecord, settings: Settings, clock: Clock) -> RunLease:
    """The run's lease, or LeaseHeldError naming the live owner (exit 2)."""
    lease = take_lease(
        store,
        run.id,
        host=socket.gethostname(),
        pid=os.getpid(),
        ttl=settings.run_lease_ttl,
        wait=defaults.RUN_LEASE_WAIT_S,
    )
    stale = settings.orchestrator_stale
    if (
        lease.fresh  # a run of an older uet: no lease to ask, its row must do
        and run.pid != os.getpid()
        and orchestrator_alive(run, clock.now(), stale_after=stale)
    ):
        lease.release()
        raise LeaseHeldError(run.id, pid=run.pid, host=run.host)
    return lease


def _resume_owned(
    store: Store,
    run: RunRecord,
    lease: RunLease,
    *,
    settings: Settings,
    clock: Clock,
    concurrency: int | None,
    progress: Progress | None,
    executor_factory: ExecutorFactory | None,
    interrupted: threading.Event | None,
    bus: EventBus | None,
    on_wait: Callable[[int], None] | None,
) -> RunResult:
    run_id = run.id
    if not wait_for_executor(run, on_wait=on_wait, interrupted=interrupted):
        with store.reader() as tx:  # Ctrl-C while waiting: nothing changed, still resumable
            counts = Counter(row.status for row in tx.get_tasks(run_id))
        return RunResult(run_id, RunStatus.INTERRUPTED, dict(counts))
    reconciled = reconcile(store, run_id, clock, lease=lease)
    with store.reader() as tx:
        rows = tx.get_tasks(run_id)
        attempts = tx.get_attempts(run_id)
        workstreams = tx.get_workstreams(run_id)
    tasks = _in_plan_order(rows)
    tooling = load_tooling(tasks, settings)
    limit = settings.lost_redispatch_max
    used = counted_attempts(attempts, routed_tasks(rows)) - Counter(free_lost(attempts, limit))
    lost_now = [] if reconciled is None else reconciled.lost
    forgiven = redispatch_decisions(run_id, attempts, lost_now, clock.now(), limit)
    numbered: dict[str, int] = {}  # a canceled attempt's number is not given again
    for attempt in attempts:
        numbered[attempt.task_id] = max(numbered.get(attempt.task_id, 0), attempt.number)
    options = RunOptions(
        concurrency=concurrency or int(run.params.get("concurrency", default_concurrency())),
        deterministic=run.deterministic,
        run_id=run_id,
        name=run.name,
        abort_kills=bool(run.params.get(ABORT_KILLS_PARAM, False)),  # `uet run --abort-kills`
        kill_grace=kill_grace_of(run),
    )
    limits = {w.id: w.concurrency for w in workstreams if w.concurrency}
    resumed: list[NewEvent] = [("run.resumed", clock.now(), run_id, None, None, None)]
    with store.transaction() as tx:
        tx.claim_run(run_id, host=socket.gethostname(), pid=os.getpid(), at=time.time())
        tx.set_run_status(run_id, RunStatus.RUNNING)
        tx.record_decisions(forgiven)
        announce = (resumed, tx.insert_events(resumed))
    return _drive(
        store,
        settings=settings,
        run_id=run_id,
        tasks=tasks,
        limits=limits,
        options=options,
        clock=clock,
        progress=progress,
        executor_factory=executor_factory,
        interrupted=interrupted,
        used=used,
        numbered=numbered,
        finished={r.id: r.status for r in rows if r.status.finished},
        bus=bus,
        announce=announce,
        tooling=tooling,
        lease=lease,
    )


def _drive(
    store: Store,
    *,
    settings: Settings,
    run_id: str,
    tasks: Sequence[PlannedTask],
    limits: Mapping[str, int],
    options: RunOptions,
    clock: Clock,
    progress: Progress | None,
    executor_factory: ExecutorFactory | None,
    interrupted: threading.Event | None,
    used: Mapping[str, int],
    finished: Mapping[str, TaskStatus] | None = None,
    numbered: Mapping[str, int] | None = None,
    bus: EventBus | None = None,
    announce: tuple[Sequence[NewEvent], Sequence[int | None]] = ((), ()),
    tooling: Tooling | None = None,
    lease: RunLease,
) -> RunResult:
    """Drive the run whose ``lease`` this process holds: the run loop's write transactions
    renew it (the fence), and it is given back however the loop ends."""
    own_bus = bus is None
    bus = bus or EventBus(store, clock=clock, fault_timeout=settings.store_fault_timeout)
    result: RunResult | None = None
    try:
        with store.fenced(lease.renew):  # every write transaction of the run renews it
            context = RunContext(
                store=store,
                bus=bus,
                executor_factory=executor_factory
                or _default_executor(settings, options, run_id, tasks),
                clock=clock,
                run_id=run_id,
                options=options,
                root=settings.root,
                home=settings.home,
                progress=progress or NullProgress(),
                base_env=os.environ,
                secrets=known_secrets(os.environ, settings.sections, settings.db),
                interrupted=interrupted or threading.Event(),
                lock_timeout=settings.sqlite_busy_timeout,
                tool_tasks=None
                if tooling is None
                else _tool_tasks(
                    tooling, store, settings, run_id, clock, fixed=options.deterministic
                ),
            )
            loop = RunLoop(context, tasks, workstream_limits=limits, used=used, numbered=numbered)
            _restore(loop, finished or {}, store, run_id, clock)
            now = clock.now()
            started: list[NewEvent] = [("run.started", now, run_id, None, None, None)]
            with store.transaction() as tx:
                tx.claim_run(run_id, host=socket.gethostname(), pid=os.getpid(), at=time.time())
                first = finished is None  # a resumed run keeps the time it first started
                tx.set_run_status(run_id, RunStatus.RUNNING, started_at=now if first else None)
                seqs = tx.insert_events(started)
            bus.deliver_committed(*announce)
            bus.deliver_committed(started, seqs)
            if progress is not None:
                progress.started(run_id, len(tasks))
            result = loop.run()
        return result
    except StorageFault as fault:
        bus.give_up_retrying()  # nothing it holds can be written now: no waiting at close
        raise StorageFault(
            f"{fault}; run {run_id} stopped (its processes were killed); what was committed "
            f"before stays: `uet resume {run_id}` once the database can be written again"
        ) from fault
    finally:
        try:
            if own_bus:
                bus.close(timeout=defaults.EVENT_CLOSE_TIMEOUT_S)
            else:
                bus.flush()
        finally:  # however the loop ended
            lease.release(finished=result is not None and result.status in _ENDED)


_ENDED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED)
"""Statuses a run never leaves: its lock file goes with its lease."""


def _tool_tasks(
    tooling: Tooling, store: Store, settings: Settings, run_id: str, clock: Clock, *, fixed: bool
) -> ToolTasks:
    from uet.routing import Router  # noqa: PLC0415 - for a plan with tool tasks only

    router = Router(
        tooling.routing,
        store=store,
        clock=clock,
        deterministic=fixed,
        run_id=run_id,
        **tooling.router_inputs(),
    )
    return ToolTasks(tooling, router, run_id=run_id, root=settings.root, home=settings.home)


def _restore(
    loop: RunLoop, finished: Mapping[str, TaskStatus], store: Store, run_id: str, clock: Clock
) -> None:
    """Replay finished tasks into the scheduler; tasks whose budget a lost attempt used up
    fail now (and their dependents are skipped), written before anything runs."""
    exhausted = {
        key: TaskStatus.FAILED
        for key, task in loop.tasks.items()
        if key not in finished and loop.used.get(key, 0) >= task.max_attempts
    }
    loop.scheduler.restore({**finished, **exhausted})
    changed = [
        TaskUpdate(key, status, ended_at=clock.now())
        for key, status in loop.scheduler.status.items()
        if status.finished and finished.get(key) is not status
    ]
    if changed:
        with store.transaction() as tx:
            tx.update_tasks(run_id, changed)


def _in_plan_order(rows: Sequence[TaskRecord]) -> list[PlannedTask]:
    by_key = {
        row.id: planned_from_document(row.id, row.workstream_id, row.depends_on, row.spec)
        for row in rows
    }
    order = topological_order({key: task.depends_on for key, task in by_key.items()})
    return [by_key[key] for key in order]


def _run_record(
    run_id: str, plan: Plan, options: RunOptions, now: float, journal: Path | None
) -> RunRecord:
    # Claimed by this process from its first moment (wall-clock heartbeat, whatever the
    # run's clock): a `uet status` that looks in between must not take it for orphaned.
    return RunRecord(
        id=run_id,
        status=RunStatus.PENDING,
        created_at=now,
        host=socket.gethostname(),
        pid=os.getpid(),
        heartbeat_at=time.time(),
        name=options.name,
        deterministic=options.deterministic,
        params={
            "concurrency": options.concurrency,
            "files": sorted({str(path) for path in plan.sources.values()}),
            "workstreams": [ws.id for ws in plan.workstreams],
            **({} if journal is None else {JOURNAL_PARAM: str(journal)}),
            **({ABORT_KILLS_PARAM: True} if options.abort_kills else {}),
            **(
                {KILL_GRACE_PARAM: options.kill_grace}
                if options.kill_grace != defaults.KILL_GRACE_S
                else {}
            ),
        },
    )


def _task_record(run_id: str, task: PlannedTask) -> TaskRecord:
    return TaskRecord(
        run_id=run_id,
        id=task.key,
        workstream_id=task.workstream_id,
        status=TaskStatus.READY if not task.depends_on else TaskStatus.PENDING,
        depends_on=list(task.depends_on),
        spec=task_document(task),
        max_attempts=task.max_attempts,
    )


def run(
    source: Plan | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    settings: Settings | None = None,
    concurrency: int | None = None,
    deterministic: bool = False,
    run_id: str | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run workstream files (or a loaded :class:`Plan`) to their end: ``uet.run(...)``.

    ::

        result = uet.run(["workstreams/build.yaml"], concurrency=8)
        assert result.status is uet.RunStatus.SUCCEEDED, result.counts
    """
    from uet.spec.loader import load_files  # noqa: PLC0415 - `uet exec` needs no loader

    plan = source if isinstance(source, Plan) else load_files(source)
    settings = settings or load_settings()
    options = RunOptions.make(concurrency=concurrency, deterministic=deterministic, run_id=run_id)
    store = Store.open(settings)
    try:
        return start_run(plan, settings=settings, store=store, options=options, progress=progress)
    finally:
        store.close()
