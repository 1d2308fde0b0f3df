"""The fire ledger: one row per (trigger, fire key), the run it started, the daemon's cursor.

A fire key names one occasion of a trigger (``every:<slot>``, ``cron:<time>``,
``event:<event id>``, ``files:<batch>``, ``manual:<uuid>``). ``UNIQUE(trigger_id, fire_key)``
is what makes a fire happen at most once, however many daemons race and however often they
restart: :func:`record_fire` inserts the row with ``ON CONFLICT DO NOTHING`` and, only when
the row is new, calls ``create`` in the same transaction to write the run it starts. So
either both the fire and its run exist, or neither does.

Statuses (``FireStatus``): ``fired`` (the row and its pending run are written), ``launched``
(a process was started to drive the run), ``skipped`` (no run: ``reason`` says why),
``failed`` (the run could not be made or launched: ``reason`` says why).

Every function takes a :class:`~uet.state.store.Transaction` (as ``uet.state.ledgers``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from uet.errors import StoreError
from uet.state.records import EventRecord
from uet.state.rows import event_record
from uet.state.store import Transaction
from uet.state.tables import events, runs, trigger_cursors, trigger_fires

_IN_CHUNK = 500  # values per IN (…) list

EVENTS_CURSOR = "events"
"""The cursor of the followed event log (every event id ≤ its position was looked at)."""


class FireStatus(enum.StrEnum):
    """A fire row's state: ``fired`` → ``launched``; or ``skipped``; or ``failed``."""

    FIRED = "fired"
    LAUNCHED = "launched"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FireRecord:
    """One row of ``trigger_fires``."""

    trigger_id: str
    fire_key: str
    fired_at: float
    status: FireStatus
    scheduled_for: float | None = None
    run_id: str | None = None
    reason: str | None = None
    daemon: str | None = None
    id: int | None = None


def _writable(tx: Transaction) -> sa.Connection:
    if tx.readonly:
        raise StoreError("a write was attempted in a read-only transaction (use transaction())")
    return tx.conn


