"""Following the store's event log: every event written by anyone (other terminals, other
daemons, ``uet triggers fire``), not only this process's bus.

A cursor (the ``events`` row of ``trigger_cursors``) says every event id up to it was looked
at; it is saved in the same transaction as the fires those events made... and a fire's key
is ``event:<event id>``, unique in the ledger, so a restart that reads some events again
never fires twice for one. Ids are handed out before commit on PostgreSQL, so a lower id
can become visible after a higher one: an id skipped over is a *gap*, asked for again on
every poll until it shows up or :data:`GAP_WAIT_S` passed (a rolled-back insert leaves a
hole for good), and the saved cursor never passes the oldest open gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from uet.state.fires import events_by_id, last_event_id, load_cursor, save_cursor
from uet.state.records import EventRecord
from uet.state.store import Store

GAP_WAIT_S = 30.0
"""How long a missing event id is waited for before it is taken as never written."""

BATCH = 2000
"""Events read per query, at most."""


@dataclass
class EventFollower:
    """Reads new events in id order; :attr:`position` is what to save as the cursor."""

    store: Store
    seen: int = 0  # the highest event id read
    gaps: dict[int, float] = field(default_factory=dict)  # missing id -> when first missed
    monotonic: Callable[[], float] = time.monotonic

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
        """Every id up to this was read (or given up on)."""
        return min(self.gaps) - 1 if self.gaps else self.seen

    def poll(self) -> list[EventRecord]:
        """The events written since the last poll (and the gaps that showed up), id order."""
        with self.store.reader() as tx:
            found = events_by_id(tx, sorted(self.gaps))
            fresh = tx.get_events(after_id=self.seen, limit=BATCH)
        now = self.monotonic()
        for event in found:
            self.gaps.pop(event.id or 0, None)
        expected = self.seen + 1
        for event in fresh:
            assert event.id is not None  # noqa: S101 - read from the table
            for missing in range(expected, event.id):
                self.gaps[missing] = now
            expected = event.id + 1
        if fresh:
            self.seen = fresh[-1].id or self.seen
        for missing, since in list(self.gaps.items()):
            if now - since > GAP_WAIT_S:
                del self.gaps[missing]
        return sorted(found + fresh, key=lambda e: e.id or 0)
