"""Triage's rows: a result history per test id (``triage_results``) and the quarantine.

Every outcome triage sees is a row: the report's own results (kind ``report``) and each
rerun (``alone``, ``ordered``, ``bisect``, ``confirm``) with the recorded run and task that
ran it, so ``uet logs RUN TASK`` shows the evidence. Rows written during an infra storm
(``storm``) are kept but never count as evidence of flakiness.

Quarantine states (``QuarantineStatus``): ``quarantined`` (the test keeps running, its
failures do not fail the build) → ``released`` (after enough clean runs in a row); a
released test that flips again is quarantined again.

Every function takes a :class:`~uet.state.store.Transaction` (as ``uet.state.ledgers``).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from uet.errors import StoreError
from uet.state.records import dump_json, load_json
from uet.state.store import Transaction
from uet.state.tables import triage_quarantine, triage_results

_IN_CHUNK = 500  # ids per IN (...) list


class QuarantineStatus(enum.StrEnum):
    """A quarantine row's state: ``quarantined`` → ``released`` (→ ``quarantined`` again)."""

    QUARANTINED = "quarantined"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One row of ``triage_results``."""

    triage_id: str
    test_id: str
    kind: str
    outcome: str
    triaged_at: float
    commit: str | None = None
    failure_class: str | None = None
    storm: bool = False
    run_id: str | None = None
    task_id: str | None = None
    detail: dict[str, Any] | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """One row of ``triage_quarantine``."""

    test_id: str
    status: QuarantineStatus
    reason: str
    since: float
    clean_runs: int
    updated_at: float
    commit: str | None = None
    released_at: float | None = None
    failed_at: float | None = None  # its last failure while quarantined (or the start)

    def to_dict(self) -> dict[str, Any]:
        return {
            "test_id": self.test_id,
            "status": self.status.value,
            "reason": self.reason,
            "since": self.since,
            "clean_runs": self.clean_runs,
            "updated_at": self.updated_at,
            "commit": self.commit,
            "released_at": self.released_at,
            "failed_at": self.failed_at,
        }


def _writable(tx: Transaction) -> sa.Connection:
    if tx.readonly:
        raise StoreError("a write was attempted in a read-only transaction (use transaction())")
    return tx.conn


def add_results(tx: Transaction, rows: Sequence[ResultRow]) -> None:
    """Append rows to the history (one multi-row insert)."""
    if not rows:
        return
    values = [
        {
            "triage_id": row.triage_id,
            "test_id": row.test_id,
            "commit": row.commit,
            "kind": row.kind,
            "outcome": row.outcome,
            "failure_class": row.failure_class,
            "storm": row.storm,
            "run_id": row.run_id,
            "task_id": row.task_id,
            "detail": None if row.detail is None else dump_json(row.detail),
            "triaged_at": row.triaged_at,
        }
        for row in rows
    ]
    _writable(tx).execute(sa.insert(triage_results), values)


def outcomes_on_commit(
    tx: Transaction, test_ids: Iterable[str], commit: str
) -> dict[str, set[str]]:
    """Each test's distinct outcomes (passed, failed, error) on ``commit``, storms left out."""
    found: dict[str, set[str]] = defaultdict(set)
    wanted = sorted(set(test_ids))
    table = triage_results.c
    for start in range(0, len(wanted), _IN_CHUNK):
        query = (
            sa.select(table.test_id, table.outcome)
            .distinct()
            .where(table.commit == commit, table.storm == sa.false(), table.outcome != "skipped")
            .where(table.test_id.in_(wanted[start : start + _IN_CHUNK]))
        )
        for test_id, outcome in tx.conn.execute(query):
            found[test_id].add(outcome)
    return dict(found)


def history(tx: Transaction, test_id: str, *, limit: int = 100) -> list[ResultRow]:
    """A test's rows, newest first."""
    table = triage_results.c
    query = (
        sa.select(triage_results)
        .where(table.test_id == test_id)
        .order_by(table.id.desc())
        .limit(limit)
    )
    return [_result_row(row) for row in tx.conn.execute(query).mappings()]


def _result_row(row: Any) -> ResultRow:
    return ResultRow(
        triage_id=row["triage_id"],
        test_id=row["test_id"],
        kind=row["kind"],
        outcome=row["outcome"],
        triaged_at=row["triaged_at"],
        commit=row["commit"],
        failure_class=row["failure_class"],
        storm=bool(row["storm"]),
        run_id=row["run_id"],
        task_id=row["task_id"],
        detail=None if row["detail"] is None else load_json(row["detail"]),
        id=row["id"],
    )


def quarantine(
    tx: Transaction, test_ids: Iterable[str] | None = None, *, only_active: bool = False
) -> dict[str, QuarantineRecord]:
    """Quarantine rows by test id: of ``test_ids`` (every one when None)."""
    table = triage_quarantine.c
    query = sa.select(triage_quarantine)
    if only_active:
        query = query.where(table.status == QuarantineStatus.QUARANTINED.value)
    if test_ids is None:
        rows = list(tx.conn.execute(query.order_by(table.test_id)).mappings())
    else:
        wanted = sorted(set(test_ids))
        rows = []
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = query.where(table.test_id.in_(wanted[start : start + _IN_CHUNK]))
            rows += tx.conn.execute(chunk).mappings()
    return {row["test_id"]: _quarantine_record(row) for row in rows}


def _quarantine_record(row: Any) -> QuarantineRecord:
    return QuarantineRecord(
        test_id=row["test_id"],
        status=QuarantineStatus(row["status"]),
        reason=row["reason"],
        since=row["since"],
        clean_runs=row["clean_runs"],
        updated_at=row["updated_at"],
        commit=row["commit"],
        released_at=row["released_at"],
        failed_at=row["failed_at"],
    )


def put_quarantine(tx: Transaction, record: QuarantineRecord) -> None:
    """Insert or replace one test's quarantine row."""
    conn = _writable(tx)
    values = record.to_dict()
    values["status"] = record.status.value
    table = triage_quarantine.c
    updated = conn.execute(
        sa.update(triage_quarantine).where(table.test_id == record.test_id).values(values)
    )
    if updated.rowcount == 0:
        conn.execute(sa.insert(triage_quarantine).values(values))
