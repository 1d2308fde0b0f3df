"""What a list of runs shows beside each run: its workstreams, its tasks counted by state and
its duration, read in two queries for the whole list (``uet runs``, ``uet status``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from uet.states import TaskStatus

if TYPE_CHECKING:
    from uet.state.reads import Reads
    from uet.state.records import RunRecord


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


def overviews(tx: Reads, found: Sequence[RunRecord]) -> list[RunOverview]:
    """An overview of each run of ``found``, in its order."""
    ids = [run.id for run in found]
    if not ids:
        return []
    names = tx.workstream_names(ids)
    counts = tx.task_counts(ids)
    return [RunOverview(run, tuple(names[run.id]), counts[run.id]) for run in found]
