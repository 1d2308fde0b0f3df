"""How failures and runs are printed: the end of ``uet run``, ``uet status``, ``uet runs``.

The words come from the library (``uet.state.reasons``, ``uet.state.overview``); this module
only lays them out, on stdout through ``click.echo`` (colour only on a terminal): reading
commands need not load rich.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from uet.states import TaskStatus

if TYPE_CHECKING:
    from uet.state.overview import RunOverview
    from uet.state.reasons import Failure

FAILURES_SHOWN = 20
"""Failures a run's summary prints in full; the rest are counted (``uet status`` lists all)."""

STATUS_ORDER = [
    TaskStatus.FAILED,
    TaskStatus.CANCELED,
    TaskStatus.SKIPPED,
    TaskStatus.RUNNING,
    TaskStatus.READY,
    TaskStatus.PENDING,
    TaskStatus.SUCCEEDED,
]


def _say(text: str, **style: bool | str) -> None:
    click.echo(click.style(text, **style) if style else text)  # type: ignore[arg-type]


def counts_text(counts: Mapping[TaskStatus, int]) -> str:
    """``4 failed, 1 succeeded``: failures first, then the rest in the order of a run."""
    return ", ".join(f"{counts[s]} {s.value}" for s in STATUS_ORDER if counts.get(s))


def print_failures(run_id: str, found: Sequence[Failure], *, limit: int | None = None) -> None:
    """Each failure: its task and reason, the last lines it printed, where to read more."""
    width = max((len(f.task_id) for f in found[:limit]), default=0)
    for failure in found[:limit]:
        _say(f"  FAILED {failure.task_id:{width}}  {failure.reason}")
        for line in failure.tail:
            _say(f"         {'':{width}}  | {line}", dim=True)
        _say(f"         {'':{width}}  → {failure.hint(run_id)}", dim=True)
    if limit is not None and len(found) > limit:
        more = len(found) - limit
        _say(f"  … {more} more failed: uet status {run_id} --state failed")


def print_overview(item: RunOverview) -> None:
    """The first lines of ``uet status``: the run, its counts, its duration."""
    run = item.run
    label = f" ({run.name})" if run.name else ""
    _say(f"run {run.id}{label}: {run.status.value}", bold=True)
    _say(
        f"  {item.total} tasks: {counts_text(item.counts) or 'none'}"
        f"  ·  {format_duration(item.duration())}"
        f"  ·  workstreams: {', '.join(item.workstreams) or '-'}"
    )


def print_task_lines(rows: Iterable[tuple[str, TaskStatus, str]], *, hidden: int = 0) -> None:
    """One line per task (id, status, detail), then how many were left out."""
    items = list(rows)
    width = max((len(task_id) for task_id, _, _ in items), default=0)
    for task_id, status, detail in items:
        _say(f"  {status.value:10} {task_id:{width}}  {detail}".rstrip())
    if hidden:
        _say(f"  ({hidden} succeeded not listed: --state succeeded lists them)")


def print_runs(found: Sequence[RunOverview]) -> None:
    """``uet runs``: a header, then one line per run."""
    if not found:
        return
    rows = [
        (
            item.run.id,
            item.run.status.value,
            _when(item.run.created_at),
            format_duration(item.duration()),
            counts_text(item.counts) or "0 tasks",
            ", ".join(item.workstreams) or "-",
            item.run.name or "",
        )
        for item in found
    ]
    header = ("RUN", "STATUS", "STARTED", "DURATION", "TASKS", "WORKSTREAMS", "NAME")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        _say("  ".join([*cells, row[-1]]).rstrip())


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``2 h 01 min``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
