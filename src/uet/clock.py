"""Time providers: the system clock, and a fixed one for deterministic mode."""

from __future__ import annotations

import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock time as seconds since the epoch."""

    def now(self) -> float: ...


class SystemClock:
    """The real clock (``time.time``)."""

    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock that starts at ``start`` and advances by ``step`` seconds on every reading.

    Two runs that read it the same number of times see the same times, which is what makes
    deterministic mode's event logs byte-identical.
    """

    def __init__(self, start: float = 1_767_225_600.0, step: float = 0.001) -> None:
        # 1_767_225_600 is 2026-01-01T00:00:00Z; readings stay exact to the microsecond.
        self._start = start
        self._step = step
        self._ticks = itertools.count()  # next() on a count is atomic under the GIL

    def now(self) -> float:
        return round(self._start + next(self._ticks) * self._step, 6)
