"""Catch-up and rate-cap policies as pure functions over a schedule and a (fake) now.

:func:`due_fires` says which fires to launch now and which to skip, with a reason each.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from uet.spec.triggers import Catchup
from uet.triggers.schedule import Schedule


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
    ``count_capped``)."""

    launch: tuple[Fire, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    skipped_count: int = 0
    count_capped: bool = False


def due_fires(
    schedule: Schedule,
    *,
    last_fire: datetime | None,
    enabled_at: datetime,
    now: datetime,
    catchup: Catchup,
    max_catchup: int | None,
    tool_target: bool,
) -> Due:
    """The fires due at ``now``: after ``last_fire`` (the newest one recorded), never before
    ``enabled_at`` (when the daemon first saw the trigger). ``max_catchup`` None means the
    default (5; 1 for a tool target). See docs/automation.md for each policy."""
    raise NotImplementedError


def rate_capped(fires_in_last_hour: int, max_runs_per_hour: int | None) -> bool:
    """True when one more run would pass ``max_runs_per_hour`` (None: no cap)."""
    raise NotImplementedError
