"""Catch-up and rate policies (interim stand-in for the trigcore branch's module)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from uet.spec.triggers import Catchup
from uet.triggers.schedule import Schedule


@dataclass(frozen=True)
class Due:
    fire: list[datetime] = field(default_factory=list)
    skipped: list[tuple[datetime, str]] = field(default_factory=list)


def due_fires(
    schedule: Schedule,
    *,
    last_fire: datetime | None,
    enabled_at: datetime,
    now: datetime,
    catchup: Catchup,
    max_catchup: int,
    tool_target: bool,
) -> Due:
    start = last_fire if last_fire is not None and last_fire >= enabled_at else None
    times: list[datetime] = []
    if start is None:
        latest = schedule.previous_at_or_before(now)
        if latest is not None and latest >= enabled_at:
            times = [latest]
    else:
        t = schedule.next_after(start)
        while t <= now:
            times.append(t)
            t = schedule.next_after(t)
    if len(times) <= 1:
        return Due(fire=times)
    missed, latest = times[:-1], times[-1]
    if catchup is Catchup.SKIP:
        return Due(fire=[latest], skipped=[(t, "catchup=skip") for t in missed])
    if catchup is Catchup.LATEST:
        return Due(fire=[latest], skipped=[(t, "catchup=latest") for t in missed])
    limit = 1 if tool_target else max_catchup
    reason = "tool target: one catch-up run" if tool_target else "max_catchup"
    kept = times[-limit:] if limit > 0 else [latest]
    return Due(fire=kept, skipped=[(t, reason) for t in times if t not in kept])


def rate_capped(fires_in_last_hour: int, max_runs_per_hour: int | None) -> bool:
    return max_runs_per_hour is not None and fires_in_last_hour >= max_runs_per_hour
