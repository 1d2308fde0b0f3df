"""The fire ledger: one row and one run per (trigger, fire key), written together or not at
all; a recorded run is driven at most once; the event follower neither loses nor repeats."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from uet.clock import SystemClock
from uet.engine.api import launch_run
from uet.ids import RandomIds
from uet.spec.triggers import TriggerSpec
from uet.state import fires as ledger
from uet.state.daemon_lease import take_leadership
from uet.state.fires import FireRecord, FireStatus
from uet.state.store import Store
from uet.states import RunStatus
from uet.triggers.firing import Firing, Skip
from uet.triggers.follow import EventFollower
from uet.triggers.targets import plan_for

from .helpers import settings_of

SPEC = TriggerSpec.model_validate({"id": "tick", "every": "1s", "target": {"exec": ["true"]}})


def _firing(store: Store, root: Path, db: str) -> Firing:
    settings = settings_of(root, db)
    plan = plan_for(SPEC, root)
    return Firing(store, settings, clock=SystemClock(), ids=RandomIds(), plans=lambda _s: plan)


def _count(store: Store, table: str) -> int:
    with store.reader() as tx:
        return int(tx.conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_fire_key_fires_once_and_a_repeat_writes_nothing(db_url: str, tmp_path: Path) -> None:
    """record_fire inserts with ON CONFLICT DO NOTHING: the second time nothing is written and
    its `create` (which would write the run) is never called."""
    store = Store.open(db_url)
    calls: list[str] = []
    fire = FireRecord("tick", "every:1", fired_at=1.0, status=FireStatus.FIRED)
    with store.transaction() as tx:
        assert ledger.record_fire(tx, fire, lambda _tx: calls.append("first"))
    with store.transaction() as tx:
        assert not ledger.record_fire(tx, fire, lambda _tx: calls.append("second"))
    assert calls == ["first"]
    assert _count(store, "trigger_fires") == 1


def test_a_fire_and_its_run_are_written_together(db_url: str, tmp_path: Path) -> None:
    """Firing.fire writes the ledger row, the pending run, trigger.fired in the run's log and
    a decision; the same key again is a duplicate and adds no run."""
    store = Store.open(db_url)
    firing = _firing(store, tmp_path, db_url)
    first = firing.fire(SPEC, "every:7", reason="every due")
    again = firing.fire(SPEC, "every:7", reason="every due")
    assert (first.outcome, again.outcome) == ("fired", "duplicate")
    assert _count(store, "runs") == 1
    with store.reader() as tx:
        run = tx.get_run(first.run_id or "")
        events = [e.type for e in tx.get_events(first.run_id)]
        decisions = tx.get_decisions(category="trigger")
    assert run is not None
    assert run.status is RunStatus.PENDING
    assert run.params["trigger"] == "tick"
    assert run.params["fire_key"] == "every:7"
    assert events == ["run.created", "task.ready", "trigger.fired"]
    assert [(d.chosen, d.run_id) for d in decisions] == [("fire", first.run_id)]


def test_a_failing_run_write_leaves_no_fire(db_url: str, tmp_path: Path) -> None:
    """If writing the run fails, the fire row rolls back with it: the key can fire later."""
    store = Store.open(db_url)
    fire = FireRecord("tick", "every:9", fired_at=1.0, status=FireStatus.FIRED)

    def broken(_tx: object) -> None:
        raise RuntimeError("disk said no")

    with pytest.raises(RuntimeError), store.transaction() as tx:
        ledger.record_fire(tx, fire, broken)
    assert _count(store, "trigger_fires") == 0


def test_a_recorded_run_is_driven_once(db_url: str, tmp_path: Path) -> None:
    """launch_run drives a pending run; asked again (a second daemon, a restart) it does
    nothing: the run ran exactly one attempt."""
    store = Store.open(db_url)
    settings = settings_of(tmp_path, db_url)
    fired = _firing(store, tmp_path, db_url).fire(SPEC, "every:11", reason="every due")
    assert fired.run_id is not None
    first = launch_run(fired.run_id, settings=settings, store=store)
    second = launch_run(fired.run_id, settings=settings, store=store)
    assert first is not None
    assert first.status is RunStatus.SUCCEEDED
    assert second is None
    with store.reader() as tx:
        assert len(tx.get_attempts(fired.run_id)) == 1
        assert ledger.unlaunched_fires(tx) == []


def test_one_leader_per_store(db_url: str, tmp_path: Path) -> None:
    """A second take of the daemon's leadership fails while the first holds it, and
    succeeds once it is given back; the row counts the takes."""
    store = Store.open(db_url)
    first = take_leadership(store, host="h", pid=1, wait=False)
    assert first is not None
    assert take_leadership(store, host="h", pid=2, wait=False) is None
    first.release()
    second = take_leadership(store, host="h", pid=2, wait=False)
    assert second is not None
    assert second.epoch == 2
    second.release()


def test_the_cursor_never_moves_back(db_url: str) -> None:
    store = Store.open(db_url)
    with store.transaction() as tx:
        ledger.save_cursor(tx, 10, at=1.0)
        ledger.save_cursor(tx, 4, at=2.0)
    with store.reader() as tx:
        assert ledger.load_cursor(tx) == 10


@pytest.mark.postgres
def test_the_follower_waits_for_an_event_committed_late(pg_url: str) -> None:
    """PostgreSQL hands out ids before commit: an event with a lower id that commits after
    a higher one is still read (a gap is asked for again), and the cursor stays below it."""
    store = Store.open(pg_url)
    follower = EventFollower.resume(store, at=0.0)
    engine = store.engine
    with engine.connect() as slow:
        slow.begin()
        slow.execute(sa.text("INSERT INTO events (type, ts) VALUES ('slow.one', 1)"))
        store.insert_events([("fast.two", 2.0, None, None, None, None)])
        assert [e.type for e in follower.poll()] == ["fast.two"]
        assert follower.position < follower.seen
        slow.commit()
    assert [e.type for e in follower.poll()] == ["slow.one"]
    assert follower.position == follower.seen


class _Rollback(Exception):
    pass


@pytest.mark.postgres
def test_a_hole_left_by_a_rolled_back_writer_is_passed_without_waiting(pg_url: str) -> None:
    """A writer that took an event id and rolled back (a daemon killed in the middle of a
    fire) leaves a hole for good: once no transaction that could fill it runs, the cursor
    passes it (here at the poll that found it: a second snapshot is asked for at once),
    with no clock involved; a new follower (a restarted daemon) passes it too."""
    store = Store.open(pg_url)
    follower = EventFollower.resume(store, at=0.0)
    with contextlib.suppress(_Rollback), store.transaction() as tx:
        tx.insert_events([("lost.one", 1.0, None, None, None, None)])
        raise _Rollback
    assert _count(store, "events") == 0
    store.insert_events([("kept.two", 2.0, None, None, None, None)])
    assert [e.type for e in follower.poll()] == ["kept.two"]
    assert follower.position == follower.seen  # nothing could fill it any more
    restarted = EventFollower(store, seen=follower.seen - 2)
    assert [e.type for e in restarted.poll()] == ["kept.two"]
    assert restarted.position == follower.seen


@pytest.mark.postgres
def test_a_gap_stays_open_while_its_writer_runs_however_long(pg_url: str) -> None:
    """The writer of a lower id that commits after a higher one: however many polls
    happen before it commits, its event is read, and the cursor stays below it till
    then."""
    store = Store.open(pg_url)
    follower = EventFollower.resume(store, at=0.0)
    with store.transaction() as slow:
        slow.insert_events([("slow.one", 1.0, None, None, None, None)])
        store.insert_events([("fast.two", 2.0, None, None, None, None)])
        assert [e.type for e in follower.poll()] == ["fast.two"]
        for _ in range(20):
            assert follower.poll() == []
            assert follower.position == follower.seen - 2
    assert [e.type for e in follower.poll()] == ["slow.one"]
    assert follower.position == follower.seen


@pytest.mark.postgres
@pytest.mark.parametrize("run_id", [None, "run-x"])
def test_an_event_writer_has_its_transaction_id_before_its_event_ids(
    pg_url: str, run_id: str | None
) -> None:
    """What makes a hole safe to pass: the statement giving the transaction its id comes
    before the INSERT that takes event ids (which would get one only after them)."""
    store = Store.open(pg_url)
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        with store.transaction() as tx:
            tx.insert_events([("one", 1.0, run_id, None, None, None)])
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
    first_xid = next(n for n, sql in enumerate(sent) if "pg_current_xact_id()" in sql)
    first_insert = next(n for n, sql in enumerate(sent) if sql.startswith("INSERT INTO events"))
    assert first_xid < first_insert


def test_many_skips_in_one_commit_write_each_new_key_once(db_url: str, tmp_path: Path) -> None:
    """``skip_many``: a key already in the ledger, or twice in the list, writes one row,
    one ``trigger.skipped`` event and one decision; a quiet skip writes no event."""
    store = Store.open(db_url)
    firing = _firing(store, tmp_path, db_url)
    assert firing.skip(SPEC, "every:1", reason="before").outcome == "skipped"
    skips = [
        Skip(SPEC, "every:1", "again"),
        Skip(SPEC, "every:2", "new"),
        Skip(SPEC, "every:2", "twice"),
        Skip(SPEC, "every:3", "quiet", quiet=True),
    ]
    with store.transaction() as tx:
        outcomes = [f.outcome for f in firing.skip_many(tx, skips)]
    assert outcomes == ["duplicate", "skipped", "duplicate", "skipped"]
    assert _count(store, "trigger_fires") == 3
    with store.reader() as tx:
        skipped = tx.get_events(types="trigger.skipped")
        assert [e.payload["fire_key"] for e in skipped] == ["every:1", "every:2"]
        assert ledger.get_fire(tx, "tick", "every:2").reason == "new"  # type: ignore[union-attr]
    assert _count(store, "decisions") == 3
