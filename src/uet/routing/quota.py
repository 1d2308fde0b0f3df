"""Quota and rate-limit detection in a tool's output.

An AI coding CLI that ran out of credits or hit a rate limit exits non-zero like any failure,
but retrying it soon is pointless: the router opens the tool's breaker at once
(:meth:`CircuitBreaker.trip`) and the task moves down its fallback chain. The tool's own
"retry after" hint, when it gives one, sets how long the breaker stays open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_PATTERNS: tuple[str, ...] = (
    r"\b429\b",
    r"rate[ _-]?limit",
    r"too many requests",
    r"quota(?: has been)? (?:exceeded|exhausted|reached)",
    r"insufficient[_ ]quota",
    r"usage limit",
    r"credit balance is too low",
    r"out of credits",
)
"""Case-insensitive patterns that mean "this tool cannot take work for a while"."""

SCAN_CHARS = 65_536
"""Characters at the end of the output that are searched (the rest is ignored)."""

_RETRY_AFTER = re.compile(
    r"retry[- _]after\W{0,3}(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?|m|min|minutes?|h|hours?)?"
    r"|try again in\s+(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?|m|min|minutes?|h|hours?)?",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"m": 60.0, "h": 3600.0}  # by first letter; seconds otherwise


@dataclass(frozen=True, slots=True)
class QuotaSignal:
    """A quota or rate-limit message was found."""

    match: str  # the text that matched
    retry_after: float | None = None  # seconds, when the tool said


class QuotaDetector:
    """Finds quota/rate-limit messages: the default patterns plus ``extra`` ones."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        patterns = [*DEFAULT_PATTERNS, *extra]
        self._pattern = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)

    def detect(self, output: str | None) -> QuotaSignal | None:
        if not output:
            return None
        tail = output[-SCAN_CHARS:]
        found = self._pattern.search(tail)
        if found is None:
            return None
        return QuotaSignal(found.group(0), parse_retry_after(tail))


def parse_retry_after(text: str) -> float | None:
    """Seconds named by "Retry-After: 30" or "try again in 5 minutes", if any."""
    found = _RETRY_AFTER.search(text)
    if found is None:
        return None
    number = found.group(1) or found.group(3)
    unit = (found.group(2) or found.group(4) or "s").lower()
    scale = 0.001 if unit == "ms" else _UNIT_SECONDS.get(unit[0], 1.0)
    return float(number) * scale
