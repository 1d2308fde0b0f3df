"""The event bus: cheap ``emit()``, batched durable writes, glob subscriptions.

::

    emit() ──► pending deque ──► writer thread ──► one transaction per batch ──► subscribers
               (no encoding,      (wakes on a full    (the store assigns each     (after the
                bounded)           batch or a tick)    run's sequence numbers)     commit)

* ``emit()`` appends a tuple to a deque: no JSON encoding, no lock, no I/O. The payload is
  encoded by the writer, so the caller must not mutate it after emitting.
* The writer thread takes up to ``batch_size`` events at a time and writes each batch in one
  transaction, as soon as a batch is full or ``flush_interval`` seconds have passed.
* ``flush()`` returns only when every event emitted before it is committed; ``close()``
  flushes and stops the writer.
* When ``queue_max`` events are waiting, ``emit()`` blocks until the writer catches up
  (backpressure). An event is never dropped while the database can take it: a write that
  failed for a transient reason (a lock, a dropped connection) is retried with backoff.
* A write that cannot pass (disk full, read-only, the database file gone), or a transient
  failure that lasts past ``fault_timeout`` seconds, is a *fault*: the bus stops writing,
  :attr:`EventBus.fault` tells why, and ``flush()`` raises it, so the run that owns the bus
  ends (exit 3) instead of hanging. Events emitted after a fault cannot be stored; they are
  counted, not queued.
* Events another transaction committed (the engine's state changes) reach subscribers
  through :meth:`EventBus.deliver_committed`, in order with the rest.
* Subscribers match event types by glob (``task.*``, ``*.failed``) and are called on the
  writer thread after the batch holding their event committed, so they only ever see
  durable events, in emission order. A failing subscriber is logged, and emission goes on.
  Subscribers should be quick; they may emit, but must not call ``flush()``.
"""

from __future__ import annotations

import atexit
import fnmatch
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from uet import defaults
from uet.backoff import compute_backoff
from uet.clock import Clock
from uet.errors import BusClosedError, StorageFault, StoreError
from uet.state.limits import EVENT_TYPE_MAX as _TYPE_MAX
from uet.state.limits import RUN_ID_MAX as _RUN_ID_MAX
from uet.state.limits import TASK_ID_MAX as _TASK_ID_MAX
from uet.state.records import EventRecord
from uet.state.store import NewEvent, Store

logger = logging.getLogger("uet.events")

_WAIT_SLICE_S = 0.05  # flush() looks for an abort or a fault this often

Subscriber = Callable[[EventRecord], object]


