"""The reading commands' way into a SQLite state file: the stdlib ``sqlite3``, no SQLAlchemy.

``uet status``, ``runs``, ``events``, ``logs`` and ``decisions`` only read; importing
SQLAlchemy alone cost each of them ~0.3 s. :class:`SqliteReadStore` runs the very statements
of :mod:`uet.state.queries` (their SQLite text, compiled once into
:mod:`uet.state._compiled`) and builds the same records (:mod:`uet.state.rows`) as
:class:`uet.state.store.Transaction`; tests/state/test_fastread.py holds both to the same
rows. It opens the file read-only like the SQLAlchemy read-only engine
(:func:`uet.state.sqlite_files.open_sqlite_readonly`).

It serves only a SQLite file at the schema revision it was compiled for (one query on
``alembic_version``); for anything else :meth:`SqliteReadStore.open` returns None and the
caller opens the SQLAlchemy store, which says what is wrong (an older schema: "run `uet db
upgrade`", exit 3) or reads PostgreSQL.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from uet.errors import StoreError
from uet.state._compiled import SCHEMA_HEAD, SQL
from uet.state.records import (
    AttemptRecord,
    DecisionRecord,
    EventRecord,
    RunRecord,
    TaskRecord,
    WorkstreamRecord,
)
from uet.state.rows import (
    attempt_record,
    decision_record,
    event_record,
    run_record,
    task_record,
    workstream_record,
)
from uet.state.sqlite_files import open_sqlite_readonly
from uet.states import AttemptState, RunStatus, TaskStatus

_FILE_URL = re.compile(r"sqlite(?:\+pysqlite)?:///(?P<path>/[^?#]+)", re.IGNORECASE)
_EXPANDING = re.compile(r"\(__\[POSTCOMPILE_(?P<name>\w+)\]\)")
_IN_CHUNK = 500  # values per IN (...) list, as the store's


def sqlite_file(url: str) -> Path | None:
    """The file of a plain absolute ``sqlite:///PATH`` URL (settings make paths absolute);
    None for anything else (query options, memory, other dialects: the SQLAlchemy store)."""
    found = _FILE_URL.fullmatch(url)
    return None if found is None else Path(found["path"])


class SqliteReadStore:
    """A read-only SQLite state file, read through the stdlib. Open with :meth:`open`."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = 30.0) -> SqliteReadStore | None:
        """The store of ``url``, or None where this path cannot answer (not a SQLite file,
        no file, unreadable, not at :data:`SCHEMA_HEAD`): the SQLAlchemy store then opens
        it and says why."""
        path = sqlite_file(url)
        if path is None or not path.is_file():
            return None
        try:
            conn = open_sqlite_readonly(path, timeout=busy_timeout)
        except StoreError:
            return None
        try:
            conn.isolation_level = None  # BEGIN is sent by reader()
            conn.execute("PRAGMA query_only=ON")
            version = conn.execute(SQL["schema_version"][0]).fetchall()
        except sqlite3.Error:
            conn.close()
            return None
        if version != [(SCHEMA_HEAD,)]:
            conn.close()
            return None
        conn.row_factory = _as_dict
        return cls(path, conn)

    @contextmanager
    def reader(self) -> Iterator[SqliteReads]:
        """A read transaction: one consistent snapshot (a deferred BEGIN takes no lock)."""
        try:
            self._conn.execute("BEGIN")
            try:
                yield SqliteReads(self._conn)
            finally:
                self._conn.rollback()
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite:///{self.path}: {exc}") from exc

    def close(self) -> None:
        self._conn.close()


