"""Following the store's event log: every event written by anyone (other terminals, other
daemons, ``uet triggers fire``), not only this process's bus.

A cursor (the ``events`` row of ``trigger_cursors``) says every event id up to it was looked
at; the daemon saves it as it works through a batch, after the fires those events made, and
a fire's key is ``event:<event id>``, unique in the ledger, so a restart that reads some
events again never fires twice for one.

Ids are handed out before commit on PostgreSQL, so a lower id can become visible after a
higher one: an id skipped over is a *gap*, asked for again on every poll, and the saved
cursor never passes the oldest open gap. A gap is given up (a rolled-back insert left a
hole for good: a daemon killed in the middle of a fire, say) exactly when no transaction
that could still write it is running, which the database says, not a clock: every writer of
events has its transaction id before it takes an event id
(:meth:`uet.state.store.Transaction.insert_events`), so the one holding a missing id
started before the snapshot that showed the gap ended (its id is below that snapshot's
``xmax``); once a later snapshot's ``xmin`` reaches that bound, the holder has committed
or rolled back, and an id still missing from that snapshot will never appear
(:func:`uet.state.fires.event_horizon`). On SQLite one writer at a time takes ids in commit
order: nothing skipped over can appear later, and a gap is a hole at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from uet.state.fires import event_horizon, events_by_id, last_event_id, load_cursor, save_cursor
from uet.state.records import EventRecord
from uet.state.store import Store

BATCH = 2000
"""Events read per query, at most."""


@dataclass
class EventFollower:
    """Reads new events in id order; :attr:`position` is what to save as the cursor."""

    store: Store
    seen: int = 0  # the highest event id read
    gaps: dict[int, int] = field(default_factory=dict)  # missing id -> xid bound (see above)
    full: bool = False  # the last poll read a whole batch: more is waiting

    @classmethod
    def resume(cls, store: Store, *, at: float) -> EventFollower:
        """From the saved cursor. Never saved: from the end of the log (a daemon's first
        start does not replay history), saved at once, so that a daemon killed before its
        first save leaves the next one where it started."""
        with store.transaction() as tx:
            saved = load_cursor(tx)
            if saved is None:
                saved = last_event_id(tx)
                save_cursor(tx, saved, at=at)
        return cls(store, seen=saved)

    @property
    def position(self) -> int:
        """Every id up to this was read (or is known never to appear)."""
        return min(self.gaps) - 1 if self.gaps else self.seen

    def position_after(self, event_id: int) -> int:
        """The cursor to save when the last poll's events up to ``event_id`` (one of them)
        were handled and the rest not yet."""
        return min(self.position, event_id)

    def poll(self) -> list[EventRecord]:
        """The events written since the last poll (and the gaps that showed up), id order."""
        with self.store.reader() as tx:  # one snapshot for all three (REPEATABLE READ)
            horizon = event_horizon(tx)
            found = events_by_id(tx, sorted(self.gaps))
            fresh = tx.get_events(after_id=self.seen, limit=BATCH)
        for event in found:
            self.gaps.pop(event.id or 0, None)
        new_gaps = False
        if horizon is None:  # SQLite: ids are taken in commit order, a gap is a hole
            self.gaps.clear()
        else:
            xmin, xmax = horizon
            for missing in [g for g, bound in self.gaps.items() if bound <= xmin]:
                del self.gaps[missing]  # every transaction that could write it has ended
            expected = self.seen + 1
            for event in fresh:
                assert event.id is not None  # noqa: S101 - read from the table
                for missing in range(expected, event.id):
                    self.gaps[missing] = xmax
                    new_gaps = True
                expected = event.id + 1
        if fresh:
            self.seen = fresh[-1].id or self.seen
        self.full = len(fresh) >= BATCH
        late = self._settle() if new_gaps else []
        return sorted(found + fresh + late, key=lambda e: e.id or 0)

    def _settle(self) -> list[EventRecord]:
        """Ask again at once about the gaps just found: a hole left long ago (a writer
        killed before this daemon started) is usually settled by a snapshot taken a moment
        later, and the cursor can pass it before this daemon is gone. The events that did
        show up meanwhile are returned."""
        with self.store.reader() as tx:
            horizon = event_horizon(tx)
            found = events_by_id(tx, sorted(self.gaps))
        for event in found:
            self.gaps.pop(event.id or 0, None)
        if horizon is not None:
            for missing in [g for g, bound in self.gaps.items() if bound <= horizon[0]]:
                del self.gaps[missing]
        return found
