"""How a run reports progress to whoever watches it (the CLI draws it; tests record it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from uet.states import TaskStatus


class Progress(Protocol):
    """Called on the run loop's thread; must be quick."""

    def started(self, run_id: str, total: int) -> None: ...

    def tick(self, counts: Mapping[TaskStatus, int], dispatched: Sequence[str]) -> None: ...

    def task_done(self, key: str, status: TaskStatus) -> None: ...


class NullProgress:
    """Reports nowhere."""

    def started(self, run_id: str, total: int) -> None:
        pass

    def tick(self, counts: Mapping[TaskStatus, int], dispatched: Sequence[str]) -> None:
        pass

    def task_done(self, key: str, status: TaskStatus) -> None:
        pass