class _Marker:
    """Placed in the queue by ``flush()``: set once everything before it is committed."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class _Committed:
    """Events another transaction already committed, queued only to reach subscribers."""

    __slots__ = ("batch", "seqs")

    def __init__(self, batch: Sequence[NewEvent], seqs: Sequence[int | None]) -> None:
        self.batch = batch
        self.seqs = seqs


class Subscription:
    """Handle returned by :meth:`EventBus.subscribe`; call :meth:`cancel` to stop receiving."""

    def __init__(self, bus: EventBus, pattern: str, callback: Subscriber) -> None:
        self.pattern = pattern
        self.callback = callback
        self._bus = bus

    def cancel(self) -> None:
        self._bus._unsubscribe(self)


class EventBus:
    """Batches events into the store. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock | None = None,
        batch_size: int = defaults.EVENT_BATCH_SIZE,
        flush_interval: float = defaults.EVENT_FLUSH_INTERVAL_S,
        queue_max: int = defaults.EVENT_QUEUE_MAX,
        fault_timeout: float = defaults.STORE_FAULT_TIMEOUT_S,
    ) -> None:
        if batch_size < 1 or queue_max < batch_size or flush_interval <= 0:
            raise ValueError("need batch_size >= 1, queue_max >= batch_size, flush_interval > 0")
        self._store = store
        self._now: Callable[[], float] = time.time if clock is None else clock.now
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._queue_max = queue_max
        self._pending: deque[NewEvent | _Marker | _Committed] = deque()
        self._wakeup = threading.Event()
        self._room = threading.Condition()
        self._subscriptions: tuple[Subscription, ...] = ()
        self._matches: dict[str, tuple[Subscriber, ...]] = {}
        self._closed = False
        self._refused = 0  # events the database refused (each logged)
        self._fault_timeout = fault_timeout
        self._fault: StorageFault | None = None  # set once: writes cannot go on
        self._lost = 0  # events not stored because of the fault
        self._stop_retrying = threading.Event()  # close(): no more waiting between retries
        self._writer = threading.Thread(target=self._run, name="uet-event-writer", daemon=True)
        self._writer.start()
        _open_buses.add(self)

    # -- the hot path -----------------------------------------------------------------------

    def emit(
        self,
        type: str,
        payload: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
        task_id: str | None = None,
        attempt_id: int | None = None,
    ) -> None:
        """Queue an event. Returns at once unless ``queue_max`` events are already waiting.

        Raises ValueError when the event could never be stored (an empty or too long type,
        run or task id), so that a bad event fails where it is made, not in the writer.
        """
        writer = self._writer
        if self._closed and threading.current_thread() is not writer:
            # A subscriber may still emit while close() drains: its event is written too.
            raise BusClosedError(f"event {type!r} emitted after the bus was closed")
        if not 0 < len(type) <= _TYPE_MAX or (
            (run_id is not None and (len(run_id) > _RUN_ID_MAX or "\0" in run_id))
            or (task_id is not None and (len(task_id) > _TASK_ID_MAX or "\0" in task_id))
            or "\0" in type
        ):
            raise ValueError(_invalid(type, run_id, task_id))
        if self._fault is not None:
            self._lost += 1  # the database cannot take it; the bus's owner is told by flush()
            return
        pending = self._pending
        pending.append((type, self._now(), run_id, task_id, attempt_id, payload))
        if len(pending) >= self._batch_size:
            if not self._wakeup.is_set():
                self._wakeup.set()
            if len(pending) >= self._queue_max:
                self._wait_for_room()
        if self._closed and threading.current_thread() is not writer:
            # close() began after the check above: make sure its final drain did not miss us.
            writer.join()
            self._drain()

    def flush(self, timeout: float | None = None, *, abort: threading.Event | None = None) -> None:
        """Return once every event emitted before this call is committed.

        Raises :class:`uet.errors.StoreError` if that has not happened within ``timeout``
        seconds (the events stay queued and are still written when the database recovers),
        if the database refused some of them as values (too long, out of range: each is
        logged and skipped so that the others are written), or — as
        :class:`uet.errors.StorageFault` — once the bus has a :attr:`fault`. Returns early,
        without a guarantee, when ``abort`` is set (a signal asked the caller to stop).
        """
        if threading.current_thread() is self._writer:
            raise RuntimeError("flush() from a subscriber would wait for itself")
        refused_before = self._refused
        if not self._writer.is_alive():
            self._drain()
        else:
            marker = _Marker()
            self._pending.append(marker)
            self._wakeup.set()
            if self._closed:  # close() may have drained before our marker arrived
                self._writer.join()
                self._drain()
            if not self._wait(marker, timeout, abort):
                raise StoreError(f"events not written within {timeout} s (still queued)")
        if self._fault is not None:
            raise self._fault
        if self._refused > refused_before:
            raise StoreError(
                f"{self._refused - refused_before} event(s) refused by the database "
                "and not stored (logged on uet.events)"
            )

    def _wait(self, marker: _Marker, timeout: float | None, abort: threading.Event | None) -> bool:
        """Wait for ``marker`` (False past ``timeout``), in slices so that ``abort`` and a
        fault are seen at once."""
        until = None if timeout is None else time.monotonic() + timeout
        while not marker.done.wait(_WAIT_SLICE_S):
            if self._fault is not None or (abort is not None and abort.is_set()):
                return True
            if until is not None and time.monotonic() >= until:
                return False
        return True

    def give_up_retrying(self) -> None:
        """Stop retrying failed writes: a failing write becomes a :attr:`fault` at once (the
        owner is stopping on a signal and must not wait out ``fault_timeout``)."""
        self._stop_retrying.set()

    @property
    def fault(self) -> StorageFault | None:
        """Why the bus stopped writing (None while it writes)."""
        return self._fault

    def close(self, timeout: float | None = None) -> None:
        """Flush, stop the writer, and refuse further events. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._wakeup.set()
        self._writer.join(timeout)
        if self._writer.is_alive():
            raise StoreError(f"event writer still busy after {timeout} s")
        self._drain()  # whatever raced with the writer's last look
        _open_buses.discard(self)

    def __enter__(self) -> EventBus:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(timeout=defaults.EVENT_CLOSE_TIMEOUT_S)

    def deliver_committed(self, batch: Sequence[NewEvent], seqs: Sequence[int | None]) -> None:
        """Hand subscribers events that the caller wrote in its own transaction (the engine
        writes state changes and their events together); they are delivered in order with
        the bus's own events, on the writer thread, and are not written again."""
        if self._subscriptions and batch:
            self._pending.append(_Committed(batch, seqs))
            self._wakeup.set()

    @property
    def pending(self) -> int:
        """Events (and flush markers) not yet written."""
        return len(self._pending)

    # -- subscriptions ----------------------------------------------------------------------

    def subscribe(self, pattern: str, callback: Subscriber) -> Subscription:
        """Call ``callback(event)`` for each committed event whose type matches ``pattern``:
        ``*`` matches any run of characters, ``?`` one (``[`` is literal, as in the store)."""
        subscription = Subscription(self, pattern, callback)
        self._subscriptions = (*self._subscriptions, subscription)
        self._matches = {}
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)
        self._matches = {}

    def _callbacks(self, event_type: str) -> tuple[Subscriber, ...]:
        matches = self._matches
        found = matches.get(event_type)
        if found is None:
            found = matches[event_type] = tuple(
                s.callback
                for s in self._subscriptions
                if fnmatch.fnmatchcase(event_type, s.pattern.replace("[", "[[]"))
            )
        return found

    # -- the writer -------------------------------------------------------------------------

    def _wait_for_room(self) -> None:
        if threading.current_thread() is self._writer:
            return  # a subscriber emitting: the writer drains its own queue next
        with self._room:
            while (
                len(self._pending) >= self._queue_max
                and self._writer.is_alive()
                and self._fault is None
            ):
                self._wakeup.set()
                self._room.wait(0.1)

    def _run(self) -> None:
        # The writer's own connection waits for SQLite's write lock in short slices, so that
        # give_up_retrying() (a signal to the bus's owner) ends a wait for a lock another
        # process holds within one slice, not after the driver's busy timeout.
        try:
            pinned = self._store.pinned(abort=self._stop_retrying, lock_timeout=self._fault_timeout)
            pinned.__enter__()
        except Exception:
            logger.warning("event writer: no connection of its own", exc_info=True)
            self._loop()
            return
        try:
            self._loop()
        finally:
            pinned.__exit__(None, None, None)

    def _loop(self) -> None:
        while True:
            self._wakeup.wait(self._flush_interval)
            self._wakeup.clear()
            try:
                self._drain()
            except BaseException:  # the writer must outlive anything, or flush() would hang
                logger.critical("event writer hit an unexpected error", exc_info=True)
            if self._closed and not self._pending:
                return

    def _drain(self) -> None:
        pending = self._pending
        popleft = pending.popleft
        limit = self._batch_size
        while pending:
            batch: list[NewEvent] = []
            after: _Marker | _Committed | None = None
            while pending and len(batch) < limit:
                item = popleft()
                if isinstance(item, tuple):
                    batch.append(item)
                else:
                    after = item  # a flush marker or committed events: after this batch
                    break
            try:
                if batch:
                    self._write(batch)  # handles every write failure itself: committed after
            finally:
                if isinstance(after, _Marker):
                    after.done.set()
                elif isinstance(after, _Committed):
                    self._deliver(after.batch, after.seqs)
                with self._room:
                    self._room.notify_all()

    def _write(self, batch: list[NewEvent]) -> None:
        """Commit ``batch``, then deliver it. Transient failures are retried until they pass;
        a batch that can never be written is split until the bad events are isolated."""
        failures = 0
        failing_since = 0.0
        while True:
            if self._fault is not None:
                self._lost += len(batch)
                return
            try:
                seqs = self._store.insert_events(batch)
                break
            except StoreError as exc:
                if exc.refused:
                    self._isolate(batch, exc)
                    return
                now = time.monotonic()
                failing_since = failing_since or now
                if (
                    not exc.transient
                    or now - failing_since >= self._fault_timeout
                    or self._stop_retrying.is_set()
                ):
                    self._set_fault(exc, now - failing_since)
                    continue
                failures += 1
                delay = compute_backoff(failures, base=0.05, cap=1.0)
                logger.warning(
                    "writing %d events failed (try %d), retrying in %.2f s: %s",
                    len(batch),
                    failures,
                    delay,
                    exc,
                )
                self._stop_retrying.wait(min(delay, self._fault_timeout))
                continue
            except Exception as exc:  # noqa: BLE001 - a value the driver cannot bind at all
                self._isolate(batch, exc)
                return
        if self._subscriptions:
            self._deliver(batch, seqs)

    def _set_fault(self, error: StoreError, failing_for: float) -> None:
        if isinstance(error, StorageFault):
            fault = error
        else:
            fault = StorageFault(f"{error} (still failing after {failing_for:.0f} s)")
        self._fault = fault
        logger.error("event writer stopped: %s", fault)
        with self._room:
            self._room.notify_all()  # emitters waiting for room: there will be none

    def _isolate(self, batch: list[NewEvent], error: Exception) -> None:
        if len(batch) == 1:
            logger.error("event refused by the database and not stored: %r: %s", batch[0], error)
            self._refused += 1
            return
        middle = len(batch) // 2
        self._write(batch[:middle])
        self._write(batch[middle:])

    def _deliver(self, batch: Sequence[NewEvent], seqs: Sequence[int | None]) -> None:
        for (type_, ts, run_id, task_id, attempt_id, payload), seq in zip(batch, seqs, strict=True):
            callbacks = self._callbacks(type_)
            if not callbacks:
                continue
            event = EventRecord(
                type=type_,
                ts=ts,
                run_id=run_id,
                seq=seq,
                task_id=task_id,
                attempt_id=attempt_id,
                payload=dict(payload) if isinstance(payload, Mapping) else {"value": payload},
            )
            for callback in callbacks:
                try:
                    callback(event)
                except BaseException:  # even SystemExit must not stop the writer (logged)
                    logger.exception("event subscriber %r failed on %s", callback, type_)


def _invalid(type_: str, run_id: str | None, task_id: str | None) -> str:
    for name, value, limit in (
        ("type", type_, _TYPE_MAX),
        ("run_id", run_id, _RUN_ID_MAX),
        ("task_id", task_id, _TASK_ID_MAX),
    ):
        if value is not None and not 0 < len(value) <= limit:
            return f"event {name} must be 1 to {limit} characters, got {len(value)}: {value[:80]!r}"
        if value is not None and "\0" in value:
            return f"event {name} must not contain NUL characters: {value[:80]!r}"
    return "invalid event"  # pragma: no cover - emit() only calls this when one is invalid


_open_buses: weakref.WeakSet[EventBus] = weakref.WeakSet()


@atexit.register
def _close_open_buses() -> None:
    """Buses left open at interpreter exit are closed, so their events are not lost."""
    for bus in list(_open_buses):
        try:
            bus.close(timeout=30)
        except StoreError:
            logger.exception("events still queued at exit could not be written")
