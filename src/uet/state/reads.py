"""What a read transaction offers, whichever way it reaches the database.

:class:`uet.state.store.Transaction` (SQLAlchemy, SQLite and PostgreSQL) and
:class:`uet.state.fastread.SqliteReads` (the stdlib ``sqlite3``, for the reading commands)
both have these methods and return the same records for the same rows
(tests/state/test_fastread.py). Code that only reads takes a :class:`Reads`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from uet.state.records import (
    AttemptRecord,
    DecisionRecord,
    EventRecord,
    RunRecord,
    TaskRecord,
    WorkstreamRecord,
)
from uet.states import AttemptState, RunStatus, TaskStatus


class Reads(Protocol):
    """The read operations of one consistent snapshot."""

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def get_runs(self, run_ids: Iterable[str]) -> dict[str, RunRecord]: ...

    def list_runs(
        self, *, limit: int = 20, statuses: Iterable[RunStatus] | None = None
    ) -> list[RunRecord]: ...

    def get_workstreams(self, run_id: str) -> list[WorkstreamRecord]: ...

    def workstream_names(self, run_ids: Sequence[str]) -> dict[str, list[str]]: ...

    def task_counts(self, run_ids: Sequence[str]) -> dict[str, dict[TaskStatus, int]]: ...

    def get_tasks(
        self, run_id: str, *, statuses: Iterable[TaskStatus] | None = None
    ) -> list[TaskRecord]: ...

    def get_attempts(
        self,
        run_id: str,
        *,
        states: Iterable[AttemptState] | None = None,
        task_id: str | None = None,
    ) -> list[AttemptRecord]: ...

    def get_events(
        self,
        run_id: str | None = None,
        *,
        after_seq: int = 0,
        after_id: int = 0,
        types: str | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]: ...

    def count_events(self, run_id: str | None = None) -> int: ...

    def get_decisions(
        self,
        *,
        run_id: str | None = None,
        category: str | None = None,
        limit: int | None = None,
    ) -> list[DecisionRecord]: ...


class ReadStore(Protocol):
    """A store the reading commands can use: only :meth:`reader`."""

    def reader(self) -> AbstractContextManager[Reads]: ...


__all__ = ["ReadStore", "Reads"]
