"""The event bus against real databases: ordering, sequence numbers, subscribers, backpressure,
closing, time-based batching, odd payloads and deterministic clocks.

Most tests run on a fresh SQLite file and on a fresh PostgreSQL database (``db_url``).
Waits are bounded only to turn a hang into a failure; no test asserts on speed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from uet.clock import FixedClock
from uet.errors import BusClosedError
from uet.events.bus import EventBus
from uet.state.records import EventRecord
from uet.state.store import Store

WAIT_S = 10.0
"""Upper bound for anything the tests wait on (a hang becomes a failure, not a timeout)."""


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store.open(db_url)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    store = Store.open(sqlite_url)
    yield store
    store.close()


@pytest.fixture
def make_bus(store: Store) -> Iterator[Callable[..., EventBus]]:
    """Builds buses on ``store`` and closes whatever a test left open (even when it failed)."""
    buses: list[EventBus] = []

    def make(**options: Any) -> EventBus:
        bus = EventBus(store, **options)
        buses.append(bus)
        return bus

    yield make
    for bus in buses:
        bus.close(timeout=WAIT_S)


def run_events(store: Store, run_id: str | None) -> list[EventRecord]:
    with store.reader() as tx:
        return tx.get_events(run_id)


def count(store: Store, run_id: str | None = None) -> int:
    with store.reader() as tx:
        return tx.count_events(run_id)


def collect_into(sink: list[tuple[str, int | None, int]]) -> Callable[[EventRecord], None]:
    """A subscriber recording (type, seq, payload["i"]) of each event it receives."""

    def callback(event: EventRecord) -> None:
        sink.append((event.type, event.seq, event.payload["i"]))

    return callback


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        time.sleep(0.01)
    return True


# -- persistence ----------------------------------------------------------------------------


def test_flushed_events_are_stored_in_order_with_seq_per_run(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """After flush() every emitted event is stored; each run numbers its events 1..n in
    emission order, and types, task/attempt ids and payloads come back intact."""
    bus = make_bus(batch_size=7)  # several batches, split mid-run
    runs = ("run-a", "run-b", "run-c")
    emitted: dict[str, list[tuple[str, str | None, int | None, dict[str, Any]]]] = {
        r: [] for r in runs
    }
    for i in range(60):
        run_id = runs[i % 3]
        payload = {"n": i, "text": f"ünïcödé {i}", "nested": {"list": [i, None, True, 1.5]}}
        task_id = f"t{i}" if i % 2 else None
        attempt_id = i if i % 5 == 0 else None
        bus.emit(
            f"task.step{i % 4}", payload, run_id=run_id, task_id=task_id, attempt_id=attempt_id
        )
        emitted[run_id].append((f"task.step{i % 4}", task_id, attempt_id, payload))
    bus.flush(timeout=WAIT_S)

    for run_id in runs:
        stored = run_events(store, run_id)
        assert [e.seq for e in stored] == list(range(1, len(emitted[run_id]) + 1))
        assert [(e.type, e.task_id, e.attempt_id, e.payload) for e in stored] == emitted[run_id]
        assert all(e.run_id == run_id for e in stored)
    assert count(store) == 60


def test_run_less_events_are_stored_without_seq(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """Events with no run are stored with run_id and seq NULL, in emission order, and do not
    consume a run's sequence numbers; an empty or missing payload reads back as {}."""
    bus = make_bus()
    bus.emit("system.started", {"pid": 1})
    bus.emit("run.created", {"k": "v"}, run_id="r1")
    bus.emit("system.tick")
    bus.emit("system.tock", {})
    bus.emit("run.started", run_id="r1")
    bus.flush(timeout=WAIT_S)

    everything = run_events(store, None)
    assert [(e.type, e.run_id, e.seq, e.payload) for e in everything] == [
        ("system.started", None, None, {"pid": 1}),
        ("run.created", "r1", 1, {"k": "v"}),
        ("system.tick", None, None, {}),
        ("system.tock", None, None, {}),
        ("run.started", "r1", 2, {}),
    ]
    assert [e.id for e in everything] == sorted(e.id for e in everything if e.id is not None)