def _insert(conn: sa.Connection) -> Any:
    """The dialect's ``insert`` (with ``on_conflict_do_…``: both dialects speak it).

    Imported here: the PostgreSQL dialect costs a SQLite user's command 0.1 s of imports."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # noqa: PLC0415

        return insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

    return sqlite_insert


def record_fire(
    tx: Transaction,
    fire: FireRecord,
    create: Callable[[Transaction], None] | None = None,
) -> bool:
    """Insert ``fire`` unless its (trigger, fire key) exists; only then call ``create(tx)``
    (which writes the run the fire starts) in the same transaction. Returns whether the
    fire is new: False means another daemon (or this one, earlier) had it, and nothing was
    written."""
    conn = _writable(tx)
    insert = _insert(conn)
    values = {
        "trigger_id": fire.trigger_id,
        "fire_key": fire.fire_key,
        "scheduled_for": fire.scheduled_for,
        "fired_at": fire.fired_at,
        "run_id": fire.run_id,
        "status": fire.status.value,
        "reason": fire.reason,
        "daemon": fire.daemon,
    }
    made = conn.execute(
        insert(trigger_fires)
        .values(values)
        .on_conflict_do_nothing(index_elements=["trigger_id", "fire_key"])
        .returning(trigger_fires.c.id)  # rowcount is not reliable here on every driver
    ).first()
    if made is None:
        return False
    if create is not None:
        create(tx)
    return True


def record_fires(tx: Transaction, fires: Sequence[FireRecord]) -> set[tuple[str, str]]:
    """Insert ``fires`` (rows without a run: skips) in a few statements, each one whose
    (trigger, fire key) is not in the ledger yet; returns those that were new."""
    conn = _writable(tx)
    insert = _insert(conn)
    new: set[tuple[str, str]] = set()
    for start in range(0, len(fires), _IN_CHUNK // 5):
        rows = [
            {
                "trigger_id": f.trigger_id,
                "fire_key": f.fire_key,
                "scheduled_for": f.scheduled_for,
                "fired_at": f.fired_at,
                "run_id": f.run_id,
                "status": f.status.value,
                "reason": f.reason,
                "daemon": f.daemon,
            }
            for f in fires[start : start + _IN_CHUNK // 5]
        ]
        statement = (
            insert(trigger_fires)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["trigger_id", "fire_key"])
            .returning(trigger_fires.c.trigger_id, trigger_fires.c.fire_key)
        )
        new.update((str(t), str(k)) for t, k in conn.execute(statement).all())
    return new


def set_fire_status(
    tx: Transaction, trigger_id: str, fire_key: str, status: FireStatus, reason: str | None = None
) -> None:
    """Move one fire to ``status`` (``launched``, or ``failed`` with its reason)."""
    values: dict[str, Any] = {"status": status.value}
    if reason is not None:
        values["reason"] = reason
    _writable(tx).execute(
        sa.update(trigger_fires)
        .where(trigger_fires.c.trigger_id == trigger_id, trigger_fires.c.fire_key == fire_key)
        .values(values)
    )


def known_keys(
    tx: Transaction, trigger_ids: Sequence[str], fire_keys: Sequence[str]
) -> set[tuple[str, str]]:
    """``(trigger id, fire key)`` of the ledger's rows among those of ``trigger_ids`` and
    ``fire_keys`` (one index seek each, through the unique key)."""
    found: set[tuple[str, str]] = set()
    unique = sorted(set(fire_keys))
    for start in range(0, len(unique) if trigger_ids else 0, _IN_CHUNK):
        query = sa.select(trigger_fires.c.trigger_id, trigger_fires.c.fire_key).where(
            trigger_fires.c.trigger_id.in_(sorted(set(trigger_ids))),
            trigger_fires.c.fire_key.in_(unique[start : start + _IN_CHUNK]),
        )
        found.update((str(t), str(k)) for t, k in tx.conn.execute(query).all())
    return found


def get_fire(tx: Transaction, trigger_id: str, fire_key: str) -> FireRecord | None:
    row = (
        tx.conn.execute(
            sa.select(trigger_fires).where(
                trigger_fires.c.trigger_id == trigger_id, trigger_fires.c.fire_key == fire_key
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else _record(row)


def list_fires(
    tx: Transaction,
    *,
    trigger_id: str | None = None,
    statuses: Sequence[FireStatus] | None = None,
    limit: int | None = None,
) -> list[FireRecord]:
    """Fires in the order they were recorded (newest last)."""
    query = sa.select(trigger_fires).order_by(trigger_fires.c.id)
    if trigger_id is not None:
        query = query.where(trigger_fires.c.trigger_id == trigger_id)
    if statuses is not None:
        query = query.where(trigger_fires.c.status.in_([s.value for s in statuses]))
    if limit is not None:
        query = query.order_by(None).order_by(trigger_fires.c.id.desc()).limit(limit)
        rows = list(tx.conn.execute(query).mappings())[::-1]
    else:
        rows = list(tx.conn.execute(query).mappings())
    return [_record(row) for row in rows]


def last_fires(tx: Transaction) -> dict[str, FireRecord]:
    """Each trigger's newest fire that started a run (fired, launched or failed)."""
    newest = (
        sa.select(sa.func.max(trigger_fires.c.id))
        .where(trigger_fires.c.status != FireStatus.SKIPPED.value)
        .group_by(trigger_fires.c.trigger_id)
    )
    query = sa.select(trigger_fires).where(trigger_fires.c.id.in_(newest))
    return {r.trigger_id: r for r in map(_record, tx.conn.execute(query).mappings())}


def last_scheduled(tx: Transaction) -> dict[str, float]:
    """Each trigger's newest schedule time taken care of (fired or skipped): where a cron or
    ``every`` trigger's catch-up starts after a restart."""
    query = (
        sa.select(trigger_fires.c.trigger_id, sa.func.max(trigger_fires.c.scheduled_for))
        .where(trigger_fires.c.scheduled_for.is_not(None))
        .group_by(trigger_fires.c.trigger_id)
    )
    return {tid: float(at) for tid, at in tx.conn.execute(query).all()}


def fires_since(tx: Transaction, trigger_id: str, since: float) -> int:
    """How many runs ``trigger_id`` started since ``since`` (for ``max_runs_per_hour``)."""
    query = (
        sa.select(sa.func.count())
        .select_from(trigger_fires)
        .where(
            trigger_fires.c.trigger_id == trigger_id,
            trigger_fires.c.fired_at >= since,
            trigger_fires.c.run_id.is_not(None),
        )
    )
    return int(tx.conn.execute(query).scalar_one())


