"""Id providers: random, sortable ids for real runs; sequential ones for deterministic mode."""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import time
from typing import Protocol

from uet.errors import UsageError

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
"""What a run id may be (``--run-id``): it names folders (``.uet/logs/<run>/``), so no ``/``,
no leading ``.`` and at most 128 characters."""
_RUN_ID = re.compile(RUN_ID_PATTERN)


def check_run_id(run_id: str) -> str:
    """``run_id`` when it matches :data:`RUN_ID_PATTERN`, else a UsageError (exit 2)."""
    if _RUN_ID.fullmatch(run_id) is None:
        raise UsageError(
            f"{run_id!r} is not a valid run id: use letters, digits, '.', '_' and '-',"
            " starting with a letter or digit, at most 128 characters"
        )
    return run_id


class IdFactory(Protocol):
    """Makes ids such as ``run-20261124T085200-3f9a1c``."""

    def new(self, prefix: str) -> str: ...


class RandomIds:
    """UTC time to the second, then 6 random hex digits: sortable by creation, unique enough."""

    def new(self, prefix: str) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


class SequentialIds:
    """``prefix-000001``, ``prefix-000002``… counted separately for each prefix."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            return f"{prefix}-{next(counter):06d}"
