"""Memory helpers shared by the layers that build large structures (plans, schedulers)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many long-lived objects are built.

    Loading a plan or building its scheduler makes hundreds of thousands of objects and
    hardly any cycles; the collector's repeated scans of them would double or triple the
    time of a large plan. Restored on exit, and left alone when the caller had already
    disabled it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
