"""Ctrl-C and SIGTERM turned into a flag the library watches: the clean, resumable stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def interrupt_on(
    signals: tuple[signal.Signals, ...] = STOP_SIGNALS,
    interrupted: threading.Event | None = None,
) -> Iterator[threading.Event]:
    """While inside, each of ``signals`` sets the yielded event (``interrupted``, or a new
    one) instead of killing uet; the previous handlers come back on the way out."""
    event = interrupted or threading.Event()

    def handler(_signal: int, _frame: FrameType | None) -> None:
        event.set()

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
