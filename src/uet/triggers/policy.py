"""Catch-up and rate-cap policies as pure functions over a schedule and a (fake) now.

:func:`due_fires` says which fires to launch now and which to skip, with a reason each.
The fires it considers are the schedule's fire times after the last one recorded
(``last_fire``) and never before ``enabled_at`` (when the daemon first saw the trigger:
turning a trigger on never replays its past), up to ``now``. The newest of them is *on
time* when it is at most ``on_time`` seconds old (default 60 s); every other one was
missed while no daemon ran. Then, per ``catchup``:

=========  ==========================================================================
``skip``   launch the on-time fire only; every missed one is skipped (``catchup=skip``)
``latest`` launch the newest fire only (on time or not); the others are skipped
           (``catchup=latest``). The default.
``all``    launch the newest ``max_catchup`` fires, oldest first (default 5); older ones
           are skipped (``max_catchup``)
=========  ==========================================================================

A tool target (its runs call AI tools, which cost money) launches at most one fire unless
``max_catchup`` was set explicitly; the fires this cap holds back are skipped with the
reason ``tool target: one catch-up run``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from uet.spec.triggers import DEFAULT_MAX_CATCHUP, TOOL_MAX_CATCHUP, Catchup, TriggerSpec
from uet.triggers.schedule import Schedule

ON_TIME_S = 60.0
"""Seconds after its time a fire still counts as on time (not a missed one to catch up)."""
MAX_LISTED = 1000
"""Skipped fires listed one by one, at most (the most recent); ``skipped_count`` has all."""
COUNT_CAP = 100_000
"""Skipped fires counted exactly, at most (a year of a per-minute cron is 525,600)."""


class SkipReason(enum.StrEnum):
    """Why a due fire was not launched (the ``reason`` of ``trigger.skipped``)."""

    CATCHUP_SKIP = "catchup=skip"
    CATCHUP_LATEST = "catchup=latest"
    MAX_CATCHUP = "max_catchup"
    TOOL_CAP = "tool target: one catch-up run"


@dataclass(frozen=True, slots=True)
class Fire:
    """One fire time and its key."""

    at: datetime
    key: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A fire that is not launched, and why."""

    at: datetime
    key: str
    reason: SkipReason


@dataclass(frozen=True, slots=True)
class Due:
    """What to do now: ``launch`` (oldest first) and ``skipped`` (oldest first; the most
    recent ``MAX_LISTED`` only), ``skipped_count`` (all of them; exact unless
    ``count_capped``, then at least that many)."""

    launch: tuple[Fire, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    skipped_count: int = 0
    count_capped: bool = False

    @property
    def reason(self) -> SkipReason | None:
        """The reason of the skipped fires (one policy gives one reason), or None."""
        return self.skipped[0].reason if self.skipped else None


def due_fires(
    schedule: Schedule,
    *,
    last_fire: datetime | None,
    enabled_at: datetime,
    now: datetime,
    catchup: Catchup,
    max_catchup: int | None,
    tool_target: bool,
    on_time: float = ON_TIME_S,
) -> Due:
    """The fires due at ``now``: after ``last_fire`` (the newest one recorded), never before
    ``enabled_at`` (when the daemon first saw the trigger). ``max_catchup`` None means the
    default (5; 1 for a tool target). See the module docstring for each policy."""
    floor = enabled_at - timedelta(microseconds=1)  # a fire at enabled_at itself counts
    if last_fire is not None and last_fire > floor:
        floor = last_fire
    if now <= floor:
        return Due()
    keep, reason = _keep(catchup, max_catchup, tool_target)
    recent = schedule.fires_in(floor, now, newest=keep + MAX_LISTED)
    if not recent:
        return Due()
    newest_on_time = (now - recent[-1]).total_seconds() <= on_time
    if catchup == Catchup.SKIP:
        keep = 1 if newest_on_time else 0
    cut = max(0, len(recent) - keep)  # the newest `keep` are launched
    launch, listed = recent[cut:], recent[:cut]
    total = schedule.count_in(floor, now, cap=COUNT_CAP)
    skipped_count = max(total - len(launch), len(listed))
    return Due(
        launch=tuple(Fire(at, schedule.fire_key(at)) for at in launch),
        skipped=tuple(Skipped(at, schedule.fire_key(at), reason) for at in listed),
        skipped_count=skipped_count,
        count_capped=total >= COUNT_CAP,
    )


def _keep(catchup: Catchup, max_catchup: int | None, tool_target: bool) -> tuple[int, SkipReason]:
    """How many of the newest fires to launch, and the reason the others are skipped."""
    if catchup == Catchup.SKIP:
        return 1, SkipReason.CATCHUP_SKIP
    if catchup == Catchup.LATEST:
        return 1, SkipReason.CATCHUP_LATEST
    if max_catchup is None and tool_target:
        return TOOL_MAX_CATCHUP, SkipReason.TOOL_CAP
    return (DEFAULT_MAX_CATCHUP if max_catchup is None else max_catchup), SkipReason.MAX_CATCHUP


def due_fires_for(
    spec: TriggerSpec,
    schedule: Schedule,
    *,
    last_fire: datetime | None,
    enabled_at: datetime,
    now: datetime,
    on_time: float = ON_TIME_S,
) -> Due:
    """:func:`due_fires` with ``spec``'s policy (its ``max_catchup`` only when set)."""
    explicit = "max_catchup" in spec.model_fields_set
    return due_fires(
        schedule,
        last_fire=last_fire,
        enabled_at=enabled_at,
        now=now,
        catchup=spec.catchup,
        max_catchup=spec.max_catchup if explicit else None,
        tool_target=spec.target.tool,
        on_time=on_time,
    )


def rate_capped(fires_in_last_hour: int, max_runs_per_hour: int | None) -> bool:
    """True when one more run would pass ``max_runs_per_hour`` (None: no cap)."""
    return max_runs_per_hour is not None and fires_in_last_hour >= max_runs_per_hour
