"""Routing's ledgers in the store: breaker state, round-robin cursors, tool leases, decisions.

Every function takes a :class:`uet.state.store.Transaction`, so that a router's write-back
shares the caller's transaction (one per run-loop tick, or one per batch)::

    with store.transaction() as tx:
        save_tool_states(tx, dirty_breakers)
        save_cursors(tx, dirty_cursors, at=now)
        recorder.write(tx)

Rows are written with one ``executemany`` per table, straight through the driver: the
same SQL on SQLite and PostgreSQL (both speak ``INSERT … ON CONFLICT … DO UPDATE``).
:class:`DecisionRecorder` buffers decisions and writes them in batches, so that recording
every routing choice costs a fraction of making it (``bench/routing.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from uet.errors import StoreError
from uet.state.records import DecisionRecord, dump_json
from uet.state.store import Store, Transaction, execute_sql

DECISION_BATCH = 1000
"""Decisions a :class:`DecisionRecorder` holds before it writes them, at most."""


@dataclass(frozen=True, slots=True)
class ToolStateRecord:
    """One tool's circuit breaker as stored (``tool_state``)."""

    tool: str
    breaker: str  # closed | open | half_open
    failures: int
    updated_at: float
    opened_at: float | None = None
    retry_at: float | None = None
    reason: str | None = None


_TOOL_STATE_COLUMNS = (
    "tool",
    "breaker",
    "failures",
    "opened_at",
    "retry_at",
    "reason",
    "updated_at",
)
_DECISION_COLUMNS = (
    "ts",
    "category",
    "run_id",
    "task_id",
    "chosen",
    "alternatives",
    "reason",
    "data",
)


def _mark(conn: sa.Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _upsert_sql(conn: sa.Connection, table: str, columns: Sequence[str], key: str) -> str:
    marks = ", ".join([_mark(conn)] * len(columns))
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


def _writable(tx: Transaction) -> sa.Connection:
    if tx.readonly:
        raise StoreError("a write was attempted in a read-only transaction (use transaction())")
    return tx.conn


# -- breakers -------------------------------------------------------------------------------


def load_tool_states(tx: Transaction) -> dict[str, ToolStateRecord]:
    """Every stored breaker, by tool."""
    sql = f"SELECT {', '.join(_TOOL_STATE_COLUMNS)} FROM tool_state"
    rows = tx.conn.exec_driver_sql(sql).all()
    found = {}
    for tool, breaker, failures, opened_at, retry_at, reason, updated_at in rows:
        found[tool] = ToolStateRecord(
            tool=tool,
            breaker=breaker,
            failures=int(failures),
            updated_at=updated_at,
            opened_at=opened_at,
            retry_at=retry_at,
            reason=reason,
        )
    return found


def save_tool_states(tx: Transaction, items: Iterable[ToolStateRecord]) -> int:
    """Insert or replace breakers (one statement for all); returns how many were given."""
    conn = _writable(tx)
    params = [
        (i.tool, i.breaker, i.failures, i.opened_at, i.retry_at, i.reason, i.updated_at)
        for i in items
    ]
    if params:
        sql = _upsert_sql(conn, "tool_state", _TOOL_STATE_COLUMNS, "tool")
        execute_sql(conn, sql, params, many=True)
    return len(params)


# -- round-robin cursors --------------------------------------------------------------------


def load_cursors(tx: Transaction) -> dict[str, int]:
    """Every stored round-robin cursor, by rule key."""
    rows = tx.conn.exec_driver_sql("SELECT rule, next_index FROM route_cursors").all()
    return {rule: int(index) for rule, index in rows}


def save_cursors(tx: Transaction, cursors: Iterable[tuple[str, int]], *, at: float) -> int:
    """Insert or replace ``(rule key, next index)`` pairs; returns how many were given."""
    conn = _writable(tx)
    params = [(rule, index, at) for rule, index in cursors]
    if params:
        sql = _upsert_sql(conn, "route_cursors", ("rule", "next_index", "updated_at"), "rule")
        execute_sql(conn, sql, params, many=True)
    return len(params)


# -- leases: per-tool parallelism shared by every router on one store ----------------------


def acquire_lease(
    tx: Transaction,
    tool: str,
    *,
    holder: str,
    limit: int,
    at: float,
    is_stale: Callable[[str], bool] | None = None,
) -> int | None:
    """Take one of ``tool``'s ``limit`` slots for ``holder``; its lease id, or None when full.

    Leases of holders for which ``is_stale(holder)`` is true (a router whose process died)
    are deleted first. Concurrent acquirers are serialised: SQLite's write transaction
    holds the database lock; on PostgreSQL a per-tool advisory lock is taken.
    """
    conn = _writable(tx)
    mark = _mark(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(f"tool:{tool}"))))
    rows = execute_sql(conn, f"SELECT id, holder FROM tool_leases WHERE tool = {mark}", (tool,))
    held = [(int(lease_id), who) for lease_id, who in rows]
    stale = [lease_id for lease_id, who in held if is_stale is not None and is_stale(who)]
    if stale:
        execute_sql(
            conn, f"DELETE FROM tool_leases WHERE id = {mark}", [(i,) for i in stale], many=True
        )
    if len(held) - len(stale) >= limit:
        return None
    sql = f"INSERT INTO tool_leases (tool, holder, acquired_at) VALUES ({mark}, {mark}, {mark})"
    result = execute_sql(conn, f"{sql} RETURNING id", (tool, holder, at))
    return int(next(iter(result))[0])


