"""The circuit breaker's state machine and quota detection, with explicit times."""

from __future__ import annotations

import pytest

from uet.clock import FixedClock
from uet.routing import BreakerPolicy, BreakerState, CircuitBreaker, QuotaDetector
from uet.routing.quota import parse_retry_after

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def breaker(threshold: int = 3, cooldown: float = 60.0, probes: int = 1) -> CircuitBreaker:
    return CircuitBreaker("aider", BreakerPolicy(threshold, cooldown, probes))


def test_closed_opens_after_n_consecutive_failures() -> None:
    """threshold-1 failures keep it closed; the threshold-th opens it for the cooldown."""
    clock = FixedClock(start=1000.0, step=1.0)
    b = breaker(threshold=3)
    assert b.failure(clock.now()) is None
    assert b.failure(clock.now()) is None
    assert b.allows()
    moved = b.failure(clock.now())
    assert moved is not None
    assert (moved.before, moved.after, moved.event_type) == (CLOSED, OPEN, "breaker.opened")
    assert moved.retry_at == moved.at + 60.0
    assert "3 consecutive failures" in moved.reason
    assert not b.allows()


def test_a_success_resets_the_failure_count() -> None:
    """Failures must be consecutive: a success in between starts the count again."""
    b = breaker(threshold=2)
    b.failure(1.0)
    b.success(2.0)
    assert b.failure(3.0) is None
    assert b.state is CLOSED


def test_open_goes_half_open_after_the_cooldown_and_closes_on_a_good_probe() -> None:
    """closed → open → (cooldown) half_open → one successful probe → closed."""
    b = breaker(threshold=1, cooldown=10.0)
    b.failure(100.0)
    assert b.poll(109.9) is None
    assert b.state is OPEN
    moved = b.poll(110.0)
    assert moved is not None
    assert (moved.after, moved.event_type) == (HALF_OPEN, "breaker.half_open")
    assert b.allows()
    b.dispatched()
    assert not b.allows()  # one probe at a time
    closed = b.success(111.0)
    assert closed is not None
    assert (closed.before, closed.after, closed.event_type) == (HALF_OPEN, CLOSED, "breaker.closed")
    assert (b.failures, b.opened_at, b.retry_at) == (0, None, None)


def test_a_failed_probe_opens_it_again_for_another_cooldown() -> None:
    """half_open → a failed probe → open, retry_at pushed a full cooldown on."""
    b = breaker(threshold=1, cooldown=10.0)
    b.failure(100.0)
    b.poll(110.0)
    b.dispatched()
    moved = b.failure(112.0)
    assert moved is not None
    assert (moved.before, moved.after, moved.retry_at) == (HALF_OPEN, OPEN, 122.0)
    assert "probe" in moved.reason


def test_several_probes_must_all_succeed() -> None:
    """With half_open_probes=2, two probes may run and both must succeed to close."""
    b = breaker(threshold=1, cooldown=0.0, probes=2)
    b.failure(1.0)
    b.poll(1.0)
    b.dispatched()
    b.dispatched()
    assert not b.allows()
    assert b.success(2.0) is None
    assert b.state is HALF_OPEN
    assert b.success(2.0) is not None
    assert b.state is CLOSED


def test_trip_opens_at_once_for_the_stated_retry_after() -> None:
    """A quota/rate limit opens a closed breaker with no failure count, for the tool's own
    retry-after; tripping an open breaker only makes it wait longer."""
    b = breaker(threshold=5, cooldown=60.0)
    moved = b.trip(1000.0, "rate limited", retry_after=3600.0)
    assert moved is not None
    assert (moved.after, moved.retry_at) == (OPEN, 4600.0)
    assert b.trip(1001.0, "again", retry_after=10.0) is None
    assert b.retry_at == 4600.0  # never shortened
    assert b.trip(1002.0, "again", retry_after=7200.0) is None
    assert b.retry_at == 8202.0


def test_a_late_failure_of_an_open_breaker_changes_nothing() -> None:
    """Work sent before it opened may still fail: the open breaker is left as it is."""
    b = breaker(threshold=1)
    b.failure(1.0)
    assert b.failure(2.0) is None
    assert b.retry_at == 61.0


def test_transitions_become_breaker_decisions() -> None:
    """A transition is recorded as a decision of category breaker, with what it left."""
    moved = breaker(threshold=1).failure(5.0, "exit 1")
    assert moved is not None
    record = moved.to_record(run_id="run-1", task_id="t")
    assert (record.category, record.chosen, record.run_id, record.task_id) == (
        "breaker",
        "open",
        "run-1",
        "t",
    )
    assert record.data == {"tool": "aider", "from": "closed", "retry_at": 65.0}
    assert set(record.alternatives) == {"closed", "half_open"}


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="invalid breaker policy"):
        BreakerPolicy(failure_threshold=0)


@pytest.mark.parametrize(
    ("output", "found", "wait"),
    [
        ("Error: 429 Too Many Requests. Retry-After: 30", True, 30.0),
        ("rate_limit_error: please try again in 5 minutes", True, 300.0),
        ("You exceeded your current quota (insufficient_quota)", True, None),
        ("Your credit balance is too low to access the API", True, None),
        ("usage limit reached; try again in 2h", True, 7200.0),
        ("AssertionError: expected 4290 got 4291", False, None),
        ("", False, None),
        (None, False, None),
    ],
)
def test_quota_messages_are_found_with_their_retry_after(
    output: str | None, found: bool, wait: float | None
) -> None:
    signal = QuotaDetector().detect(output)
    assert (signal is not None) is found
    if signal is not None:
        assert signal.retry_after == wait


def test_extra_quota_patterns_are_used() -> None:
    detector = QuotaDetector(["seat limit"])
    assert detector.detect("org seat limit hit") is not None
    assert parse_retry_after("retry after 250ms") == 0.25
