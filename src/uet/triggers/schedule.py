"""Schedules (interim stand-in for the trigcore branch's module, replaced on merge)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from cronsim import CronSim

from uet.spec.triggers import TriggerSpec


class Schedule(Protocol):
    def next_after(self, t: datetime) -> datetime: ...
    def previous_at_or_before(self, t: datetime) -> datetime | None: ...
    def explain(self) -> str: ...
    def fire_key(self, t: datetime) -> str: ...


class Every:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def next_after(self, t: datetime) -> datetime:
        slot = math.floor(t.timestamp() / self.seconds) + 1
        return datetime.fromtimestamp(slot * self.seconds, UTC)

    def previous_at_or_before(self, t: datetime) -> datetime | None:
        slot = math.floor(t.timestamp() / self.seconds)
        return datetime.fromtimestamp(slot * self.seconds, UTC)

    def explain(self) -> str:
        return f"every {self.seconds:g} seconds"

    def fire_key(self, t: datetime) -> str:
        return f"every:{round(t.timestamp() / self.seconds)}"


class Cron:
    def __init__(self, expr: str, zone: str | None) -> None:
        self.expr = expr
        self.zone = ZoneInfo(zone) if zone else None

    def _local(self, t: datetime) -> datetime:
        return t.astimezone(self.zone) if self.zone else t.astimezone()

    def next_after(self, t: datetime) -> datetime:
        return next(CronSim(self.expr, self._local(t)))

    def previous_at_or_before(self, t: datetime) -> datetime | None:
        return next(CronSim(self.expr, self._local(t) + timedelta(seconds=1), reverse=True))

    def explain(self) -> str:
        return str(CronSim(self.expr, datetime.now(UTC)).explain())

    def fire_key(self, t: datetime) -> str:
        return f"cron:{self._local(t).isoformat(timespec='minutes')}"


def schedule_of(spec: TriggerSpec) -> Schedule | None:
    if spec.every is not None:
        return Every(spec.every)
    if spec.cron is not None:
        return Cron(spec.cron, spec.timezone)
    return None
