"""The router's durable state, kept in memory and written back to the store.

Breakers and round-robin cursors live here; a change marks its row dirty, and
:meth:`RouterState.flush` writes only the dirty rows, with the routing decisions made
since the last flush, in one transaction. Flushes happen every ``flush_every`` decisions
or ``flush_interval`` seconds (whichever first), at :meth:`close`, and at once when a
breaker opens: an open breaker forgotten by a restart would send work straight back to a
tool that is out of quota, while a cursor a few decisions behind costs nothing.

With no store the state is memory only and decisions are not kept.

Per-tool ``max_parallel`` across processes goes through leases (``tool_leases``): one row
per piece of work in flight on a limited tool, taken and given back in a transaction each.
Leases of a router whose process died on this host are reclaimed by the next acquirer;
a dead router on another host keeps its leases until ``uet`` releases them (see
docs/routing.md).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from uet.routing.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from uet.state import ledgers
from uet.state.ledgers import DecisionRow, ToolStateRecord
from uet.state.records import DecisionRecord
from uet.state.store import Store, Transaction

FLUSH_EVERY = 1000
"""Decisions between two write-backs of the router's state, at most."""

FLUSH_INTERVAL_S = 1.0
"""Seconds between two write-backs of the router's state, at most (checked per decision)."""


class RouterState:
    """Breakers, cursors and pending decisions of one router; restored from ``store``."""

    def __init__(
        self,
        store: Store | None = None,
        *,
        policy: BreakerPolicy | None = None,
        flush_every: int = FLUSH_EVERY,
        flush_interval: float = FLUSH_INTERVAL_S,
    ) -> None:
        if flush_every < 1 or flush_interval <= 0:
            raise ValueError("flush_every must be >= 1 and flush_interval > 0")
        self.store = store
        self.policy = policy or BreakerPolicy()
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self.breakers: dict[str, CircuitBreaker] = {}
        self.cursors: dict[str, int] = {}
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._dirty_tools: set[str] = set()
        self._dirty_cursors: set[str] = set()
        self._decisions: list[DecisionRow] = []
        self._since_flush = 0
        self._last_flush: float | None = None
        self.transactions = 0  # write transactions made (flushes and leases)
        self.rows_written = 0  # rows written by flushes (state rows and decisions)
        if store is not None:
            self._restore(store)

    def _restore(self, store: Store) -> None:
        with store.reader() as tx:
            saved = ledgers.load_tool_states(tx)
            self.cursors = ledgers.load_cursors(tx)
        for row in saved.values():
            self.breakers[row.tool] = CircuitBreaker(
                row.tool,
                self.policy,
                state=BreakerState(row.breaker),
                failures=row.failures,
                opened_at=row.opened_at,
                retry_at=row.retry_at,
                reason=row.reason,
            )

    # -- in memory ------------------------------------------------------------------------

    def breaker(self, tool: str) -> CircuitBreaker:
        found = self.breakers.get(tool)
        if found is None:
            found = self.breakers[tool] = CircuitBreaker(tool, self.policy)
        return found

    def changed(self, tool: str) -> None:
        """``tool``'s breaker changed: its row is written at the next flush."""
        self._dirty_tools.add(tool)

    def set_cursor(self, rule: str, index: int) -> None:
        if self.cursors.get(rule) != index:
            self.cursors[rule] = index
            self._dirty_cursors.add(rule)

    def record(self, decision: DecisionRecord) -> None:
        """Keep ``decision`` for the next flush (dropped when there is no store)."""
        if self.store is not None:
            self._decisions.append(ledgers.decision_row(decision))

    def record_row(self, row: DecisionRow) -> None:
        """:meth:`record` for a row already in ``decisions`` column order (the hot path)."""
        self._decisions.append(row)

    @property
    def dirty(self) -> int:
        """Rows and decisions waiting to be written."""
        return len(self._dirty_tools) + len(self._dirty_cursors) + len(self._decisions)

    def tick(self, at: float) -> None:
        """One decision was made at ``at``: flush when ``flush_every`` or ``flush_interval``
        has been reached."""
        self._since_flush += 1
        if self._last_flush is None:
            self._last_flush = at
        if self._since_flush >= self.flush_every or at - self._last_flush >= self.flush_interval:
            self.flush(at)

    # -- to the store -----------------------------------------------------------------------

    def write(self, tx: Transaction, at: float) -> int:
        """Write the dirty rows and pending decisions into ``tx``; returns rows written.

        For a caller that commits its own changes at the same moment (the run loop's tick).
        """
        tools = [self._row(self.breakers[tool], at) for tool in sorted(self._dirty_tools)]
        cursors = [(rule, self.cursors[rule]) for rule in sorted(self._dirty_cursors)]
        decisions = self._decisions
        rows = ledgers.save_tool_states(tx, tools)
        rows += ledgers.save_cursors(tx, cursors, at=at)
        rows += ledgers.insert_decision_rows(tx, decisions)
        self._dirty_tools.clear()
        self._dirty_cursors.clear()
        self._decisions = []
        self._since_flush = 0
        self._last_flush = at
        self.rows_written += rows
        return rows

    def flush(self, at: float) -> int:
        """Write what is dirty in a transaction of its own; returns rows written.

        If the transaction fails, everything stays dirty for the next flush.
        """
        if self.store is None or not self.dirty:
            self._since_flush = 0
            self._last_flush = at
            return 0
        with self._transaction() as tx:
            return self.write(tx, at)

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        """A write transaction; if it fails, what was dirty stays dirty for the next one."""
        assert self.store is not None  # noqa: S101 - callers check
        tools, cursors, decisions = (
            set(self._dirty_tools),
            set(self._dirty_cursors),
            self._decisions,
        )
        try:
            with self.store.transaction() as tx:
                yield tx
        except BaseException:
            self._dirty_tools |= tools
            self._dirty_cursors |= cursors
            if self._decisions is not decisions:  # written, then rolled back
                self._decisions = decisions + self._decisions
            raise
        self.transactions += 1

    # -- leases -----------------------------------------------------------------------------

    def acquire(self, tool: str, limit: int, at: float) -> int | None:
        """A slot of ``tool`` (one of ``limit`` shared by every router on the store): its
        lease id, or None when all are taken. Dirty rows are written in the same transaction."""
        if self.store is None:
            raise ValueError("leases need a store")
        with self._transaction() as tx:
            self.write(tx, at)
            return ledgers.acquire_lease(
                tx, tool, holder=self.holder, limit=limit, at=at, is_stale=_dead_here
            )

    def release(self, lease_id: int, at: float) -> None:
        if self.store is None:
            return
        with self._transaction() as tx:
            self.write(tx, at)
            ledgers.release_leases(tx, [lease_id])

    def close(self, at: float) -> None:
        """Write everything dirty and give back this router's leases."""
        if self.store is None:
            return
        with self._transaction() as tx:
            self.write(tx, at)
            ledgers.release_holder(tx, self.holder)

    @staticmethod
    def _row(breaker: CircuitBreaker, at: float) -> ToolStateRecord:
        return ToolStateRecord(
            tool=breaker.tool,
            breaker=breaker.state.value,
            failures=breaker.failures,
            updated_at=at,
            opened_at=breaker.opened_at,
            retry_at=breaker.retry_at,
            reason=breaker.reason,
        )


_HOST = socket.gethostname()


def _dead_here(holder: str) -> bool:
    """True for a lease holder on this host whose process no longer exists."""
    host, _, pid_text = holder.rpartition(":")[0].rpartition(":")  # host:pid:token
    if host != _HOST or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False