def test_seq_continues_from_events_already_in_the_database(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """A second bus on the same database continues a run's numbering where the first ended."""
    first = make_bus()
    for i in range(5):
        first.emit("x.y", {"i": i}, run_id="r")
    first.close()
    second = make_bus()
    for i in range(5, 8):
        second.emit("x.y", {"i": i}, run_id="r")
    second.close()
    stored = run_events(store, "r")
    assert [(e.seq, e.payload["i"]) for e in stored] == [(i + 1, i) for i in range(8)]


# -- subscribers ----------------------------------------------------------------------------


def test_glob_subscribers_get_only_matching_events_in_emission_order(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """``task.*``, ``*.failed`` and an exact type each receive exactly the events whose type
    matches, in emission order, with the seq the store assigned."""
    bus = make_bus(batch_size=3)
    got: dict[str, list[tuple[str, int | None, int]]] = {
        "task.*": [],
        "*.failed": [],
        "run.started": [],
    }
    for pattern, sink in got.items():
        bus.subscribe(pattern, collect_into(sink))
    types = [
        "run.started",
        "task.started",
        "task.failed",
        "run.failed",
        "runner.started",
        "task",
        "attempt.failedx",
        "run.started.again",
        "task.output",
        "run.started",
    ]
    for i, type_ in enumerate(types):
        bus.emit(type_, {"i": i}, run_id="r")
    bus.flush(timeout=WAIT_S)

    assert got["task.*"] == [("task.started", 2, 1), ("task.failed", 3, 2), ("task.output", 9, 8)]
    assert got["*.failed"] == [("task.failed", 3, 2), ("run.failed", 4, 3)]
    assert got["run.started"] == [("run.started", 1, 0), ("run.started", 10, 9)]


def test_subscribers_see_only_committed_events(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """When a subscriber is called, its event is already durable: a fresh read-only
    transaction opened inside the callback finds it with the same seq and payload."""
    bus = make_bus(batch_size=4)
    seen: list[tuple[int, list[EventRecord]]] = []

    def check(event: EventRecord) -> None:
        seq = event.seq or 0
        with store.reader() as tx:
            found = tx.get_events(event.run_id, after_seq=seq - 1, limit=1)
        seen.append((seq, found))

    bus.subscribe("*", check)
    for i in range(10):
        bus.emit("step.done", {"i": i}, run_id="r")
    bus.flush(timeout=WAIT_S)

    assert [seq for seq, _ in seen] == list(range(1, 11))
    for seq, found in seen:
        assert [(e.seq, e.payload) for e in found] == [(seq, {"i": seq - 1})]


def test_failing_subscriber_is_logged_and_delivery_goes_on(
    store: Store, make_bus: Callable[..., EventBus], caplog: pytest.LogCaptureFixture
) -> None:
    """A subscriber that raises is logged on ``uet.events`` with its traceback; it still gets
    later events, the other subscribers get every event, and every event is stored."""
    caplog.set_level(logging.ERROR, logger="uet.events")
    bus = make_bus()
    flaky_got: list[int] = []
    steady_got: list[int] = []

    def flaky(event: EventRecord) -> None:
        flaky_got.append(event.payload["i"])
        if event.payload["i"] in (1, 3):
            raise ValueError(f"boom on {event.payload['i']}")

    bus.subscribe("a.*", flaky)
    bus.subscribe("a.*", lambda e: steady_got.append(e.payload["i"]))
    for i in range(6):
        bus.emit("a.b", {"i": i}, run_id="r")
    bus.flush(timeout=WAIT_S)

    assert flaky_got == list(range(6))
    assert steady_got == list(range(6))
    assert count(store, "r") == 6
    failures = [r for r in caplog.records if r.name == "uet.events" and r.exc_info]
    assert len(failures) == 2
    assert [str(r.exc_info[1]) for r in failures if r.exc_info] == ["boom on 1", "boom on 3"]
    assert all(r.levelno == logging.ERROR for r in failures)


def test_cancelled_subscription_receives_nothing_more(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """After Subscription.cancel(), that callback gets no further events while the other
    subscribers keep theirs; cancelling twice is harmless."""
    bus = make_bus()
    cancelled_got: list[int] = []
    kept_got: list[int] = []
    subscription = bus.subscribe("*", lambda e: cancelled_got.append(e.payload["i"]))
    bus.subscribe("*", lambda e: kept_got.append(e.payload["i"]))
    for i in range(3):
        bus.emit("x.y", {"i": i})
    bus.flush(timeout=WAIT_S)
    subscription.cancel()
    subscription.cancel()
    for i in range(3, 6):
        bus.emit("x.y", {"i": i})
    bus.flush(timeout=WAIT_S)

    assert cancelled_got == [0, 1, 2]
    assert kept_got == list(range(6))


def test_subscriber_may_emit_and_its_events_are_stored(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """A subscriber that emits (even with the queue at its limit) does not deadlock the
    writer: the chain of events it emits is stored, numbered and delivered in turn, while
    another thread keeps emitting into the one-slot queue."""
    bus = make_bus(batch_size=1, queue_max=1)
    chain: list[int] = []

    def follow(event: EventRecord) -> None:
        n = event.payload["n"]
        chain.append(n)
        if n < 50:
            bus.emit("chain.step", {"n": n + 1}, run_id="chain")

    bus.subscribe("chain.*", follow)
    bus.emit("chain.step", {"n": 0}, run_id="chain")
    for i in range(20):
        bus.emit("other.step", {"i": i}, run_id="other")
    assert wait_until(lambda: count(store, "chain") == 51), f"chain stopped at {chain[-1:]}"
    bus.flush(timeout=WAIT_S)  # returns: the writer is not stuck

    assert chain == list(range(51))
    stored = run_events(store, "chain")
    assert [(e.seq, e.payload["n"]) for e in stored] == [(n + 1, n) for n in range(51)]
    assert count(store, "other") == 20


def test_close_also_writes_events_subscribers_emit_while_it_drains(
    store: Store, make_bus: Callable[..., EventBus], caplog: pytest.LogCaptureFixture
) -> None:
    """close() right after an emit still lets subscribers react: the events they emit while
    the bus drains its last batches are stored, not refused with BusClosedError."""
    caplog.set_level(logging.ERROR, logger="uet.events")
    bus = make_bus(batch_size=1, queue_max=1, flush_interval=60.0)

    def follow(event: EventRecord) -> None:
        if event.payload["n"] < 10:
            bus.emit("chain.step", {"n": event.payload["n"] + 1}, run_id="chain")

    bus.subscribe("chain.*", follow)
    bus.emit("chain.step", {"n": 0}, run_id="chain")
    bus.close(timeout=WAIT_S)

    assert [r.getMessage() for r in caplog.records if r.name == "uet.events"] == []
    stored = run_events(store, "chain")
    assert [(e.seq, e.payload["n"]) for e in stored] == [(n + 1, n) for n in range(11)]


def test_flush_inside_a_subscriber_raises_runtime_error(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """flush() called on the writer thread (from a subscriber) raises RuntimeError instead of
    waiting for itself; the bus keeps working afterwards."""
    bus = make_bus()
    errors: list[BaseException] = []

    def impatient(event: EventRecord) -> None:
        try:
            bus.flush(timeout=1.0)
        except BaseException as exc:  # recorded for the assertion below
            errors.append(exc)

    bus.subscribe("x.*", impatient)
    bus.emit("x.y", run_id="r")
    bus.flush(timeout=WAIT_S)
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    bus.emit("y.z", run_id="r")
    bus.flush(timeout=WAIT_S)
    assert count(store, "r") == 2


# -- backpressure ---------------------------------------------------------------------------


def test_slow_subscriber_holds_producer_back_without_dropping(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """With a tiny queue and a slow subscriber, emit() blocks: the number of pending events
    never grows far beyond queue_max, yet every event is stored, in order."""
    batch_size, queue_max, total = 10, 20, 400
    bus = make_bus(batch_size=batch_size, queue_max=queue_max)
    delivered: list[int] = []

    def slow(event: EventRecord) -> None:
        time.sleep(0.002)
        delivered.append(event.payload["i"])

    bus.subscribe("*", slow)
    highest = 0
    for i in range(total):
        bus.emit("load.tick", {"i": i}, run_id="load")
        highest = max(highest, bus.pending)
    bus.close(timeout=60)

    assert highest <= queue_max + batch_size
    assert highest >= queue_max - batch_size  # the queue really filled up: the limit was hit
    assert delivered == list(range(total))
    stored = run_events(store, "load")
    assert [(e.seq, e.payload["i"]) for e in stored] == [(i + 1, i) for i in range(total)]


def test_constructor_rejects_inconsistent_limits(sqlite_store: Store) -> None:
    """batch_size < 1, queue_max < batch_size and a non-positive interval are refused."""
    for options in ({"batch_size": 0}, {"batch_size": 10, "queue_max": 5}, {"flush_interval": 0}):
        with pytest.raises(ValueError, match="batch_size"):
            EventBus(sqlite_store, **options)  # type: ignore[arg-type]


# -- closing --------------------------------------------------------------------------------


def test_close_flushes_is_idempotent_and_refuses_later_emits(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """close() writes what is queued (even with no tick due for a minute), a second close()
    does nothing, and emit() afterwards raises BusClosedError."""
    bus = make_bus(flush_interval=60.0)
    for i in range(25):
        bus.emit("q.e", {"i": i}, run_id="r")
    bus.close(timeout=WAIT_S)
    assert count(store, "r") == 25
    assert bus.pending == 0
    bus.close(timeout=WAIT_S)
    with pytest.raises(BusClosedError):
        bus.emit("late.event", run_id="r")
    assert count(store, "r") == 25


def emit_then_fail(bus: EventBus) -> None:
    with bus:
        bus.emit("cm.two", run_id="r")
        raise KeyError("the block failed")


def test_context_manager_closes_and_flushes_even_on_error(store: Store) -> None:
    """Leaving a ``with EventBus(...)`` block writes its events and closes the bus, also when
    the block raised (the exception still propagates)."""
    with EventBus(store, flush_interval=60.0) as bus:
        bus.emit("cm.one", run_id="r")
    assert count(store, "r") == 1
    with pytest.raises(BusClosedError):
        bus.emit("cm.late", run_id="r")

    failing = EventBus(store, flush_interval=60.0)
    with pytest.raises(KeyError, match="the block failed"):
        emit_then_fail(failing)
    assert [e.type for e in run_events(store, "r")] == ["cm.one", "cm.two"]
    with pytest.raises(BusClosedError):
        failing.emit("cm.late", run_id="r")


# -- batching and payloads ------------------------------------------------------------------


def test_events_become_visible_without_flush(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """An event in a batch that never fills is still written by the periodic tick: it shows
    up in the database without flush() or close() (waited for, within a bound)."""
    bus = make_bus(batch_size=1000, flush_interval=0.05)
    bus.emit("lonely.event", {"k": 1}, run_id="r")
    assert wait_until(lambda: count(store, "r") == 1), "event never written without flush()"
    assert bus.pending == 0


def test_unencodable_payloads_do_not_stop_the_batch(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """A circular payload is stored as ``{"unencodable": repr}`` and a value JSON cannot
    represent as its ``str()``; the events around them in the same batch are stored intact."""
    bus = make_bus()
    circular: dict[str, Any] = {"name": "loop"}
    circular["self"] = circular
    thing = object()
    bus.emit("odd.before", {"i": 0}, run_id="r")
    bus.emit("odd.circular", circular, run_id="r")
    bus.emit("odd.object", {"thing": thing, "ok": 1}, run_id="r")
    bus.emit("odd.after", {"i": 3}, run_id="r")
    bus.flush(timeout=WAIT_S)

    stored = run_events(store, "r")
    assert [e.type for e in stored] == ["odd.before", "odd.circular", "odd.object", "odd.after"]
    assert [e.seq for e in stored] == [1, 2, 3, 4]
    assert stored[0].payload == {"i": 0}
    assert set(stored[1].payload) == {"unencodable"}
    assert "loop" in stored[1].payload["unencodable"]
    assert stored[2].payload == {"thing": str(thing), "ok": 1}
    assert stored[3].payload == {"i": 3}


def test_fixed_clock_gives_deterministic_timestamps(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """A bus built with FixedClock stamps events start, start+step, … in emission order, in
    the database and in what subscribers receive."""
    bus = make_bus(clock=FixedClock(start=1_767_225_600.0, step=0.25))
    received: list[float] = []
    bus.subscribe("*", lambda e: received.append(e.ts))
    for i in range(6):
        bus.emit("tick.tock", {"i": i}, run_id="r" if i % 2 else None)
    bus.flush(timeout=WAIT_S)

    expected = [1_767_225_600.0 + 0.25 * i for i in range(6)]
    assert [e.ts for e in run_events(store, None)] == expected
    assert received == expected


# -- many producers -------------------------------------------------------------------------


def test_concurrent_producer_threads_lose_nothing(
    store: Store, make_bus: Callable[..., EventBus]
) -> None:
    """4 threads x 5,000 events, each to its own run and every 10th also to a shared run:
    exact counts, each run's seqs exactly 1..n, and each thread's order kept within a run."""
    threads_n, per_thread = 4, 5_000
    bus = make_bus(batch_size=500, queue_max=2_000)
    barrier = threading.Barrier(threads_n)
    failures: list[BaseException] = []

    def produce(k: int) -> None:
        try:
            barrier.wait(WAIT_S)
            for i in range(per_thread):
                bus.emit("load.own", {"k": k, "i": i}, run_id=f"own-{k}")
                if i % 10 == 0:
                    bus.emit("load.shared", {"k": k, "i": i}, run_id="shared")
        except BaseException as exc:  # reported by the test's thread
            failures.append(exc)

    workers = [threading.Thread(target=produce, args=(k,)) for k in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not any(worker.is_alive() for worker in workers)
    assert failures == []
    bus.flush(timeout=60)

    for k in range(threads_n):
        stored = run_events(store, f"own-{k}")
        assert [(e.seq, e.payload) for e in stored] == [
            (i + 1, {"k": k, "i": i}) for i in range(per_thread)
        ]
    shared = run_events(store, "shared")
    shared_per_thread = per_thread // 10
    assert [e.seq for e in shared] == list(range(1, threads_n * shared_per_thread + 1))
    for k in range(threads_n):
        assert [e.payload["i"] for e in shared if e.payload["k"] == k] == list(
            range(0, per_thread, 10)
        )
    assert count(store) == threads_n * (per_thread + shared_per_thread)
