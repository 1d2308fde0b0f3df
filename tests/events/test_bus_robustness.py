"""The bus survives bad events and bad subscribers: it never stalls, and loses only what
the database itself refuses (each such event logged)."""

from __future__ import annotations

import logging
import threading

import pytest
import sqlalchemy as sa

from uet.errors import BusClosedError, StoreError
from uet.events.bus import EventBus
from uet.state.limits import EVENT_TYPE_MAX, RUN_ID_MAX, TASK_ID_MAX
from uet.state.records import EventRecord, RunRecord
from uet.state.store import Store
from uet.states import RunStatus


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"type": ""}, "type"),
        ({"type": "t" * (EVENT_TYPE_MAX + 1)}, "type"),
        ({"type": "ok", "run_id": "r" * (RUN_ID_MAX + 1)}, "run_id"),
        ({"type": "ok", "task_id": "t" * (TASK_ID_MAX + 1)}, "task_id"),
        ({"type": "ok", "task_id": "a\0b"}, "NUL"),
        ({"type": "a\0b"}, "NUL"),
    ],
)
def test_emit_refuses_an_event_that_could_never_be_stored(
    sqlite_url: str, kwargs: dict[str, str], field: str
) -> None:
    """Empty or over-long type and ids raise ValueError at emit(), naming the field."""
    with EventBus(Store.open(sqlite_url)) as bus:
        with pytest.raises(ValueError, match=field):
            bus.emit(**kwargs)  # type: ignore[arg-type]
        assert bus.pending == 0


def test_an_event_the_database_refuses_is_isolated_and_the_rest_written(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An attempt id past 64 bits fails for good on both dialects: that one event is logged
    and skipped, the others of its batch are written and delivered, and flush() says so."""
    store = Store.open(db_url)
    seen: list[EventRecord] = []
    with caplog.at_level(logging.ERROR, logger="uet.events"), EventBus(store) as bus:
        bus.subscribe("*", seen.append)
        for n in range(5):
            bus.emit("good.before", {"n": n}, run_id="r")
        bus.emit("bad.one", {}, run_id="r", attempt_id=2**70)
        for n in range(5):
            bus.emit("good.after", {"n": n}, run_id="r")
        with pytest.raises(StoreError, match="1 event"):
            bus.flush(timeout=60)
        bus.flush(timeout=60)  # nothing refused since: returns quietly
    with store.reader() as tx:
        stored = tx.get_events("r")
    assert [e.type for e in stored] == ["good.before"] * 5 + ["good.after"] * 5
    assert [e.seq for e in stored] == list(range(1, 11))
    assert [e.type for e in seen] == [e.type for e in stored]
    assert "bad.one" in caplog.text
    assert "not stored" in caplog.text


def test_payloads_whose_repr_raises_are_stored_as_unencodable(sqlite_url: str) -> None:
    """An object whose str() and repr() both raise still leaves a stored event."""

    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("no str")

        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    store = Store.open(sqlite_url)
    with EventBus(store) as bus:
        bus.emit("odd.payload", {"x": Hostile()}, run_id="r")
        bus.emit("next.one", {}, run_id="r")
    with store.reader() as tx:
        stored = tx.get_events("r")
    assert [e.type for e in stored] == ["odd.payload", "next.one"]
    assert "unencodable" in stored[0].payload


def test_a_subscriber_raising_systemexit_does_not_kill_the_writer(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Even a BaseException from a subscriber is contained: later events are written and
    flush() still returns."""

    def leave(event: EventRecord) -> None:
        raise SystemExit(3)

    store = Store.open(sqlite_url)
    with caplog.at_level(logging.ERROR, logger="uet.events"), EventBus(store) as bus:
        bus.subscribe("exit.*", leave)
        bus.emit("exit.now", {}, run_id="r")
        bus.flush(timeout=30)
        bus.emit("after.exit", {}, run_id="r")
        bus.flush(timeout=30)
    with store.reader() as tx:
        assert [e.type for e in tx.get_events("r")] == ["exit.now", "after.exit"]
    assert "subscriber" in caplog.text
    assert "SystemExit" in caplog.text


def test_a_non_mapping_payload_reaches_subscribers_wrapped(sqlite_url: str) -> None:
    """A list payload (against the type hints) is stored and delivered as {"value": [...]}."""
    store = Store.open(sqlite_url)
    seen: list[EventRecord] = []
    with EventBus(store) as bus:
        bus.subscribe("list.*", seen.append)
        bus.emit("list.payload", [1, 2, 3], run_id="r")  # type: ignore[arg-type]
    assert seen[0].payload == {"value": [1, 2, 3]}


class GateClock:
    """A clock that, once armed, holds the next emit() between its closed-check and its
    append until released: the narrow window of a close() racing an emit(), made wide."""

    def __init__(self) -> None:
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def now(self) -> float:
        if self.armed:
            self.armed = False
            self.entered.set()
            self.release.wait(30)
        return 1.0


def test_an_emit_that_races_close_is_still_written(sqlite_url: str) -> None:
    """emit() passed its closed-check, then close() finished its final drain: the event is
    written by the emitting thread itself instead of being left in the queue forever."""
    store = Store.open(sqlite_url)
    clock = GateClock()
    bus = EventBus(store, clock=clock)
    clock.armed = True
    emitter = threading.Thread(target=bus.emit, args=("late.event",), kwargs={"run_id": "r"})
    emitter.start()
    assert clock.entered.wait(30)
    bus.close()  # completes while the emit is held inside
    clock.release.set()
    emitter.join(timeout=30)
    assert not emitter.is_alive()
    with store.reader() as tx:
        assert [e.type for e in tx.get_events("r")] == ["late.event"]
    with pytest.raises(BusClosedError):
        bus.emit("too.late", run_id="r")


def test_only_values_the_database_rejects_count_as_refused(sqlite_url: str) -> None:
    """A constraint violation is 'refused' (the bus isolates it); a read-only database is
    not (the bus keeps retrying, nothing is dropped)."""
    store = Store.open(sqlite_url)
    run = RunRecord(id="r", status=RunStatus.RUNNING, created_at=1.0)
    with store.transaction() as tx:
        tx.create_run(run)
    with pytest.raises(StoreError) as duplicate, store.transaction() as tx:
        tx.create_run(run)
    assert duplicate.value.refused
    path = sqlite_url.removeprefix("sqlite:///")
    readonly = Store(sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true"))
    with pytest.raises(StoreError) as locked:
        readonly.insert_events([("x.y", 1.0, "r", None, None, None)])
    assert not locked.value.refused
    readonly.close()
