"""Exponential backoff with jitter: one pure function, used by every retry in uet."""

from __future__ import annotations

import math
import random


def compute_backoff(
    attempt: int,
    *,
    base: float = 1.0,
    factor: float = 2.0,
    cap: float = 300.0,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry).

    ``base * factor ** (attempt - 1)``, capped at ``cap``, then spread by up to ``±jitter``
    (a fraction) so that many retries do not wake together. Pass a seeded ``rng`` for
    reproducible delays (deterministic mode); without one, the delay has no jitter.
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    try:
        grown = base * factor ** (attempt - 1)
    except OverflowError:  # a long outage's retry count: far past any cap
        grown = math.inf if base > 0 else 0.0
    delay = min(cap, grown)
    if rng is not None and jitter > 0:
        delay *= 1.0 + rng.uniform(-jitter, jitter)
    return max(0.0, delay)
