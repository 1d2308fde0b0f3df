"""One book of the run's attempts: what is live, what each task has used, what waits for a
retry. The loop's other rooms read and change attempts only through it."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterator, Mapping

from uet.execution.api import Finished


class AttemptBook:
    """Live attempts, attempt numbers, the retry budget used and the retry heap of one run."""

    def __init__(
        self, used: Mapping[str, int] | None = None, numbered: Mapping[str, int] | None = None
    ) -> None:
        self.used: dict[str, int] = defaultdict(int, used or {})  # counted against the budget
        # Highest attempt number given, canceled attempts included (numbers are unique).
        self.numbered: dict[str, int] = defaultdict(int, numbered or {})
        self.live: dict[int, tuple[str, int]] = {}  # attempt id -> (task key, number)
        self.immediate: list[Finished] = []  # outcomes known without a process
        self._retries: list[tuple[float, str]] = []  # (due, key) heap

    # -- attempts ---------------------------------------------------------------------------

    def next_number(self, key: str) -> int:
        return max(self.used[key], self.numbered[key]) + 1

    def opened(self, attempt_id: int, key: str, number: int) -> None:
        self.live[attempt_id] = (key, number)
        self.numbered[key] = number

    def closed(self, attempt_id: int) -> tuple[str, int] | None:
        """The (task key, number) of a live attempt that ended, no longer live."""
        return self.live.pop(attempt_id, None)

    def key_of(self, attempt_id: int) -> str | None:
        entry = self.live.get(attempt_id)  # one lookup: the loop thread may pop it meanwhile
        return None if entry is None else entry[0]

    def count(self, key: str) -> int:
        """One more attempt of ``key`` used against its budget; the number used."""
        self.used[key] += 1
        return self.used[key]

    @property
    def idle(self) -> bool:
        """No attempt is live and no outcome waits to be recorded."""
        return not self.live and not self.immediate

    def take_immediate(self) -> list[Finished]:
        taken, self.immediate = self.immediate, []
        return taken

    # -- retries ----------------------------------------------------------------------------

    def retry_at(self, due: float, key: str) -> None:
        heapq.heappush(self._retries, (due, key))

    @property
    def retries_waiting(self) -> bool:
        return bool(self._retries)

    def next_retry(self) -> float | None:
        return self._retries[0][0] if self._retries else None

    def due(self, now: float, *, all_of_them: bool = False) -> Iterator[str]:
        """Pop the keys whose retry is due at ``now`` (every one with ``all_of_them``)."""
        while self._retries and (all_of_them or self._retries[0][0] <= now):
            yield heapq.heappop(self._retries)[1]