def unlaunched_fires(tx: Transaction) -> list[FireRecord]:
    """Fires whose run was never started: the run is ``pending``, or was reconciled to
    ``interrupted`` before anything started it (its ``started_at`` is empty); not the
    ``failed`` ones (their launch refused the run)."""
    query = (
        sa.select(trigger_fires)
        .join(runs, runs.c.id == trigger_fires.c.run_id)
        .where(
            trigger_fires.c.status != FireStatus.FAILED.value,
            sa.or_(
                runs.c.status == "pending",
                sa.and_(runs.c.status == "interrupted", runs.c.started_at.is_(None)),
            ),
        )
        .order_by(trigger_fires.c.id)
    )
    return [_record(row) for row in tx.conn.execute(query).mappings()]


def active_runs(tx: Transaction, trigger_id: str) -> list[tuple[str, str, str]]:
    """``(run id, run status, fire status)`` of ``trigger_id``'s runs that have not ended
    (pending, running, canceling), oldest first: what the overlap policy looks at."""
    query = (
        sa.select(runs.c.id, runs.c.status, trigger_fires.c.status)
        .join(trigger_fires, runs.c.id == trigger_fires.c.run_id)
        .where(
            trigger_fires.c.trigger_id == trigger_id,
            runs.c.status.in_(("pending", "running", "canceling")),
        )
        .order_by(trigger_fires.c.id)
    )
    return [(str(r), str(s), str(f)) for r, s, f in tx.conn.execute(query).all()]


# -- the event cursor -----------------------------------------------------------------------


def load_cursor(tx: Transaction, name: str = EVENTS_CURSOR) -> int | None:
    """The stored position of cursor ``name`` (None: never saved)."""
    query = sa.select(trigger_cursors.c.position).where(trigger_cursors.c.name == name)
    value = tx.conn.execute(query).scalar()
    return None if value is None else int(value)


def save_cursor(tx: Transaction, position: int, *, at: float, name: str = EVENTS_CURSOR) -> None:
    """Store cursor ``name`` at ``position`` (never moving it back)."""
    conn = _writable(tx)
    insert = _insert(conn)
    statement = insert(trigger_cursors).values(name=name, position=position, updated_at=at)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "position": sa.func.max(trigger_cursors.c.position, statement.excluded.position)
                if conn.dialect.name == "sqlite"
                else sa.func.greatest(trigger_cursors.c.position, statement.excluded.position),
                "updated_at": statement.excluded.updated_at,
            },
        )
    )


def _record(row: sa.RowMapping) -> FireRecord:
    return FireRecord(
        id=int(row["id"]),
        trigger_id=row["trigger_id"],
        fire_key=row["fire_key"],
        scheduled_for=row["scheduled_for"],
        fired_at=row["fired_at"],
        run_id=row["run_id"],
        status=FireStatus(row["status"]),
        reason=row["reason"],
        daemon=row["daemon"],
    )


def last_event_id(tx: Transaction) -> int:
    """The highest event id in the log (0: none)."""
    return int(tx.conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)


def event_horizon(tx: Transaction) -> tuple[int, int] | None:
    """``(xmin, xmax)`` of the reading transaction's snapshot on PostgreSQL: every
    transaction id below ``xmin`` has ended, and every one at or past ``xmax`` began after
    the snapshot (``uet.triggers.follow`` uses them to tell a gap that may still fill from
    a hole). None on SQLite, whose event ids are taken in commit order."""
    if tx.conn.dialect.name != "postgresql":
        return None
    if (tx.conn.dialect.server_version_info or (0,)) >= (13,):
        sql = (
            "SELECT pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text"
            " FROM pg_current_snapshot() s"
        )
    else:  # the txid_ functions (deprecated since 13) are the same, as bigint
        sql = "SELECT txid_snapshot_xmin(s), txid_snapshot_xmax(s) FROM txid_current_snapshot() s"
    xmin, xmax = tx.conn.execute(sa.text(sql)).one()
    return int(xmin), int(xmax)


def events_by_id(tx: Transaction, ids: Sequence[int]) -> list[EventRecord]:
    """The events among ``ids`` that exist (a follower's gaps that showed up)."""
    if not ids:
        return []
    query = sa.select(events).where(events.c.id.in_(list(ids))).order_by(events.c.id)
    return [event_record(row) for row in tx.conn.execute(query).mappings()]
