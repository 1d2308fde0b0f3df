"""Schedules of ``cron`` and ``every`` triggers: next and previous fire times, fire keys.

Cron expressions are evaluated by cronsim in the trigger's time zone (zoneinfo, the system
tzdata; the machine's local zone when none is given): a fixed-time job fires once on a DST
fall-back day and is not skipped on a spring-forward day. ``every`` slots are anchored to
the Unix epoch, so restarts (and two daemons) agree on fire times and keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from uet.spec.triggers import TriggerSpec


class Schedule(Protocol):
    """When a time-driven trigger fires. Times are aware datetimes (any zone)."""

    def next_after(self, t: datetime) -> datetime:
        """The first fire time strictly after ``t``."""
        ...

    def previous_at_or_before(self, t: datetime) -> datetime | None:
        """The last fire time at or before ``t`` (None if there is none)."""
        ...

    def explain(self) -> str:
        """The schedule in words (``At 02:30 (Europe/Berlin)``, ``every 30 seconds``)."""
        ...

    def fire_key(self, t: datetime) -> str:
        """The stable key of the fire at ``t``: ``cron:2026-10-25T02:30+02:00``,
        ``every:2026-12-04T22:00:00Z``."""
        ...

    def fires_in(self, after: datetime, until: datetime, *, newest: int) -> list[datetime]:
        """At most the ``newest`` latest fire times in ``(after, until]``, oldest first."""
        ...

    def count_in(self, after: datetime, until: datetime, *, cap: int) -> int:
        """How many fire times ``(after, until]`` holds, counted up to ``cap``."""
        ...


def schedule_of(spec: TriggerSpec) -> Schedule:
    """The schedule of a ``cron`` or ``every`` trigger; ValueError for other kinds."""
    raise NotImplementedError
