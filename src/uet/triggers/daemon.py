"""``uet daemon``: fire the project's triggers until stopped, exactly once per fire key.

The loop (:class:`Daemon`), one leader per store (``uet.state.daemon_lease``)::

    take leadership (or wait as a standby) → reconcile runs whose orchestrator died
    each tick:  start fires' runs nobody started (a crash between fire and launch)
                schedules (cron, every): due fires per catch-up policy, skips recorded
                events: follow the store's log (cursor), match, fire `event:<id>`
                files: drain the watcher, debounce (quiet window), fire `files:<ms>`
                every fire passes overlap and max_runs_per_hour first
    stop (SIGTERM/SIGINT): stop firing; interrupt the runs it drives (resumable), or with
                `drain` wait for them to end; give leadership back

What a crash does at each point: before a fire's transaction commits, nothing was written
(the next leader fires the key); after it, the fire and its pending run exist together, and
whoever leads next starts the run (``fires.unlaunched_fires``); a run already started lives
on in its own session, and ``uet launch`` drives a run at most once (its lease, then its
status). The event cursor is saved after the fires it led to: a restart reads a few events
again, and their keys (``event:<id>``) are already in the ledger.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from uet import defaults
from uet.clock import Clock
from uet.config import Settings
from uet.engine.recovery import cancel_run, reconcile
from uet.errors import ConfigError, SpecError, StoreError
from uet.ids import IdFactory, RandomIds
from uet.spec.models import Plan
from uet.spec.triggers import Overlap, TriggerKind, Triggers, TriggerSpec
from uet.state import fires as ledger
from uet.state.daemon_lease import DaemonLease, Leader, take_leadership
from uet.state.database import sqlite_path
from uet.state.fires import FireStatus
from uet.state.records import EventRecord
from uet.state.store import Store
from uet.states import RunStatus
from uet.triggers.files import Debouncer, FileFilter
from uet.triggers.firing import CHAIN_PARAM, Fired, Firing, Skip
from uet.triggers.follow import EventFollower
from uet.triggers.launcher import Launcher
from uet.triggers.match import EventMatcher, event_view
from uet.triggers.policy import due_fires_for, rate_capped
from uet.triggers.schedule import Schedule, schedule_of
from uet.triggers.targets import plan_for
from uet.triggers.watch import FileWatcher, roots_of

Emit = Callable[[Mapping[str, Any]], None]
"""Where the daemon reports what it does (``--json``: one JSON line each)."""

_HOUR_S = 3600.0
_SCHEDULED = (TriggerKind.CRON, TriggerKind.EVERY)
CURSOR_SAVE_S = 0.25
"""How often the event cursor is saved while a batch of events is worked through (and the
skips made so far written with it)..."""
SKIPS_PER_COMMIT = 64
"""... or sooner, once this many skips wait to be written: a leader killed soon after it
took over has still written something."""
SEEN_CURSOR = "seen:"
"""``trigger_cursors`` rows ``seen:<trigger id>``: when the daemon first saw the trigger."""


@dataclass
class Daemon:
    """The daemon of ``store`` for ``triggers``. :meth:`serve` runs it; :meth:`tick` is one
    pass (what ``--once`` does, and what tests drive with a fake ``clock``)."""

    settings: Settings
    store: Store
    triggers: Triggers
    clock: Clock
    emit: Emit = lambda _report: None
    ids: IdFactory = field(default_factory=RandomIds)
    launcher: Launcher | None = None
    plans: dict[str, Plan] = field(default_factory=dict)
    started_at: float = 0.0

    def __post_init__(self) -> None:
        self.launcher = self.launcher or Launcher(self.settings)
        enabled = [t for t in self.triggers if t.enabled]
        self.enabled = enabled
        self._stamps: dict[str, tuple[tuple[str, int, int], ...]] = {}
        for spec in enabled:  # a bad target: exit 2 before anything fires
            self.plans[spec.id] = plan_for(spec, self.settings.root, self.settings)
            self._stamps[spec.id] = self._stamp(spec)
        self.firing = Firing(
            self.store,
            self.settings,
            clock=self.clock,
            ids=self.ids,
            plans=self.plan_of,
        )
        self.schedules: dict[str, Schedule] = {
            t.id: schedule_of(t) for t in enabled if t.kind in _SCHEDULED
        }
        self.matcher = EventMatcher([t for t in enabled if t.kind is TriggerKind.EVENT])
        self.file_triggers = [t for t in enabled if t.kind is TriggerKind.FILES]
        database = sqlite_path(self.settings.db)
        self.filters = {
            t.id: FileFilter(
                t,
                self.settings.root,
                self._own_paths(t),
                home=self.settings.home,
                db_path=database,
            )
            for t in self.file_triggers
        }
        self.debouncers = {t.id: Debouncer(t.debounce) for t in self.file_triggers}
        self.follower: EventFollower | None = None
        self.watcher: FileWatcher | None = None
        self.wake = threading.Event()
        self.started_at = self.started_at or self.clock.now()
        self._last_recovery = -math.inf
        self.enabled_at: dict[str, float] = {}
        self._launched: dict[str, tuple[str, str]] = {}  # run id -> (trigger id, fire key)

    def plan_of(self, spec: TriggerSpec) -> Plan:
        """What ``spec`` starts now: its workstream files are loaded again when one of them
        changed since (size or modification time), so an edit needs no restart; one that
        no longer loads raises (SpecError, ConfigError), and the fire is skipped with the
        error as its reason (:meth:`attempt`) until the file is fixed."""
        stamp = self._stamp(spec)
        if stamp != self._stamps.get(spec.id):
            self.plans[spec.id] = plan_for(spec, self.settings.root, self.settings)
            self._stamps[spec.id] = stamp = self._stamp(spec)  # with the new plan's files
            self.emit({"reloaded": spec.id, "files": [path for path, _s, _m in stamp]})
        return self.plans[spec.id]

    def _stamp(self, spec: TriggerSpec) -> tuple[tuple[str, int, int], ...]:
        """(path, size, mtime ns) of ``spec``'s workstream files and of those its plan came
        from; empty for exec and script targets."""
        files = [self.settings.root / path for path in spec.target.workstreams or ()]
        plan = self.plans.get(spec.id)
        if plan is not None:
            files += list(plan.sources.values())
        stamps = []
        for path in sorted({str(f) for f in files}):
            try:
                info = os.stat(path)
            except OSError:
                stamps.append((path, -1, -1))
            else:
                stamps.append((path, info.st_size, info.st_mtime_ns))
        return tuple(stamps)

    # -- lifecycle ------------------------------------------------------------------------

    def serve(
        self,
        stop: threading.Event,
        *,
        once: bool = False,
        drain: bool = False,
        on_standby: Callable[[Leader], None] | None = None,
    ) -> bool:
        """Lead and fire until ``stop`` is set (``once``: one tick). False: another daemon
        leads and ``once`` was asked (nothing done), or ``stop`` came while standing by."""
        lease = take_leadership(
            self.store,
            host=socket.gethostname(),
            pid=os.getpid(),
            wait=not once,
            stop=stop,
            on_standby=on_standby,
        )
        if lease is None:
            return False
        with lease:
            self.emit({"daemon": "leading", "epoch": lease.epoch})
            self.start()
            try:
                self._loop(stop, lease, once=once)
            finally:
                self.close(drain=drain, detach=once)
        return True

    def start(self) -> None:
        """Reconcile runs left by dead orchestrators and resume the triggers' runs among
        the interrupted; open the event cursor and watcher."""
        self.reconcile()
        self.resume_interrupted()
        self.enabled_at = self._first_seen()
        if len(self.matcher):
            self.follower = EventFollower.resume(self.store, at=self.clock.now())
        if self.file_triggers:
            globs = [g for t in self.file_triggers for g in t.files or ()]
            self.watcher = FileWatcher(
                roots_of(globs, self.settings.root), wake=self.wake, on_degraded=self._degraded
            )
            self.watcher.start()
            self.watcher.ready.wait(2.0)

    def _first_seen(self) -> dict[str, float]:
        """When the daemon first saw each scheduled trigger (kept in the store: no catch-up
        ever reaches before it, and a `--once` from cron fires the next slot after it)."""
        now = self.clock.now()
        seen: dict[str, float] = {}
        with self.store.transaction() as tx:
            for trigger_id in self.schedules:
                name = f"{SEEN_CURSOR}{trigger_id}"
                stored = ledger.load_cursor(tx, name)
                if stored is None:
                    ledger.save_cursor(tx, math.ceil(now), at=now, name=name)
                seen[trigger_id] = float(math.ceil(now) if stored is None else stored)
        return seen

    def close(self, *, drain: bool, detach: bool = False) -> None:
        """Stop watching; then wait for the runs this daemon started (``drain``), leave them
        going in their own sessions (``detach``: ``--once``), or interrupt them (SIGTERM:
        each stops resumable; one still starting stays pending, and the next daemon
        starts it)."""
        if self.watcher is not None:
            self.watcher.stop()
        assert self.launcher is not None  # noqa: S101 - set in __post_init__
        if detach:
            return
        if drain:  # the queued runs (overlap: queue) too, each after the one before it
            while True:
                self._launch_queued()
                if not self.launcher.running():
                    break
                time.sleep(0.1)
        else:
            self.launcher.interrupt(defaults.DAEMON_STOP_S)

    def _loop(self, stop: threading.Event, lease: DaemonLease, *, once: bool) -> None:
        while not stop.is_set():
            if not lease.check():
                raise StoreError("the daemon lost its lock on the database: stopping")
            self.tick()
            if once:
                return
            self.wake.wait(self.next_wake())
            self.wake.clear()

    def reconcile(self) -> list[str]:
        """`uet status --reconcile` for every run still marked running whose orchestrator
        died: each becomes ``interrupted`` (resumable). Returns their ids."""
        with self.store.reader() as tx:
            stuck = tx.list_runs(limit=1000, statuses=[RunStatus.RUNNING, RunStatus.CANCELING])
        done = []
        for run in stuck:
            settled = reconcile(
                self.store,
                run.id,
                self.clock,
                ttl=self.settings.run_lease_ttl,
                stale_after=self.settings.orchestrator_stale,
            )
            if settled is not None:
                done.append(run.id)
                self.emit({"reconciled": run.id, "status": settled.status.value})
        return done

    def resume_interrupted(self) -> list[str]:
        """``uet resume`` each run a trigger of this project started that was interrupted
        after it started (the daemon stopped without ``--drain``, or its orchestrator was
        killed with it: a reboot, a cgroup killed whole), so a stop is a pause. At most
        :data:`defaults.TRIGGER_RESUMES_MAX` times per run (a run that keeps taking its
        orchestrator down is left ``interrupted``, said once per start); a run of a trigger
        no longer configured, or disabled, is left for ``uet resume``. The ones never
        started are the ledger's (:meth:`recover`). Returns the runs resumed."""
        assert self.launcher is not None  # noqa: S101 - set in __post_init__
        wanted = {t.id for t in self.enabled}
        with self.store.reader() as tx:
            stopped = tx.list_runs(limit=1000, statuses=[RunStatus.INTERRUPTED])
            candidates = [
                (run, len(tx.get_events(run.id, types="run.resumed")))
                for run in stopped
                if run.started_at is not None and run.params.get("trigger") in wanted
            ]
        resumed = []
        for run, times in sorted(candidates, key=lambda c: c[0].created_at):
            if times >= defaults.TRIGGER_RESUMES_MAX:
                self.emit({"not_resumed": run.id, "reason": f"resumed {times} times already"})
                continue
            self.launcher.launch(run.id, resume=True)
            self._launched[run.id] = (str(run.params["trigger"]), str(run.params["fire_key"]))
            resumed.append(run.id)
            self.emit({"resumed": run.id, "trigger": run.params["trigger"]})
        return resumed

    # -- one tick -------------------------------------------------------------------------

    def tick(self) -> list[Fired]:
        """One pass over the ledger, schedules, events and file changes."""
        assert self.launcher is not None  # noqa: S101 - set in __post_init__
        self._failed_launches(self.launcher.reap())
        out: list[Fired] = []
        self.recover()
        now = self.clock.now()
        for spec in self.enabled:
            schedule = self.schedules.get(spec.id)
            if schedule is not None:
                out += self._scheduled(spec, schedule, now)
        if self.follower is not None:
            out += self._events()
        if self.watcher is not None:
            out += self._files()
        self._launch_queued()
        return out

    def recover(self, *, every: float = 1.0) -> None:
        """Start the fires' runs that nobody started (a daemon died in between), at most
        once a second; runs this daemon's own children are starting are left alone."""
        assert self.launcher is not None  # noqa: S101 - set in __post_init__
        if time.monotonic() - self._last_recovery < every:
            return
        self._last_recovery = time.monotonic()
        mine = self.launcher.running()
        with self.store.reader() as tx:
            waiting = ledger.unlaunched_fires(tx)
        for fire in waiting:
            if fire.run_id is None or fire.run_id in mine:
                continue
            spec = self.triggers.by_id.get(fire.trigger_id)
            if spec is not None and spec.overlap is Overlap.QUEUE and self._busy(spec, fire):
                continue  # queued behind a run of its trigger still going
            self._launch(fire.trigger_id, fire.fire_key, fire.run_id)

    # -- schedules ------------------------------------------------------------------------

    def _scheduled(self, spec: TriggerSpec, schedule: Schedule, now: float) -> list[Fired]:
        with self.store.reader() as tx:
            last = ledger.last_scheduled(tx).get(spec.id)
        now_dt = datetime.fromtimestamp(now, UTC)
        last_dt = None if last is None else datetime.fromtimestamp(last, UTC)
        first = self.enabled_at.get(spec.id, self.started_at)
        enabled_from = first if last is None else min(first, last)
        due = due_fires_for(
            spec,
            schedule,
            last_fire=last_dt,
            enabled_at=datetime.fromtimestamp(enabled_from, UTC),
            now=now_dt,
        )
        out: list[Fired] = []
        if due.skipped:  # a catch-up's skips (an outage of a day: 86,400 of them) together
            skips = [
                Skip(spec, s.key, str(s.reason), scheduled_for=s.at.timestamp())
                for s in due.skipped
            ]
            with self.store.transaction() as tx:
                out = self.firing.skip_many(tx, skips)
        for fire in due.launch:
            reason = f"{spec.kind} due"
            out.append(self.attempt(spec, fire.key, reason=reason, scheduled_for=fire.at))
        for fired in out:
            self._report(fired)
        return out

    # -- events ---------------------------------------------------------------------------

    def _events(self) -> list[Fired]:
        """Match the new events; fire, or skip with a reason. The skips of a batch (the
        common case under load: ``overlap: skip`` while a run goes) are written together
        with the cursor, every :data:`CURSOR_SAVE_S` and at the end, each trigger's policy
        state read once per such stretch and again after each of its fires."""
        assert self.follower is not None  # noqa: S101 - checked by the caller
        batch = self.follower.poll()
        if not batch:
            return []
        runs = self._runs_of(batch)
        with self.store.reader() as tx:  # a batch read again after a restart: no query each
            ids = [t.id for t in self.enabled if t.kind is TriggerKind.EVENT]
            known = ledger.known_keys(tx, ids, [f"event:{e.id}" for e in batch])
        out: list[Fired] = []
        skips: list[Skip] = []
        policy: dict[str, tuple[list[tuple[str, str, str]], int]] = {}
        saved = time.monotonic()
        for event in batch:
            params = runs.get(event.run_id or "", {})
            view = event_view(
                event.payload,
                event_type=event.type,
                run_id=event.run_id,
                task_id=event.task_id,
                attempt_id=event.attempt_id,
                workstreams=list(params.get("workstreams", [])),
                trigger=params.get("trigger"),
            )
            for spec in self.matcher.match(event.type, view):
                chain = list(params.get(CHAIN_PARAM, []))
                key = f"event:{event.id}"
                if (spec.id, key) in known:
                    continue  # fired or skipped before (a batch read again)
                # a skip made for a skip writes no event of its own: two triggers on
                # trigger.skipped would otherwise skip each other's skips forever
                quiet = event.type == "trigger.skipped"
                if chain.count(spec.id) >= defaults.TRIGGER_CYCLE_MAX:
                    skips.append(Skip(spec, key, f"cycle: {' -> '.join([*chain, spec.id])}", quiet))
                    continue
                if spec.id not in policy:
                    policy[spec.id] = self._policy_state(spec)
                going, recent = policy[spec.id]
                why = _skip_reason(spec, going, recent)
                if why is not None:
                    skips.append(Skip(spec, key, why, quiet))
                    continue
                out += self._write_skips(skips, None)
                fired = self.attempt(
                    spec, key, reason=f"event {event.type}", chain=chain, quiet=quiet
                )
                policy.pop(spec.id, None)
                self._report(fired)
                out.append(fired)
                # the cursor right after a fire: a leader killed now is not followed by
                # one that reads all of this batch again
                self._save_cursor(self.follower.position_after((event.id or 0) - 1))
            if len(skips) >= SKIPS_PER_COMMIT or time.monotonic() - saved >= CURSOR_SAVE_S:
                out += self._write_skips(skips, self.follower.position_after(event.id or 0))
                policy.clear()
                saved = time.monotonic()
        out += self._write_skips(skips, self.follower.position)
        return out

    def _write_skips(self, skips: list[Skip], cursor: int | None) -> list[Fired]:
        """Record ``skips`` (emptied) and save the event cursor at ``cursor``, one commit."""
        if not skips and cursor is None:
            return []
        with self.store.transaction() as tx:
            written = self.firing.skip_many(tx, skips)
            if cursor is not None:
                ledger.save_cursor(tx, cursor, at=self.clock.now())
        skips.clear()
        for fired in written:
            self._report(fired)
        return written

    def _save_cursor(self, position: int) -> None:
        with self.store.transaction() as tx:
            ledger.save_cursor(tx, position, at=self.clock.now())

    def _policy_state(self, spec: TriggerSpec) -> tuple[list[tuple[str, str, str]], int]:
        """``spec``'s runs still going, and how many runs it started in the last hour."""
        with self.store.reader() as tx:
            going = ledger.active_runs(tx, spec.id)
            recent = ledger.fires_since(tx, spec.id, self.clock.now() - _HOUR_S)
        return going, recent

    def _runs_of(self, batch: Sequence[EventRecord]) -> dict[str, dict[str, Any]]:
        ids = {e.run_id for e in batch if e.run_id is not None}
        with self.store.reader() as tx:
            found = tx.get_runs(ids)
        return {run_id: dict(run.params) for run_id, run in found.items()}

    # -- files ----------------------------------------------------------------------------

    def _files(self) -> list[Fired]:
        """Changes into each file trigger's debouncer; a batch that is ready fires."""
        assert self.watcher is not None  # noqa: S101 - checked by the caller
        changes = self.watcher.drain()
        now = time.monotonic()
        out: list[Fired] = []
        for spec in self.file_triggers:
            debouncer = self.debouncers[spec.id]
            for at, path in changes:
                if self.filters[spec.id].fires(path):
                    debouncer.add(at, path)
            batch = debouncer.ready(now)
            if batch is None:
                continue
            key = f"files:{int(self.clock.now() * 1000)}"
            reason = f"{len(batch.paths)} file(s) changed: {', '.join(batch.paths[:3])}"
            fired = self.attempt(spec, key, reason=reason)
            self._report(fired)
            out.append(fired)
        return out

    def next_wake(self) -> float:
        """Seconds until the daemon must look again (a debounce window ending, or a tick)."""
        if self.follower is not None and (self.follower.full or self.follower.gaps):
            return 0.0 if self.follower.full else 0.05  # more to read, or a gap to settle
        now = time.monotonic()
        deadlines = [d for b in self.debouncers.values() if (d := b.deadline()) is not None]
        soonest = min(deadlines, default=now + defaults.DAEMON_TICK_S)
        return max(0.0, min(defaults.DAEMON_TICK_S, soonest - now))

    def _own_paths(self, spec: TriggerSpec) -> list[str]:
        """What the trigger's own runs write: the files its target's tasks declare."""
        plan = self.plans.get(spec.id)
        if plan is None:
            return []
        return [glob for task in plan.tasks for glob in task.spec.files_scope]

    def _degraded(self, reason: str) -> None:
        now = self.clock.now()
        self.store.insert_events([("trigger.degraded", now, None, None, None, {"reason": reason})])
        self.emit({"degraded": reason})

    # -- the policies ---------------------------------------------------------------------

    def attempt(
        self,
        spec: TriggerSpec,
        key: str,
        *,
        reason: str,
        scheduled_for: datetime | None = None,
        chain: Sequence[str] = (),
        quiet: bool = False,
    ) -> Fired:
        """Fire ``key`` unless a policy skips it (overlap, max_runs_per_hour); the run is
        started at once, or queued behind its trigger's running run (``overlap: queue``)."""
        at = None if scheduled_for is None else scheduled_for.timestamp()
        with self.store.reader() as tx:
            if ledger.get_fire(tx, spec.id, key) is not None:
                return Fired(spec.id, key, "duplicate", scheduled_for=at)
            going = ledger.active_runs(tx, spec.id)
            recent = ledger.fires_since(tx, spec.id, self.clock.now() - _HOUR_S)
        skip = _skip_reason(spec, going, recent)
        if skip is not None:
            return self.firing.skip(spec, key, reason=skip, scheduled_for=at, quiet=quiet)
        try:
            self.plan_of(spec)
        except (SpecError, ConfigError) as error:
            why = f"target does not load: {error}"
            return self.firing.skip(spec, key, reason=why, scheduled_for=at, quiet=quiet)
        if spec.overlap is Overlap.REPLACE and going:
            self._replace([run_id for run_id, _status, _fire in going], spec.grace)
        fired = self.firing.fire(spec, key, reason=reason, scheduled_for=at, chain=chain)
        queued = spec.overlap is Overlap.QUEUE and bool(going)
        if fired.run_id is not None and not queued:
            self._launch(spec.id, key, fired.run_id)
        return fired

    def _busy(self, spec: TriggerSpec, fire: ledger.FireRecord) -> bool:
        """Whether another run of ``spec`` than ``fire``'s still goes."""
        with self.store.reader() as tx:
            going = ledger.active_runs(tx, spec.id)
        return any(run_id != fire.run_id for run_id, _status, _fire in going)

    def _launch_queued(self) -> None:
        """``overlap: queue``: start a queued run once its trigger's previous one ended."""
        queued = [t for t in self.enabled if t.overlap is Overlap.QUEUE]
        if not queued:
            return
        for spec in queued:
            with self.store.reader() as tx:
                going = ledger.active_runs(tx, spec.id)
            waiting = [g for g in going if g[2] == FireStatus.FIRED.value and g[1] == "pending"]
            if waiting and len(going) == len(waiting):
                run_id = waiting[0][0]
                key = self._key_of(spec.id, run_id)
                if key is not None:
                    self._launch(spec.id, key, run_id)

    def _key_of(self, trigger_id: str, run_id: str) -> str | None:
        with self.store.reader() as tx:
            for fire in ledger.list_fires(tx, trigger_id=trigger_id, limit=50):
                if fire.run_id == run_id:
                    return fire.fire_key
        return None

    def _launch(self, trigger_id: str, key: str, run_id: str) -> None:
        assert self.launcher is not None  # noqa: S101 - set in __post_init__
        if run_id in self.launcher.running():
            return
        self.launcher.launch(run_id)
        self._launched[run_id] = (trigger_id, key)
        with self.store.transaction() as tx:
            ledger.set_fire_status(tx, trigger_id, key, FireStatus.LAUNCHED)

    def _failed_launches(self, ended: Mapping[str, int]) -> None:
        """A ``uet launch`` that refused its run (exit 2: bad input, such as a tools
        section that no longer loads; 3: the database) and left it pending: its fire is
        ``failed`` with the reason, and is not started again every second."""
        for run_id, code in ended.items():
            fire = self._launched.pop(run_id, None)
            if fire is None or code not in (2, 3):
                continue
            with self.store.transaction() as tx:
                run = tx.get_run(run_id)
                if run is None or run.status is not RunStatus.PENDING:
                    continue
                reason = f"uet launch exited {code}: see .uet/logs/{run_id}/launch.log"
                ledger.set_fire_status(tx, fire[0], fire[1], FireStatus.FAILED, reason)
            self.emit({"launch_failed": run_id, "trigger": fire[0], "reason": reason})

    def _replace(self, run_ids: Sequence[str], grace: float) -> None:
        """``overlap: replace``: cancel the trigger's runs still going. Their orchestrators
        stop each task's group with the trigger's ``grace`` (SIGTERM, SIGKILL ``grace`` s
        later: the runs a replace trigger starts carry it, ``kill_grace``); one whose
        orchestrator does not is killed by the canceler, with the same grace."""
        for run_id in run_ids:
            thread = threading.Thread(
                target=_cancel, args=(self.store, run_id, self.clock, grace), daemon=True
            )
            thread.start()

    def _report(self, fired: Fired) -> None:
        if fired.outcome != "duplicate":
            self.emit(fired.as_dict())


def _skip_reason(
    spec: TriggerSpec, going: Sequence[tuple[str, str, str]], recent: int
) -> str | None:
    """Why ``spec``'s policies skip a fire now (None: they do not): ``max_runs_per_hour``
    first, then overlap."""
    if rate_capped(recent, spec.max_runs_per_hour):
        return f"max_runs_per_hour: {recent} runs in the last hour"
    return _overlap_skip(spec, going)


def _overlap_skip(spec: TriggerSpec, going: Sequence[tuple[str, str, str]]) -> str | None:
    """Why ``spec``'s overlap policy skips a fire now (None: it does not)."""
    if not going:
        return None
    if spec.overlap is Overlap.SKIP:
        return f"overlap: run {going[-1][0]} is still {going[-1][1]}"
    if spec.overlap is Overlap.QUEUE:
        waiting = [g for g in going if g[2] == FireStatus.FIRED.value and g[1] == "pending"]
        if waiting:
            return f"overlap=queue: run {waiting[-1][0]} is queued already"
    return None


def _cancel(store: Store, run_id: str, clock: Clock, grace: float) -> None:
    with contextlib.suppress(StoreError):
        cancel_run(store, run_id, clock, grace=grace)
