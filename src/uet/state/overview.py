"""What a list of runs shows beside each run: its workstreams, its tasks counted by state and
its duration, read in two queries for the whole list (``uet runs``, ``uet status``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from uet.state.tables import tasks, workstreams
from uet.states import TaskStatus

if TYPE_CHECKING:
    from uet.state.records import RunRecord
    from uet.state.store import Transaction


@dataclass(frozen=True, slots=True)
class RunOverview:
    run: RunRecord
    workstreams: tuple[str, ...] = ()
    counts: dict[TaskStatus, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def duration(self, now: float | None = None) -> float | None:
        """Seconds from start to end (to ``now`` while it runs); None before it started."""
        start = self.run.started_at
        if start is None:
            return None
        end = self.run.ended_at
        if end is None:
            end = time.time() if now is None else now
        return max(0.0, end - start)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.run.to_dict(),
            "workstreams": list(self.workstreams),
            "tasks": {status.value: n for status, n in sorted(self.counts.items())},
            "duration": self.duration(),
        }


def overviews(tx: Transaction, found: Sequence[RunRecord]) -> list[RunOverview]:
    """An overview of each run of ``found``, in its order."""
    ids = [run.id for run in found]
    if not ids:
        return []
    names: dict[str, list[str]] = {run_id: [] for run_id in ids}
    query = (
        sa.select(workstreams.c.run_id, workstreams.c.id)
        .where(workstreams.c.run_id.in_(ids))
        .order_by(workstreams.c.run_id, workstreams.c.id)
    )
    for run_id, workstream_id in tx.conn.execute(query):
        names[run_id].append(workstream_id)
    counts: dict[str, dict[TaskStatus, int]] = {run_id: {} for run_id in ids}
    query_counts = (
        sa.select(tasks.c.run_id, tasks.c.status, sa.func.count())
        .where(tasks.c.run_id.in_(ids))
        .group_by(tasks.c.run_id, tasks.c.status)
    )
    for run_id, status, n in tx.conn.execute(query_counts):
        counts[run_id][TaskStatus(status)] = int(n)
    return [RunOverview(run, tuple(names[run.id]), counts[run.id]) for run in found]
