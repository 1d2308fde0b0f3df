"""Schedules of ``cron`` and ``every`` triggers: next and previous fire times, fire keys.

Cron expressions are evaluated by cronsim in the trigger's time zone (zoneinfo, the system
tzdata; the machine's local zone when none is given). On a DST fall-back day a fixed-time
job (``30 2 * * *``) fires once, at the first 02:30; on a spring-forward day whose 02:30
does not exist it fires at the first minute after the gap (03:00), so it is not skipped.
A job whose minutes fall inside the repeated hour (``*/30 1-3 * * *``) fires in both copies
of that hour, as Vixie cron does for wildcard hours; the two copies have different keys
(their UTC offsets differ).

``every`` slots are anchored to the Unix epoch (1970-01-01 00:00 UTC), not to the daemon's
start: ``every: 1h`` fires on the hour, UTC, so restarts and two daemons agree on fire
times and keys. Keys: ``cron:2026-10-25T02:30+02:00`` (local time with its offset),
``every:2026-12-04T22:00:00Z``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim

from uet.spec.triggers import TriggerKind, TriggerSpec

_TINY = timedelta(microseconds=1)
_ZONEINFO_DIR = "zoneinfo/"


class Schedule(Protocol):
    """When a time-driven trigger fires. Times are aware datetimes (any zone)."""

    def next_after(self, t: datetime) -> datetime:
        """The first fire time strictly after ``t``."""
        ...

    def previous_at_or_before(self, t: datetime) -> datetime | None:
        """The last fire time at or before ``t`` (None if there is none)."""
        ...

    def explain(self) -> str:
        """The schedule in words (``At 02:30 every day (Europe/Berlin)``,
        ``every 30 seconds``)."""
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


def local_zone() -> tzinfo:
    """The machine's time zone: ``$TZ`` when it names a zone, else ``/etc/localtime``'s,
    else the current fixed offset (no DST rules known)."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    target = os.path.realpath("/etc/localtime")
    if _ZONEINFO_DIR in target:
        try:
            return ZoneInfo(target.split(_ZONEINFO_DIR, 1)[1])
        except (ZoneInfoNotFoundError, ValueError):
            pass
    elif Path("/etc/localtime").is_file():
        with Path("/etc/localtime").open("rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    return datetime.now().astimezone().tzinfo or UTC


def zone_of(name: str | None) -> tzinfo:
    """The zone named ``name`` (an IANA key), or the local zone for None."""
    return local_zone() if name is None else ZoneInfo(name)


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone.tzname(datetime.now(UTC)) or zone)


@dataclass(frozen=True)
class CronSchedule:
    """A cron expression in a time zone (cronsim: 5 fields, or 6 with seconds)."""

    expr: str
    zone: tzinfo
    zone_given: bool = True

    def next_after(self, t: datetime) -> datetime:
        return next(CronSim(self.expr, t.astimezone(self.zone)))

    def previous_at_or_before(self, t: datetime) -> datetime | None:
        try:  # cronsim's reverse iteration is strictly before its start
            return next(CronSim(self.expr, (t + _TINY).astimezone(self.zone), reverse=True))
        except StopIteration:  # pragma: no cover - cronsim iterates without end
            return None

    def explain(self) -> str:
        where = _zone_name(self.zone)
        zone = where if self.zone_given else f"local time, {where}"
        return f"{CronSim(self.expr, datetime.now(self.zone)).explain()} ({zone})"

    def fire_key(self, t: datetime) -> str:
        local = t.astimezone(self.zone)
        spec = "minutes" if local.second == 0 and local.microsecond == 0 else "seconds"
        return f"cron:{local.isoformat(timespec=spec)}"

    def fires_in(self, after: datetime, until: datetime, *, newest: int) -> list[datetime]:
        found: list[datetime] = []
        if newest <= 0 or until <= after:
            return found
        start = (until + _TINY).astimezone(self.zone)
        for fire in CronSim(self.expr, start, reverse=True):
            if fire <= after or len(found) >= newest:
                break
            found.append(fire)
        found.reverse()
        return found

    def count_in(self, after: datetime, until: datetime, *, cap: int) -> int:
        count = 0
        if until <= after:
            return 0
        for fire in CronSim(self.expr, after.astimezone(self.zone)):
            if fire > until or count >= cap:
                break
            count += 1
        return count


@dataclass(frozen=True)
class EverySchedule:
    """Every ``interval`` seconds, in slots anchored to the Unix epoch."""

    interval: float

    def _slot_floor(self, t: datetime) -> int:
        return math.floor(round(t.timestamp() / self.interval, 9))

    def _at(self, slot: int) -> datetime:
        return datetime.fromtimestamp(slot * self.interval, UTC)

    def next_after(self, t: datetime) -> datetime:
        return self._at(self._slot_floor(t) + 1)

    def previous_at_or_before(self, t: datetime) -> datetime | None:
        return self._at(self._slot_floor(t))

    def explain(self) -> str:
        return f"every {describe_seconds(self.interval)}"

    def fire_key(self, t: datetime) -> str:
        at = t.astimezone(UTC)
        spec = "seconds" if at.microsecond == 0 else "milliseconds"
        return f"every:{at.replace(tzinfo=None).isoformat(timespec=spec)}Z"

    def fires_in(self, after: datetime, until: datetime, *, newest: int) -> list[datetime]:
        low, high = self._slot_floor(after), self._slot_floor(until)
        first = max(low + 1, high - newest + 1)
        return [self._at(slot) for slot in range(first, high + 1)]

    def count_in(self, after: datetime, until: datetime, *, cap: int) -> int:
        return max(0, min(cap, self._slot_floor(until) - self._slot_floor(after)))


_WORDS = ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def describe_seconds(seconds: float) -> str:
    """``30 seconds``, ``1 hour``, ``1 hour 30 minutes``, ``1.5 seconds``."""
    if seconds != int(seconds):
        return f"{seconds:g} seconds"
    left, parts = int(seconds), []
    for size, word in _WORDS:
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {word}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0 seconds"


def schedule_of(spec: TriggerSpec) -> Schedule:
    """The schedule of a ``cron`` or ``every`` trigger; ValueError for other kinds."""
    if spec.kind == TriggerKind.CRON and spec.cron is not None:
        zone = zone_of(spec.timezone)
        return CronSchedule(spec.cron, zone, zone_given=spec.timezone is not None)
    if spec.kind == TriggerKind.EVERY and spec.every is not None:
        return EverySchedule(spec.every)
    raise ValueError(f"trigger {spec.id!r} is an {spec.kind.value} trigger: it has no schedule")