def release_leases(tx: Transaction, lease_ids: Iterable[int]) -> None:
    """Give slots back (ids already gone are ignored)."""
    conn = _writable(tx)
    params = [(lease_id,) for lease_id in lease_ids]
    if params:
        execute_sql(conn, f"DELETE FROM tool_leases WHERE id = {_mark(conn)}", params, many=True)


def release_holder(tx: Transaction, holder: str) -> None:
    """Give back every slot ``holder`` still has (a router closing)."""
    conn = _writable(tx)
    execute_sql(conn, f"DELETE FROM tool_leases WHERE holder = {_mark(conn)}", (holder,))


def release_process(tx: Transaction, host: str, pid: int) -> int:
    """Give back every slot held by routers of process ``pid`` on ``host`` (an orchestrator
    found dead: its leases would otherwise hold their tools' slots for good); returns how
    many. (:meth:`Transaction.release_tool_slots`, which the SQLite store without
    SQLAlchemy has too.)"""
    return tx.release_tool_slots(host, pid)


def count_leases(tx: Transaction) -> dict[str, int]:
    """Slots taken, by tool."""
    sql = "SELECT tool, COUNT(*) FROM tool_leases GROUP BY tool"
    return {tool: int(n) for tool, n in tx.conn.exec_driver_sql(sql).all()}


def _lock_key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# -- decisions ------------------------------------------------------------------------------


DecisionRow = tuple[float, str, str | None, str | None, str, str | None, str, str | None]
"""A ``decisions`` row: (ts, category, run_id, task_id, chosen, alternatives JSON, reason,
data JSON)."""


def decision_row(d: DecisionRecord) -> DecisionRow:
    return (
        d.ts,
        d.category,
        d.run_id,
        d.task_id,
        d.chosen,
        dump_json(d.alternatives),
        d.reason,
        dump_json(d.data),
    )


def insert_decisions(tx: Transaction, items: Sequence[DecisionRecord]) -> int:
    """Append decisions with one ``executemany``; returns how many were written."""
    return insert_decision_rows(tx, [decision_row(d) for d in items])


def insert_decision_rows(tx: Transaction, rows: Sequence[DecisionRow]) -> int:
    """Append rows already in column order; returns how many were written."""
    conn = _writable(tx)
    if rows:
        marks = ", ".join([_mark(conn)] * len(_DECISION_COLUMNS))
        sql = f"INSERT INTO decisions ({', '.join(_DECISION_COLUMNS)}) VALUES ({marks})"
        execute_sql(conn, sql, rows, many=True)
    return len(rows)


class DecisionRecorder:
    """A buffer of decisions written to the store in batches.

    :meth:`add` keeps a decision in memory; when ``batch_size`` are waiting they are written
    in one transaction. :meth:`write` puts the waiting ones into a caller's transaction (the
    router's write-back, the run loop's tick), :meth:`flush` into a new one. Memory is
    bounded by ``batch_size``. Not thread-safe: one recorder per run loop.
    """

    def __init__(self, store: Store, *, batch_size: int = DECISION_BATCH) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.store = store
        self.batch_size = batch_size
        self._pending: list[DecisionRecord] = []
        self.written = 0  # decisions written so far
        self.transactions = 0  # transactions this recorder opened itself

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, record: DecisionRecord) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.batch_size:
            self.flush()

    def write(self, tx: Transaction) -> int:
        """Write the waiting decisions into the caller's ``tx``; returns how many.

        They leave the buffer here: if the caller's transaction then rolls back, they are
        lost with the rest of it (as the state changes they explain are).
        """
        pending, self._pending = self._pending, []
        try:
            count = insert_decisions(tx, pending)
        except BaseException:
            self._pending[:0] = pending  # kept for the next attempt
            raise
        self.written += count
        return count

    def flush(self) -> int:
        """Write the waiting decisions in a transaction of their own; returns how many.

        When the transaction fails the decisions stay buffered (and the error is raised).
        """
        if not self._pending:
            return 0
        pending, self._pending = self._pending, []
        try:
            with self.store.transaction() as tx:
                insert_decisions(tx, pending)
        except BaseException:
            self._pending[:0] = pending
            raise
        self.written += len(pending)
        self.transactions += 1
        return len(pending)

    def close(self) -> None:
        self.flush()
