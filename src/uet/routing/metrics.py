"""Per-tool outcome figures over a bounded window: what the ``metrics`` strategy ranks by.

Each tool keeps its last ``window`` outcomes in a ring and running sums beside it, so that
recording an outcome and reading the figures are both O(1) and memory does not grow with
the number of decisions ever made.
"""

from __future__ import annotations

from collections import deque


class ToolMetrics:
    """Success rate and mean latency of one tool's last ``window`` outcomes."""

    __slots__ = ("_latency_sum", "_ok_count", "_window", "total")

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self._window: deque[tuple[bool, float]] = deque(maxlen=window)
        self._ok_count = 0
        self._latency_sum = 0.0
        self.total = 0  # outcomes ever recorded (not only those in the window)

    def add(self, ok: bool, latency: float) -> None:
        window = self._window
        if len(window) == window.maxlen:
            old_ok, old_latency = window[0]
            self._ok_count -= old_ok
            self._latency_sum -= old_latency
        window.append((ok, latency))
        self._ok_count += ok
        self._latency_sum += latency
        self.total += 1

    @property
    def samples(self) -> int:
        return len(self._window)

    @property
    def success_rate(self) -> float:
        """Successes over outcomes in the window (0.0 with none)."""
        return self._ok_count / len(self._window) if self._window else 0.0

    @property
    def mean_latency(self) -> float:
        """Mean seconds per outcome in the window (0.0 with none)."""
        return max(0.0, self._latency_sum / len(self._window)) if self._window else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "samples": self.samples,
            "success_rate": round(self.success_rate, 4),
            "mean_latency": round(self.mean_latency, 4),
        }
