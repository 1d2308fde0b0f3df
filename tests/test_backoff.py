"""compute_backoff: exponential growth, a cap, bounded and reproducible jitter."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uet.backoff import compute_backoff


def test_delay_grows_by_factor_from_base() -> None:
    """Without an rng there is no jitter: base, base*factor, base*factor², …"""
    assert [compute_backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert [compute_backoff(n, base=0.5, factor=3.0) for n in (1, 2, 3)] == [0.5, 1.5, 4.5]


def test_delay_is_capped() -> None:
    """Past the cap every retry waits exactly the cap, even for huge attempt numbers."""
    assert [compute_backoff(n, base=1.0, factor=2.0, cap=10.0) for n in range(3, 7)] == [
        4.0,
        8.0,
        10.0,
        10.0,
    ]
    assert compute_backoff(60, cap=300.0) == 300.0
    assert compute_backoff(1, base=50.0, cap=7.0) == 7.0


@pytest.mark.parametrize("attempt", [1025, 5000, 10**6])
def test_huge_attempt_numbers_are_capped_not_overflowing(attempt: int) -> None:
    """A retry count past float range (a long database outage retried by the event bus)
    still yields the cap instead of raising OverflowError."""
    assert compute_backoff(attempt) == 300.0
    assert compute_backoff(attempt, base=0.05, cap=2.0) == 2.0
    assert compute_backoff(attempt, factor=10) == 300.0  # integer factor overflows differently
    assert compute_backoff(attempt, base=0.0) == 0.0
    jittered = compute_backoff(attempt, base=0.05, cap=2.0, rng=random.Random(3))
    assert 1.8 <= jittered <= 2.2


@pytest.mark.parametrize("attempt", [0, -1, -100])
def test_attempt_below_one_is_rejected(attempt: int) -> None:
    """Retries count from 1; 0 or negative is a programming error."""
    with pytest.raises(ValueError, match="attempt counts from 1"):
        compute_backoff(attempt)
    with pytest.raises(ValueError, match="attempt counts from 1"):
        compute_backoff(attempt, rng=random.Random(1))


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    """The same seed gives the same delays (deterministic mode); another seed differs."""
    first = [compute_backoff(n, jitter=0.2, rng=random.Random(42)) for n in range(1, 8)]
    again = [compute_backoff(n, jitter=0.2, rng=random.Random(42)) for n in range(1, 8)]
    other = [compute_backoff(n, jitter=0.2, rng=random.Random(43)) for n in range(1, 8)]
    assert first == again
    assert first != other
    shared = random.Random(7)
    sequence = [compute_backoff(3, jitter=0.5, rng=shared) for _ in range(5)]
    shared = random.Random(7)
    assert sequence == [compute_backoff(3, jitter=0.5, rng=shared) for _ in range(5)]


def test_jitter_actually_spreads_delays() -> None:
    """Many retries of the same number do not all wake at the same moment."""
    rng = random.Random(0)
    delays = {compute_backoff(4, jitter=0.1, rng=rng) for _ in range(50)}
    assert len(delays) > 40
    assert min(delays) < 8.0 < max(delays)


def test_zero_jitter_with_rng_is_exact() -> None:
    """jitter=0 means no spread even when an rng is given."""
    assert compute_backoff(3, jitter=0.0, rng=random.Random(5)) == 4.0


@given(
    attempt=st.integers(min_value=1, max_value=2000),
    base=st.floats(min_value=0.0, max_value=100.0),
    factor=st.floats(min_value=1.0, max_value=10.0),
    cap=st.floats(min_value=0.0, max_value=1000.0),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_jitter_stays_within_bounds(
    *, attempt: int, base: float, factor: float, cap: float, jitter: float, seed: int
) -> None:
    """The delay is the capped exponential spread by at most ±jitter, and never negative."""
    try:
        nominal = min(cap, base * factor ** (attempt - 1))
    except OverflowError:
        nominal = cap if base > 0 else 0.0
    delay = compute_backoff(
        attempt, base=base, factor=factor, cap=cap, jitter=jitter, rng=random.Random(seed)
    )
    assert delay >= 0.0
    assert nominal * (1 - jitter) - 1e-9 <= delay <= nominal * (1 + jitter) + 1e-9
