"""The patch ledger's rows: one per patch (``patches``), one per move (``patch_transitions``).

The states and which moves are allowed are :mod:`uet.recovery.ledger`'s; here are only the
rows. Every function takes a :class:`~uet.state.store.Transaction` (as
:mod:`uet.state.fires`), so that a move, its transition row, its ``patch.*`` event and its
decision are committed together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from uet.errors import StoreError
from uet.state.records import JsonObject, dump_json, load_json
from uet.state.store import Transaction
from uet.state.tables import patch_transitions, patches


@dataclass(frozen=True, slots=True)
class PatchRecord:
    """One row of ``patches``."""

    id: str
    state: str
    repo: str
    target: str
    base_commit: str
    diff: str
    created_at: float
    updated_at: float
    origin: JsonObject = field(default_factory=dict)
    scope: JsonObject = field(default_factory=dict)
    queue: str | None = None
    confidence: float | None = None
    signals: list[Any] = field(default_factory=list)
    reason: str | None = None
    branch: str | None = None
    commit: str | None = None


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """One row of ``patch_transitions``: a patch moved from one state to another."""

    patch_id: str
    ts: float
    from_state: str | None
    to_state: str
    reason: str
    data: JsonObject = field(default_factory=dict)
    id: int | None = None


_JSON_COLUMNS = ("origin", "scope", "signals")


def _writable(tx: Transaction) -> sa.Connection:
    if tx.readonly:
        raise StoreError("a write was attempted in a read-only transaction (use transaction())")
    return tx.conn


def insert_patch(tx: Transaction, record: PatchRecord) -> None:
    values: dict[str, Any] = {
        name: getattr(record, name) for name in PatchRecord.__dataclass_fields__
    }
    for name in _JSON_COLUMNS:
        values[name] = dump_json(values[name])
    _writable(tx).execute(sa.insert(patches).values(values))


def update_patch(tx: Transaction, patch_id: str, **values: Any) -> None:
    """Set columns of one patch (JSON columns given as values, encoded here)."""
    for name in _JSON_COLUMNS:
        if name in values:
            values[name] = dump_json(values[name])
    _writable(tx).execute(sa.update(patches).where(patches.c.id == patch_id).values(values))


def get_patch(tx: Transaction, patch_id: str) -> PatchRecord | None:
    row = tx.conn.execute(sa.select(patches).where(patches.c.id == patch_id)).mappings().first()
    return None if row is None else _patch(row)


def patch_ids_like(tx: Transaction, prefix: str) -> list[str]:
    """Ids starting with ``prefix`` (a short id typed by a person), at most 10."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (
        sa.select(patches.c.id)
        .where(patches.c.id.like(f"{escaped}%", escape="\\"))
        .order_by(patches.c.id)
        .limit(10)
    )
    return [str(value) for value in tx.conn.execute(query).scalars()]


def list_patches(
    tx: Transaction,
    *,
    states: Sequence[str] | None = None,
    queue: str | None = None,
    limit: int | None = None,
) -> list[PatchRecord]:
    """Patches, newest first."""
    query = sa.select(patches).order_by(patches.c.created_at.desc(), patches.c.id)
    if states is not None:
        query = query.where(patches.c.state.in_(list(states)))
    if queue is not None:
        query = query.where(patches.c.queue == queue)
    if limit is not None:
        query = query.limit(limit)
    return [_patch(row) for row in tx.conn.execute(query).mappings()]


def add_transition(tx: Transaction, item: TransitionRecord) -> None:
    _writable(tx).execute(
        sa.insert(patch_transitions).values(
            patch_id=item.patch_id,
            ts=item.ts,
            from_state=item.from_state,
            to_state=item.to_state,
            reason=item.reason,
            data=dump_json(item.data),
        )
    )


def transitions(tx: Transaction, patch_id: str) -> list[TransitionRecord]:
    """A patch's moves, oldest first."""
    query = (
        sa.select(patch_transitions)
        .where(patch_transitions.c.patch_id == patch_id)
        .order_by(patch_transitions.c.id)
    )
    return [
        TransitionRecord(
            id=int(row["id"]),
            patch_id=row["patch_id"],
            ts=row["ts"],
            from_state=row["from_state"],
            to_state=row["to_state"],
            reason=row["reason"],
            data=load_json(row["data"], {}),
        )
        for row in tx.conn.execute(query).mappings()
    ]


def _patch(row: sa.RowMapping) -> PatchRecord:
    return PatchRecord(
        id=row["id"],
        state=row["state"],
        repo=row["repo"],
        target=row["target"],
        base_commit=row["base_commit"],
        diff=row["diff"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        origin=load_json(row["origin"], {}),
        scope=load_json(row["scope"], {}),
        queue=row["queue"],
        confidence=row["confidence"],
        signals=load_json(row["signals"], []),
        reason=row["reason"],
        branch=row["branch"],
        commit=row["commit"],
    )
