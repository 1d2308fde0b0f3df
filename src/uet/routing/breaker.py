"""A circuit breaker per tool: stop sending work to a tool that keeps failing.

::

    closed ──(failure_threshold consecutive failures, or a quota/rate-limit trip)──► open
      ▲                                                                              │
      │                                          (cooldown, or the tool's retry-after)
      │                                                                              ▼
      └──(half_open_probes successful probes)── half_open ──(a failed probe)──► open again

A breaker is a pure state machine: every method takes the time (``at``, seconds since the
epoch, read by the caller from its :class:`uet.clock.Clock`) and returns the
:class:`Transition` it made, or None. The caller records transitions (decision registry,
``breaker.*`` events) and persists the state; the breaker itself does no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from uet.state.records import DecisionRecord


class BreakerState(enum.StrEnum):
    CLOSED = "closed"  # work flows
    OPEN = "open"  # no work until retry_at
    HALF_OPEN = "half_open"  # a few probes may go; their outcome decides


_EVENT_TYPES = {
    BreakerState.OPEN: "breaker.opened",
    BreakerState.HALF_OPEN: "breaker.half_open",
    BreakerState.CLOSED: "breaker.closed",
}


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens and how it recovers."""

    failure_threshold: int = 5  # consecutive failures that open a closed breaker
    cooldown: float = 60.0  # seconds an opened breaker stays open (unless told otherwise)
    half_open_probes: int = 1  # probes let through, and successes needed to close

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.half_open_probes < 1 or self.cooldown < 0:
            raise ValueError(f"invalid breaker policy: {self}")


@dataclass(frozen=True, slots=True)
class Transition:
    """A breaker changed state."""

    tool: str
    before: BreakerState
    after: BreakerState
    at: float
    reason: str
    retry_at: float | None = None  # when an opened breaker lets a probe through

    @property
    def event_type(self) -> str:
        """``breaker.opened``, ``breaker.half_open`` or ``breaker.closed``."""
        return _EVENT_TYPES[self.after]

    def to_record(self, *, run_id: str | None = None, task_id: str | None = None) -> DecisionRecord:
        """This transition as an entry of the decision registry (category ``breaker``)."""
        data: dict[str, object] = {"tool": self.tool, "from": self.before.value}
        if self.retry_at is not None:
            data["retry_at"] = self.retry_at
        return DecisionRecord(
            category="breaker",
            chosen=self.after.value,
            reason=self.reason,
            ts=self.at,
            run_id=run_id,
            task_id=task_id,
            alternatives=[state.value for state in BreakerState if state is not self.after],
            data=data,
        )


class CircuitBreaker:
    """One tool's breaker. Not thread-safe: its router serialises access."""

    __slots__ = (
        "failures",
        "opened_at",
        "policy",
        "probes_out",
        "reason",
        "retry_at",
        "state",
        "successes",
        "tool",
    )

    def __init__(
        self,
        tool: str,
        policy: BreakerPolicy | None = None,
        *,
        state: BreakerState = BreakerState.CLOSED,
        failures: int = 0,
        opened_at: float | None = None,
        retry_at: float | None = None,
        reason: str | None = None,
    ) -> None:
        self.tool = tool
        self.policy = policy or BreakerPolicy()
        self.state = state
        self.failures = failures  # consecutive failures while closed
        self.opened_at = opened_at
        self.retry_at = retry_at
        self.reason = reason
        self.probes_out = 0  # probes dispatched and not finished (half-open)
        self.successes = 0  # successful probes (half-open)

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.tool!r}, state={self.state.value}, failures={self.failures})"

    # -- questions --------------------------------------------------------------------------

    def poll(self, at: float) -> Transition | None:
        """Move an open breaker whose time has come to half-open."""
        if self.state is BreakerState.OPEN and (self.retry_at is None or at >= self.retry_at):
            return self._move(BreakerState.HALF_OPEN, at, "cooldown over: probing")
        return None

    def allows(self) -> bool:
        """May work be sent now? (Call :meth:`poll` first for an up-to-date answer.)"""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN:
            return self.probes_out < self.policy.half_open_probes
        return False

    # -- what happened ----------------------------------------------------------------------

    def dispatched(self) -> None:
        """Work was sent (a probe, when half-open)."""
        if self.state is BreakerState.HALF_OPEN:
            self.probes_out += 1

    def released(self) -> None:
        """Work sent earlier ended without an outcome (canceled)."""
        if self.probes_out:
            self.probes_out -= 1

    def success(self, at: float) -> Transition | None:
        if self.state is BreakerState.HALF_OPEN:
            self.released()
            self.successes += 1
            if self.successes >= self.policy.half_open_probes:
                return self._move(BreakerState.CLOSED, at, "probe succeeded")
            return None
        self.failures = 0
        return None

    def failure(self, at: float, reason: str = "failed") -> Transition | None:
        if self.state is BreakerState.HALF_OPEN:
            self.released()
            return self._open(at, f"probe {reason}", None)
        if self.state is BreakerState.OPEN:
            return None  # a late outcome of work sent before it opened
        self.failures += 1
        if self.failures >= self.policy.failure_threshold:
            return self._open(at, f"{self.failures} consecutive failures (last: {reason})", None)
        return None

    def trip(self, at: float, reason: str, retry_after: float | None = None) -> Transition | None:
        """Open at once (quota exhausted, rate limited); ``retry_after`` seconds if the tool
        said when to come back, else the cooldown. An open breaker only waits longer."""
        if self.state is BreakerState.OPEN:
            later = at + (self.policy.cooldown if retry_after is None else retry_after)
            self.retry_at = max(self.retry_at or later, later)
            self.reason = reason
            return None
        return self._open(at, reason, retry_after)

    # -- moves ------------------------------------------------------------------------------

    def _open(self, at: float, reason: str, retry_after: float | None) -> Transition:
        self.opened_at = at
        self.retry_at = at + (self.policy.cooldown if retry_after is None else retry_after)
        return self._move(BreakerState.OPEN, at, reason)

    def _move(self, after: BreakerState, at: float, reason: str) -> Transition:
        before, self.state, self.reason = self.state, after, reason
        self.probes_out = self.successes = 0
        if after is BreakerState.CLOSED:
            self.failures = 0
            self.opened_at = self.retry_at = None
        retry_at = self.retry_at if after is BreakerState.OPEN else None
        return Transition(self.tool, before, after, at, reason, retry_at)