class SqliteReads:
    """The :class:`uet.state.reads.Reads` of one snapshot, over ``sqlite3``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _read(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Execute the compiled statement ``name``; list parameters expand to ``?, ?…``."""
        return self._conn.execute(*compiled_read(name, params)).fetchall()

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self._read("run", run_id=run_id)
        return run_record(rows[0]) if rows else None

    def get_runs(self, run_ids: Iterable[str]) -> dict[str, RunRecord]:
        found: dict[str, RunRecord] = {}
        for chunk in _chunks(list(dict.fromkeys(run_ids))):
            for row in self._read("runs_by_id", ids=chunk):
                found[row["id"]] = run_record(row)
        return found

    def list_runs(
        self, *, limit: int = 20, statuses: Iterable[RunStatus] | None = None
    ) -> list[RunRecord]:
        if statuses is None:
            return [run_record(row) for row in self._read("recent_runs", limit=limit)]
        wanted = [s.value for s in statuses]
        rows = self._read("recent_runs+statuses", limit=limit, statuses=wanted)
        return [run_record(row) for row in rows]

    def get_workstreams(self, run_id: str) -> list[WorkstreamRecord]:
        return [workstream_record(row) for row in self._read("workstreams", run_id=run_id)]

    def workstream_names(self, run_ids: Sequence[str]) -> dict[str, list[str]]:
        names: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
        for chunk in _chunks(list(names)):
            for row in self._read("workstream_names", ids=chunk):
                names[row["run_id"]].append(row["id"])
        return names

    def task_counts(self, run_ids: Sequence[str]) -> dict[str, dict[TaskStatus, int]]:
        counts: dict[str, dict[TaskStatus, int]] = {run_id: {} for run_id in run_ids}
        for chunk in _chunks(list(counts)):
            for row in self._read("task_counts", ids=chunk):
                counts[row["run_id"]][TaskStatus(row["status"])] = int(row["count_1"])
        return counts

    def get_tasks(
        self, run_id: str, *, statuses: Iterable[TaskStatus] | None = None
    ) -> list[TaskRecord]:
        if statuses is None:
            return [task_record(row) for row in self._read("tasks", run_id=run_id)]
        wanted = [s.value for s in statuses]
        rows = self._read("tasks+statuses", run_id=run_id, statuses=wanted)
        return [task_record(row) for row in rows]

    def get_attempts(
        self,
        run_id: str,
        *,
        states: Iterable[AttemptState] | None = None,
        task_id: str | None = None,
    ) -> list[AttemptRecord]:
        wanted = None if states is None else [s.value for s in states]
        name = _variant("attempts", states=wanted is not None, task=task_id is not None)
        rows = self._read(name, run_id=run_id, states=wanted, task_id=task_id)
        return [attempt_record(row) for row in rows]

    def get_events(
        self,
        run_id: str | None = None,
        *,
        after_seq: int = 0,
        after_id: int = 0,
        types: str | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]:
        pattern = None
        if types is not None and types != "*":  # GLOB, as the store on SQLite
            pattern = types.replace("[", "[[]")
        name = _variant(
            "events", run=run_id is not None, types=pattern is not None, limit=limit is not None
        )
        after = after_seq if run_id is not None else after_id
        rows = self._read(name, run_id=run_id, after=after, types=pattern, limit=limit)
        return [event_record(row) for row in rows]

    def count_events(self, run_id: str | None = None) -> int:
        rows = self._read(_variant("count_events", run=run_id is not None), run_id=run_id)
        return int(rows[0]["count_1"])

    def get_decisions(
        self,
        *,
        run_id: str | None = None,
        category: str | None = None,
        limit: int | None = None,
    ) -> list[DecisionRecord]:
        name = _variant(
            "decisions",
            run=run_id is not None,
            category=category is not None,
            limit=limit is not None,
        )
        rows = self._read(name, run_id=run_id, category=category, limit=limit)
        return [decision_record(row) for row in rows]


def compiled_read(name: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """The SQLite text of the read statement ``name`` and its values, from ``params``:
    list parameters expand to ``?, ?…`` (an empty list to ``NULL``, which matches nothing)."""
    sql, names, fixed = SQL[name]
    values: list[Any] = []
    for key in names:
        value = fixed[key] if key in fixed else params[key]
        if isinstance(value, list | tuple):
            marks = ", ".join("?" * len(value)) or "NULL"
            sql = sql.replace(f"(__[POSTCOMPILE_{key}])", f"({marks})", 1)
            values.extend(value)
        else:
            values.append(value)
    return sql, values


def _as_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    """A row as the mapping :mod:`uet.state.rows` takes (column name to value)."""
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _variant(base: str, **flags: bool) -> str:
    """As :func:`uet.state.queries.variant` (which this module may not import)."""
    return "+".join([base, *(flag for flag, on in flags.items() if on)])


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]
