"""The Store: the one door to uet's state, on SQLite or PostgreSQL through the same code.

Writes happen in explicit transactions, so that state changes made together commit together::

    with store.transaction() as tx:
        tx.create_run(run)
        tx.add_tasks(run.id, tasks)

Reads use ``store.reader()``, which takes no write lock. Every operation on many rows is one
statement or one transaction: insert many events, fetch many runs, complete many attempts.
Database failures surface as :class:`uet.errors.StoreError`, never as a driver exception.

The statements are those of :mod:`uet.state.queries`, by name. This module's :class:`Store`
executes them through SQLAlchemy (PostgreSQL, and any SQLite URL); on a plain SQLite file
at the current schema, :class:`uet.state.sqlite_store.SqliteStore` executes the same
statements' compiled SQLite text through the stdlib ``sqlite3`` (``Store.open(...,
stdlib=True)``: ``uet run`` and ``uet exec`` never import SQLAlchemy). SQLAlchemy is imported
here only when a store of this class is made.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from uet.config import Settings
from uet.errors import StorageFault, StoreError
from uet.state import rows
from uet.state._compiled import COLUMNS
from uet.state.records import (
    AgentRecord,
    AttemptRecord,
    AttemptResult,
    DecisionRecord,
    EventRecord,
    RunRecord,
    TaskRecord,
    TaskUpdate,
    WorkstreamRecord,
    dump_json,
)
from uet.state.sqlite_files import read_only_problem
from uet.states import LIVE_ATTEMPT_STATES, AttemptState, RunStatus, TaskStatus

if TYPE_CHECKING:
    import sqlalchemy as sa

NewEvent = tuple[str, float, str | None, str | None, int | None, Mapping[str, Any] | None]
"""An event to insert: (type, ts, run_id, task_id, attempt_id, payload)."""

_T = TypeVar("_T")
_IN_CHUNK = 500  # ids per IN (...) list
_ROWS_PER_INSERT = 100  # events per INSERT statement (700 bound values)
_LIVE = [state.value for state in LIVE_ATTEMPT_STATES]
_LOCK_SLICE_S = 0.2  # a pinned writer with an abort event waits for the lock this long a try


class _Prepared:
    """A Core statement compiled once for the dialect and executed through the driver.

    The store's writes go this way: SQLAlchemy's per-execution work (cache lookup,
    parameter processing) costs several times what SQLite does for them. Only for
    statements whose parameters need no type processing (text, numbers, NULL, booleans),
    as every write of :mod:`uet.state.queries` is.
    """

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect) -> None:
        compiled: Any = statement.compile(dialect=dialect)  # a SQLCompiler
        self.sql = str(compiled)
        self.names = compiled.positiontup if compiled.positional else None
        self.constants = {k: v for k, v in compiled.params.items() if not k.startswith("b_")}
        names = self.names
        # itemgetter of several names gives the tuple of values in one C call
        self._values = None if names is None or len(names) < 2 else operator.itemgetter(*names)

    def execute(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        constants = self.constants
        params: list[Any]
        if self._values is not None:
            values = self._values
            params = [values({**constants, **row}) for row in rows]
        elif self.names is not None:
            params = [tuple({**constants, **row}[n] for n in self.names) for row in rows]
        else:
            params = [{**constants, **row} for row in rows]
        execute_sql(conn, self.sql, params, many=True)

    def one(self, conn: sa.Connection, row: Mapping[str, Any]) -> sa.CursorResult[Any]:
        """Execute for one row (its rowcount and RETURNING rows are reliable)."""
        values = {**self.constants, **row}
        params: Any = values if self.names is None else tuple(values[n] for n in self.names)
        return conn.exec_driver_sql(self.sql, params)


def execute_sql(conn: sa.Connection, sql: str, params: Any, *, many: bool = False) -> Any:
    """Run ``sql`` in ``conn``'s transaction; the result iterates over row tuples.

    On SQLite straight on the driver's connection: for the run loop's small statements
    ``exec_driver_sql`` costs several times what SQLite does. Driver errors are wrapped as
    SQLAlchemy would wrap them, so :func:`translate_errors` sees the same exceptions.
    """
    if conn.dialect.name != "sqlite":
        return conn.exec_driver_sql(sql, params)
    import sqlalchemy as sa  # noqa: PLC0415 - loaded with this class of store only

    driver: Any = conn.connection.driver_connection  # a sqlite3.Connection
    try:
        return driver.executemany(sql, params) if many else driver.execute(sql, params)
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(
            sql, params, exc, sqlite3.Error, dialect=conn.dialect, ismulti=many
        ) from exc


_LAST_SEQ_SQL = "SELECT seq FROM events WHERE run_id = {mark} ORDER BY seq DESC LIMIT 1"
_ATTEMPT_COLUMNS = tuple(name for name in COLUMNS["attempts"] if name != "id")
_EVENT_COLUMNS = tuple(name for name in COLUMNS["events"] if name != "id")
_ATTEMPTS_PER_INSERT = 50  # attempts per INSERT statement (700 bound values)


@functools.lru_cache(maxsize=128)
def _dispatch_sql(mark: str, rows: int) -> str:
    """``INSERT INTO attempts … VALUES (…), (…) RETURNING id, run_id, task_id, number``."""
    one = f"({', '.join([mark] * len(_ATTEMPT_COLUMNS))})"
    return (
        f"INSERT INTO attempts ({', '.join(_ATTEMPT_COLUMNS)}) VALUES {', '.join([one] * rows)}"
        " RETURNING id, run_id, task_id, number"
    )


def _identity(path: Path | None, *, missing_ok: bool = True) -> tuple[int, int] | None:
    """(device, inode) of ``path``; None for no path (or a missing file, with missing_ok)."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise
    return stat.st_dev, stat.st_ino


class NoDatabaseError(StoreError):
    """``Store.open(create=False)`` found no database file."""


class Store:
    """uet's state. Open with :meth:`open`; safe to share between threads.

    This class reaches the database through SQLAlchemy; :class:`uet.state.sqlite_store.
    SqliteStore` (the same methods, a plain SQLite file) through the stdlib."""

    def __init__(self, engine: sa.Engine, *, readonly: bool = False) -> None:
        from uet.state.database import READONLY, sqlite_path  # noqa: PLC0415 - SQLAlchemy

        self._engine = engine
        self.readonly = readonly  # opened by a command that only reads: no transaction()
        reader_options: dict[str, Any] = {READONLY: True}
        if engine.dialect.name == "postgresql":
            # READ COMMITTED (the default) gives each statement a new snapshot; a reader
            # promises one snapshot for its whole block. (SQLite WAL reads are snapshots.)
            reader_options["isolation_level"] = "REPEATABLE READ"
            reader_options["postgresql_readonly"] = True  # the server refuses writes too
        self._reader = engine.execution_options(**reader_options)
        self._pinned = threading.local()
        self._prepared: dict[str, _Prepared] = {}
        self._init_sql("?" if engine.dialect.paramstyle == "qmark" else "%s")
        self._file = sqlite_path(engine.url.render_as_string(hide_password=False))
        self._identity = _identity(self._file)

    def _init_sql(self, mark: str) -> None:
        self._mark = mark
        self._insert_sql: dict[int, str] = {}
        self._live_sql: dict[int, str] = {}

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (DDL, migrations, backups, and the modules that compose
        statements of their own)."""
        return self._engine

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file; None for PostgreSQL or an in-memory database."""
        return self._file

    def prepared(self, name: str) -> _Prepared:
        """The write statement ``name`` of :mod:`uet.state.queries`, compiled once."""
        found = self._prepared.get(name)
        if found is None:
            from uet.state.queries import write_statement  # noqa: PLC0415 - SQLAlchemy

            dialect = self._engine.dialect
            found = self._prepared[name] = _Prepared(write_statement(name, dialect.name), dialect)
        return found

    def live_attempts_sql(self, count: int) -> str:
        """``SELECT id … WHERE id IN (…count…) AND live … FOR UPDATE``, made once per size."""
        sql = self._live_sql.get(count)
        if sql is None:
            marks = ", ".join([self._mark] * count)
            live = " OR ".join(f"state = '{state}'" for state in _LIVE)
            lock = " FOR UPDATE" if self.dialect == "postgresql" else ""
            sql = self._live_sql[count] = (
                f"SELECT id FROM attempts WHERE id IN ({marks}) AND ({live}){lock}"
            )
        return sql

    def insert_events_sql(self, rows: int) -> str:
        """``INSERT INTO events … VALUES (…), (…)`` for ``rows`` rows, made once per size."""
        sql = self._insert_sql.get(rows)
        if sql is None:
            one = f"({', '.join([self._mark] * len(_EVENT_COLUMNS))})"
            sql = self._insert_sql[rows] = (
                f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) VALUES {', '.join([one] * rows)}"
            )
        return sql

    @classmethod
    def open(
        cls,
        target: Settings | str,
        *,
        check_schema: bool = True,
        create: bool = True,
        readonly: bool = False,
        stdlib: bool = False,
    ) -> Store:
        """Open the database of ``target`` (settings or a URL).

        A database with no tables is created at the newest schema (with ``create=False``, a
        SQLite file that does not exist raises :class:`NoDatabaseError` instead: commands
        that only read must not leave a database behind). One at an older schema raises
        :class:`uet.errors.SchemaError` telling the user to run ``uet db upgrade``.

        ``readonly=True`` (implies ``create=False``) opens a store that never writes, so it
        works on a database the user cannot write: its :meth:`transaction` raises
        :class:`StoreError`, and an empty database is a :class:`NoDatabaseError`.

        ``stdlib=True``: a plain SQLite file (new, or at the current schema) is opened as a
        :class:`~uet.state.sqlite_store.SqliteStore`, without SQLAlchemy, for the commands
        that only use this class's methods (``uet run``, ``uet exec``); anything else opens
        as without it (which also says what is wrong with a database that cannot be used).
        """
        if stdlib and isinstance(target, Settings) and not readonly and create and check_schema:
            from uet.state.sqlite_store import SqliteStore  # noqa: PLC0415

            fast = SqliteStore.open_file(target)
            if fast is not None:
                return fast
        from uet.state import schema  # noqa: PLC0415 - SQLAlchemy, for this class only
        from uet.state.database import (  # noqa: PLC0415
            engine_for,
            get_engine,
            sqlite_path,
            translate_errors,
        )

        create = create and not readonly
        url = target.db if isinstance(target, Settings) else target
        path = sqlite_path(url)
        if not create and path is not None and not path.exists():
            raise NoDatabaseError(f"no uet database at {path}")
        if not readonly and path is not None and (problem := read_only_problem(path)):
            raise StoreError(
                f"{path}: cannot be written ({problem}); this command writes to the state "
                "database (status, runs, events, logs and decisions only read it)"
            )
        if isinstance(target, Settings):
            engine = engine_for(target, readonly=readonly)
        else:
            engine = get_engine(target, readonly=readonly)
        if check_schema:
            with translate_errors(engine):
                if not schema.ensure_current(engine, create=not readonly):
                    raise NoDatabaseError(f"no uet database at {path or url} (it is empty)")
        return cls(engine, readonly=readonly)

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        Within :meth:`pinned`, a transaction asked for while this thread's transaction is
        open joins it (committed with it) instead of failing.
        """
        from uet.state.database import translate_errors  # noqa: PLC0415

        if self.readonly:
            raise StoreError(f"{self.url}: opened read-only: this command may not write to it")
        pinned: sa.Connection | None = getattr(self._pinned, "conn", None)
        if pinned is not None and pinned.in_transaction():
            # Asked for inside this thread's open transaction (the run loop's tick calls the
            # router, which writes): join it, so everything commits together.
            yield Transaction(self, pinned, readonly=False)
            return
        fence: Callable[[Transaction], None] | None = getattr(self._pinned, "fence", None)
        if pinned is not None:
            with translate_errors(self._engine), self._begin_pinned(pinned):
                tx = Transaction(self, pinned, readonly=False)
                if fence is not None:
                    fence(tx)
                yield tx
                self.check_file()
            return
        with translate_errors(self._engine), self._engine.begin() as conn:
            tx = Transaction(self, conn, readonly=False)
            if fence is not None:
                fence(tx)
            yield tx
            self.check_file()

    @contextmanager
    def fenced(self, fence: Callable[[Transaction], None]) -> Iterator[None]:
        """Within this block, every write transaction this thread begins first calls
        ``fence`` in it: a run lease's renewal (``uet.state.lease``), which raises once the
        lease was taken over, so that nothing the transaction would write is committed.
        Other threads (the event bus's writer) are not fenced."""
        previous = getattr(self._pinned, "fence", None)
        self._pinned.fence = fence
        try:
            yield
        finally:
            self._pinned.fence = previous

    def check_file(self) -> None:
        """Raise :class:`StorageFault` when the SQLite file this store writes is no longer
        the one at its path (removed, or replaced): SQLite would go on writing to the
        unlinked file, and a run would "succeed" into a database nobody can see. Checked
        before every write transaction commits (one ``stat``)."""
        path = self._file
        if path is None:
            return
        try:
            identity = _identity(path, missing_ok=False)
        except OSError as exc:
            raise StorageFault(
                f"{path}: the database file is gone ({exc.strerror or exc}); "
                "it was removed while uet was writing to it"
            ) from exc
        if self._identity is None:
            self._identity = identity
        elif identity != self._identity:
            raise StorageFault(
                f"{path}: the database file was replaced while uet was writing to it"
            )

    @contextmanager
    def pinned(
        self, *, abort: threading.Event | None = None, lock_timeout: float | None = None
    ) -> Iterator[None]:
        """Within this block, this thread's write transactions share one connection.

        For loops that commit many small transactions (the run loop, one per tick): taking
        a pooled connection and wrapping it costs more than SQLite's own work on them.

        With ``abort`` (the run loop's stop signal), waiting for SQLite's write lock is done
        here in short slices, so that a signal is seen within one; past ``lock_timeout``
        seconds of waiting, or once ``abort`` is set, the wait ends in a StorageFault.
        """
        from uet.state.database import translate_errors  # noqa: PLC0415

        if getattr(self._pinned, "conn", None) is not None:
            yield  # already pinned further up
            return
        with translate_errors(self._engine), self._engine.connect() as conn:
            driver = conn.connection.driver_connection if self.dialect == "sqlite" else None
            sliced = abort is not None and driver is not None
            previous = 0
            if sliced:
                assert driver is not None  # noqa: S101 - for mypy
                previous = driver.execute("PRAGMA busy_timeout").fetchone()[0]
                driver.execute(f"PRAGMA busy_timeout={int(_LOCK_SLICE_S * 1000)}")
            self._pinned.conn = conn
            self._pinned.abort = abort if sliced else None
            self._pinned.lock_timeout = lock_timeout
            try:
                yield
            finally:
                self._pinned.conn = None
                self._pinned.abort = None
                if sliced and driver is not None:  # back to the pool as it came
                    driver.execute(f"PRAGMA busy_timeout={int(previous)}")

    def _begin_pinned(self, conn: sa.Connection) -> sa.RootTransaction:
        """Begin the pinned connection's write transaction, waiting for the lock in slices
        when :meth:`pinned` was given an ``abort`` event."""
        import sqlalchemy as sa  # noqa: PLC0415

        abort: threading.Event | None = getattr(self._pinned, "abort", None)
        if abort is None:
            return conn.begin()
        since = time.monotonic()
        while True:
            try:
                return conn.begin()
            except sa.exc.OperationalError as exc:
                if getattr(exc.orig, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
                    raise
                self._lock_wait(abort, since, exc)

    def _lock_wait(self, abort: threading.Event, since: float, exc: BaseException) -> None:
        """After a try for the write lock found it held: a StorageFault once ``abort`` is
        set or the pinned block's ``lock_timeout`` has passed; else go on trying."""
        limit = getattr(self._pinned, "lock_timeout", None)
        waited = time.monotonic() - since
        if abort.is_set():
            raise StorageFault(
                f"{self.url}: stopped while waiting {waited:.1f} s for the database "
                "lock, which another process holds"
            ) from exc
        if limit is not None and waited >= limit:
            raise StorageFault(
                f"{self.url}: another process has held the database lock for {waited:.0f} s"
            ) from exc

    @contextmanager
    def reader(self) -> Iterator[Transaction]:
        """A read-only transaction: a consistent snapshot that takes no write lock."""
        from uet.state.database import translate_errors  # noqa: PLC0415

        with translate_errors(self._engine), self._reader.connect() as conn:
            yield Transaction(self, conn, readonly=True)
            conn.rollback()

    def insert_events(self, batch: Sequence[NewEvent]) -> list[int | None]:
        """Insert ``batch`` in one transaction; returns each event's sequence number in its run."""
        with self.transaction() as tx:
            return tx.insert_events(batch)

    def close(self) -> None:
        """Close pooled connections (the engine is made again on next use)."""
        self._engine.dispose()


class Transaction:
    """Operations inside one transaction. Made by :meth:`Store.transaction` or ``reader``.

    Every operation executes a named statement of :mod:`uet.state.queries` through the
    five primitives below (``_read``, ``_write``, ``_write_many``, ``_fetch``, ``_sql``),
    which :class:`uet.state.sqlite_store.SqliteTransaction` implements on the stdlib."""

    def __init__(self, store: Store, conn: sa.Connection | None, *, readonly: bool) -> None:
        self.store = store
        self._conn = conn
        self.readonly = readonly

    @property
    def conn(self) -> sa.Connection:
        """The SQLAlchemy connection, for modules that compose statements of their own."""
        if self._conn is None:
            raise StoreError(f"{self.store.url}: this store was opened without SQLAlchemy")
        return self._conn

    # -- the primitives ---------------------------------------------------------------------

    def _read(self, name: str, *, glob: bool = True, **params: Any) -> list[Mapping[Any, Any]]:
        """Execute the read statement ``name`` of :mod:`uet.state.queries` with those of
        ``params`` it takes."""
        from uet.state.queries import parameters, statement  # noqa: PLC0415

        wanted = parameters(name, glob=glob)
        values = {key: value for key, value in params.items() if key in wanted}
        return list(self.conn.execute(statement(name, glob=glob), values).mappings())

    def _write(self, name: str, params: Mapping[str, Any]) -> int:
        """Execute the write ``name`` once; the number of rows it changed."""
        return int(self.store.prepared(name).one(self._writable(), params).rowcount)

    def _write_many(self, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute the write ``name`` for each of ``rows`` (one executemany)."""
        self.store.prepared(name).execute(self._writable(), rows)

    def _fetch(self, name: str, params: Mapping[str, Any]) -> list[Mapping[Any, Any]]:
        """Execute the statement ``name`` of the writes (a locking read, or a RETURNING)
        once and return its rows."""
        return list(self.store.prepared(name).one(self.conn, params).mappings())

    def _sql(self, sql: str, params: Any, *, many: bool = False) -> Any:
        """Execute SQL text (written with the store's parameter mark); iterates over rows."""
        return execute_sql(self.conn, sql, params, many=many)

    def _writable(self) -> sa.Connection:
        if self.readonly:
            raise StoreError("a write was attempted in a read-only transaction (use transaction())")
        return self.conn

    def _check_writable(self) -> None:
        if self.readonly:
            raise StoreError("a write was attempted in a read-only transaction (use transaction())")

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, run: RunRecord) -> None:
        self._check_writable()
        self._write("insert_run", _run_row(run))

    def set_run_status(
        self,
        run_id: str,
        status: RunStatus,
        *,
        started_at: float | None = None,
        ended_at: float | None = None,
        summary: Mapping[str, Any] | None = None,
    ) -> bool:
        """Set a run's status (and the times/summary given). False when there is no such run."""
        self._check_writable()
        values = {
            "b_id": run_id,
            "b_status": status.value,
            "b_started_at": started_at,
            "b_ended_at": ended_at,
            "b_summary": None if summary is None else dump_json(summary),
        }
        return self._write("set_run_status", values) == 1

    def claim_run(self, run_id: str, *, host: str, pid: int, at: float) -> None:
        """Record which orchestrator process drives the run, and its first heartbeat."""
        self._check_writable()
        values = {"b_id": run_id, "b_host": host, "b_pid": pid, "b_heartbeat_at": at}
        self._write("claim_run", values)

    def heartbeat(self, run_id: str, at: float) -> None:
        self._check_writable()
        self._write("heartbeat", {"b_id": run_id, "b_heartbeat_at": at})

    def get_run(self, run_id: str) -> RunRecord | None:
        found = self._read("run", run_id=run_id)
        return rows.run_record(found[0]) if found else None

    def get_runs(self, run_ids: Iterable[str]) -> dict[str, RunRecord]:
        """Many runs by id, in one query per 500 ids; missing ids are absent from the result."""
        found: dict[str, RunRecord] = {}
        for chunk in _chunks(list(dict.fromkeys(run_ids))):
            for row in self._read("runs_by_id", ids=list(chunk)):
                found[row["id"]] = rows.run_record(row)
        return found

    def list_runs(
        self, *, limit: int = 20, statuses: Iterable[RunStatus] | None = None
    ) -> list[RunRecord]:
        """The most recent runs first."""
        wanted = None if statuses is None else [s.value for s in statuses]
        name = variant("recent_runs", statuses=wanted is not None)
        return [rows.run_record(row) for row in self._read(name, limit=limit, statuses=wanted)]

    # -- run leases (uet.state.lease) -------------------------------------------------------

    def lease_claim(self, run_id: str, *, host: str, pid: int, ttl: float) -> bool:
        """Insert ``run_id``'s lease row at epoch 1; False when it has one already."""
        self._check_writable()
        values = {"b_run_id": run_id, "b_host": host, "b_pid": pid, "b_ttl": ttl}
        return bool(self._fetch("lease_claim", values))

    def lease_locked(self, run_id: str) -> Mapping[str, Any] | None:
        """The lease row, locked until this transaction ends, with the database's ``now``."""
        found = self._fetch("lease_locked", {"b_run_id": run_id})
        return found[0] if found else None

    def lease_take(self, run_id: str, *, host: str, pid: int, epoch: int, ttl: float) -> None:
        self._check_writable()
        values = {"b_run_id": run_id, "b_host": host, "b_pid": pid, "b_epoch": epoch}
        self._write("lease_take", {**values, "b_ttl": ttl})

    def lease_renew(self, run_id: str, *, epoch: int, ttl: float) -> bool:
        """Extend the lease while it is ``epoch``'s; False when it was taken over."""
        self._check_writable()
        values = {"b_run_id": run_id, "b_epoch": epoch, "b_ttl": ttl}
        return self._write("lease_renew", values) == 1

    def lease_release(self, run_id: str, *, epoch: int) -> None:
        self._check_writable()
        self._write("lease_release", {"b_run_id": run_id, "b_epoch": epoch})

    def lease_row(self, run_id: str) -> Mapping[str, Any] | None:
        found = self._fetch("lease_row", {"b_run_id": run_id})
        return found[0] if found else None

    def db_now(self) -> float:
        """The database's clock, in seconds since the epoch."""
        return float(self._fetch("db_now", {})[0]["now"])

    def release_tool_slots(self, host: str, pid: int) -> int:
        """Give back every tool slot held by routers of process ``pid`` on ``host`` (an
        orchestrator found dead); returns how many (``uet.state.ledgers``)."""
        self._check_writable()
        prefix = f"{host}:{pid}:"
        holders = [h for (h,) in self._sql("SELECT DISTINCT holder FROM tool_leases", ())]
        mine = [(h,) for h in holders if h.startswith(prefix)]
        if mine:
            sql = f"DELETE FROM tool_leases WHERE holder = {self.store._mark}"
            self._sql(sql, mine, many=True)
        return len(mine)

    # -- workstreams and tasks --------------------------------------------------------------

    def add_workstreams(self, items: Sequence[WorkstreamRecord]) -> None:
        self._check_writable()
        if items:
            self._write_many("insert_workstream", [_workstream_row(w) for w in items])

    def get_workstreams(self, run_id: str) -> list[WorkstreamRecord]:
        return [rows.workstream_record(row) for row in self._read("workstreams", run_id=run_id)]

    def workstream_names(self, run_ids: Sequence[str]) -> dict[str, list[str]]:
        """The workstream ids of each run (every run of ``run_ids`` a key), sorted."""
        names: dict[str, list[str]] = {run_id: [] for run_id in run_ids}
        for chunk in _chunks(list(names)):
            for row in self._read("workstream_names", ids=list(chunk)):
                names[row["run_id"]].append(row["id"])
        return names

    def task_counts(self, run_ids: Sequence[str]) -> dict[str, dict[TaskStatus, int]]:
        """How many tasks of each run are in each state (every run of ``run_ids`` a key)."""
        counts: dict[str, dict[TaskStatus, int]] = {run_id: {} for run_id in run_ids}
        for chunk in _chunks(list(counts)):
            for row in self._read("task_counts", ids=list(chunk)):
                counts[row["run_id"]][TaskStatus(row["status"])] = int(row["count_1"])
        return counts

    def add_tasks(self, items: Sequence[TaskRecord]) -> None:
        self._check_writable()
        if items:
            self._write_many("insert_task", [_task_row(t) for t in items])

    def update_tasks(self, run_id: str, updates: Sequence[TaskUpdate]) -> None:
        """Apply many task updates in one statement; None fields keep their stored value."""
        self._check_writable()
        if not updates:
            return
        changes = [
            {
                "b_run_id": run_id,
                "b_id": u.task_id,
                "b_status": u.status.value,
                "b_outcome": None if u.outcome is None else u.outcome.value,
                "b_exit_code": u.exit_code,
                "b_attempts_used": u.attempts_used,
                "b_started_at": u.started_at,
                "b_ended_at": u.ended_at,
            }
            for u in updates
        ]
        self._write_many("update_task", changes)

    def get_tasks(
        self, run_id: str, *, statuses: Iterable[TaskStatus] | None = None
    ) -> list[TaskRecord]:
        wanted = None if statuses is None else [s.value for s in statuses]
        name = variant("tasks", statuses=wanted is not None)
        return [rows.task_record(row) for row in self._read(name, run_id=run_id, statuses=wanted)]

    # -- attempts ---------------------------------------------------------------------------

    def dispatch_attempts(self, items: Sequence[AttemptRecord]) -> list[int]:
        """Insert attempts (their ``id`` is ignored) and return the ids given, in order."""
        self._check_writable()
        if not items:
            return []
        ids: dict[tuple[str, str, int], int] = {}
        for start in range(0, len(items), _ATTEMPTS_PER_INSERT):
            chunk = items[start : start + _ATTEMPTS_PER_INSERT]
            sql = _dispatch_sql(self.store._mark, len(chunk))
            values = tuple(value for item in chunk for value in _attempt_values(item))
            # RETURNING's row order is not defined: (run, task, number) names the row
            for attempt_id, run_id, task_id, number in self._sql(sql, values):
                ids[run_id, task_id, number] = int(attempt_id)
        return [ids[item.run_id, item.task_id, item.number] for item in items]

    def mark_running(self, attempt_id: int, *, pid: int, pgid: int, started_at: float) -> bool:
        """The attempt's process started. False when the attempt is no longer live."""
        self._check_writable()
        row = {"b_id": attempt_id, "b_pid": pid, "b_pgid": pgid, "b_started_at": started_at}
        return self._write("mark_started", row) == 1

    def mark_started(self, started: Sequence[tuple[int, int, int, float]]) -> None:
        """Many ``(attempt id, pid, pgid, started_at)`` at once; attempts no longer live
        are left alone."""
        self._check_writable()
        if started:
            self._write_many(
                "mark_started",
                [
                    {"b_id": a, "b_pid": pid, "b_pgid": pgid, "b_started_at": at}
                    for a, pid, pgid, at in started
                ],
            )

    def complete_attempts(self, results: Sequence[AttemptResult]) -> list[int]:
        """Record how attempts ended; returns the ids accepted.

        A result is accepted only while its attempt is still live (dispatched or running):
        a late result never overwrites an attempt already marked lost, canceled or finished.
        The live attempts are read and locked first, then updated in one statement.
        """
        self._check_writable()
        if not results:
            return []
        live: set[int] = set()
        for chunk in _chunks([result.attempt_id for result in results]):
            # FOR UPDATE on PostgreSQL; SQLite already holds its write lock.
            sql = self.store.live_attempts_sql(len(chunk))
            live.update(row[0] for row in self._sql(sql, tuple(chunk)))
        accepted = []
        for result in results:
            if result.attempt_id in live:  # a second result for one attempt is refused
                live.discard(result.attempt_id)
                accepted.append(result)
        if accepted:
            self._write_many("complete_attempt", [_result_row(result) for result in accepted])
        return [result.attempt_id for result in accepted]

    def get_attempts(
        self,
        run_id: str,
        *,
        states: Iterable[AttemptState] | None = None,
        task_id: str | None = None,
    ) -> list[AttemptRecord]:
        wanted = None if states is None else [s.value for s in states]
        name = variant("attempts", states=wanted is not None, task=task_id is not None)
        found = self._read(name, run_id=run_id, states=wanted, task_id=task_id)
        return [rows.attempt_record(row) for row in found]

    # -- events -----------------------------------------------------------------------------

    def insert_events(self, batch: Sequence[NewEvent]) -> list[int | None]:
        """Append events; each event of a run gets the next sequence number of that run.

        Numbers are assigned under the write lock (SQLite) or a per-run advisory lock
        (PostgreSQL), so concurrent writers never assign the same number twice.

        On PostgreSQL the transaction has its transaction id before it takes event ids (the
        ``INSERT`` takes them before it would get one): a reader of the log can then tell
        from its snapshot when a missing id can no longer appear (``uet.triggers.follow``).
        """
        self._check_writable()
        if not batch:
            return []
        last = self._last_seqs({event[2] for event in batch if event[2] is not None})
        flat: list[Any] = []
        seqs: list[int | None] = []
        for type_, ts, run_id, task_id, attempt_id, payload in batch:
            seq = None
            if run_id is not None:
                seq = last[run_id] = last.get(run_id, 0) + 1
            seqs.append(seq)
            flat += (run_id, seq, type_, ts, task_id, attempt_id, dump_json(payload))
        # Multi-row VALUES: 1.6-1.8x faster than executemany on SQLite (bench/events.py).
        width = len(_EVENT_COLUMNS) * _ROWS_PER_INSERT
        for start in range(0, len(flat), width):
            chunk = tuple(flat[start : start + width])
            sql = self.store.insert_events_sql(len(chunk) // len(_EVENT_COLUMNS))
            self._sql(sql, chunk)
        return seqs

    def _last_seqs(self, run_ids: set[str]) -> dict[str, int]:
        """The highest sequence number of each run: one index seek per run."""
        postgres = self.store.dialect == "postgresql"
        sql = _LAST_SEQ_SQL.format(mark=self.store._mark)
        last: dict[str, int] = {}
        xid = _xid_function(self.conn) if postgres else None  # taken with the first statement
        if xid is not None and not run_ids:
            self._sql(f"SELECT {xid}", ())
        for run_id in sorted(run_ids):  # sorted: two writers always lock in the same order
            if postgres:
                lock = "pg_advisory_xact_lock(%s)" + ("" if xid is None else f", {xid}")
                self._sql(f"SELECT {lock}", (_lock_key(run_id),))
                xid = None
            seq = next(iter(self._sql(sql, (run_id,))), (None,))[0]
            if seq is not None:
                last[run_id] = seq
        return last

    def get_events(
        self,
        run_id: str | None = None,
        *,
        after_seq: int = 0,
        after_id: int = 0,
        types: str | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]:
        """Events of one run in sequence order (or all events in id order when ``run_id``
        is None), after a point, optionally of types matching a glob such as ``task.*``."""
        glob = self.store.dialect == "sqlite"  # LIKE ignores case on SQLite; GLOB does not
        pattern = None
        if types is not None and types != "*":
            pattern = types.replace("[", "[[]") if glob else _glob_to_like(types)
        name = variant(
            "events", run=run_id is not None, types=pattern is not None, limit=limit is not None
        )
        after = after_seq if run_id is not None else after_id
        found = self._read(name, glob=glob, run_id=run_id, after=after, types=pattern, limit=limit)
        return [rows.event_record(row) for row in found]

    def count_events(self, run_id: str | None = None) -> int:
        found = self._read(variant("count_events", run=run_id is not None), run_id=run_id)
        return int(found[0]["count_1"])

    # -- decisions --------------------------------------------------------------------------

    def record_decisions(self, items: Sequence[DecisionRecord]) -> None:
        self._check_writable()
        if items:
            self._write_many("insert_decision", [_decision_row(d) for d in items])

    def get_decisions(
        self,
        *,
        run_id: str | None = None,
        category: str | None = None,
        limit: int | None = None,
    ) -> list[DecisionRecord]:
        name = variant(
            "decisions",
            run=run_id is not None,
            category=category is not None,
            limit=limit is not None,
        )
        found = self._read(name, run_id=run_id, category=category, limit=limit)
        return [rows.decision_record(row) for row in found]

    # -- agents (through SQLAlchemy: `uet agents` opens the SQLAlchemy store) ----------------

    def put_agent(self, agent: AgentRecord) -> None:
        """Insert the agent, or replace the row of a removed agent with the same id."""
        import sqlalchemy as sa  # noqa: PLC0415

        from uet.state.tables import agents  # noqa: PLC0415

        conn = self._writable()
        conn.execute(sa.delete(agents).where(agents.c.id == agent.id))
        conn.execute(sa.insert(agents), [_agent_row(agent)])

    def update_agent(self, agent_id: str, **values: Any) -> None:
        import sqlalchemy as sa  # noqa: PLC0415

        from uet.state.tables import agents  # noqa: PLC0415

        if "files_scope" in values or "depends_on" in values:
            raise ValueError("files_scope and depends_on are set when the agent is created")
        self._writable().execute(sa.update(agents).where(agents.c.id == agent_id).values(**values))

    def get_agent(self, agent_id: str) -> AgentRecord | None:
        import sqlalchemy as sa  # noqa: PLC0415

        from uet.state.tables import agents  # noqa: PLC0415

        row = self.conn.execute(sa.select(agents).where(agents.c.id == agent_id)).mappings()
        found = row.first()
        return None if found is None else rows.agent_record(found)

    def list_agents(self, statuses: Iterable[str] | None = None) -> list[AgentRecord]:
        import sqlalchemy as sa  # noqa: PLC0415

        from uet.state.tables import agents  # noqa: PLC0415

        query = sa.select(agents).order_by(agents.c.created_at, agents.c.id)
        if statuses is not None:
            query = query.where(agents.c.status.in_(list(statuses)))
        return [rows.agent_record(row) for row in self.conn.execute(query).mappings()]


# -- rows <-> records -----------------------------------------------------------------------


def variant(base: str, **flags: bool) -> str:
    """As :func:`uet.state.queries.variant` (which imports SQLAlchemy)."""
    return "+".join([base, *(flag for flag, on in flags.items() if on)])


def _chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _xid_function(conn: sa.Connection) -> str:
    """``pg_current_xact_id()`` (``txid_current()`` before PostgreSQL 13), as SQL: gives the
    transaction its id now, if it has none yet."""
    if (conn.dialect.server_version_info or (0,)) >= (13,):
        return "pg_current_xact_id()"
    return "txid_current()"


def _lock_key(run_id: str) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock."""
    digest = hashlib.blake2b(run_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _glob_to_like(pattern: str) -> str:
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _result_row(result: AttemptResult) -> dict[str, Any]:
    return {
        "b_id": result.attempt_id,
        "b_state": result.state.value,
        "b_ended_at": result.ended_at,
        "b_exit_code": result.exit_code,
        "b_output_tail": result.output_tail,
        "b_error": result.error,
        "b_pid": result.pid,
        "b_pgid": result.pgid,
        "b_started_at": result.started_at,
    }


def _run_row(run: RunRecord) -> dict[str, Any]:
    return {
        "b_id": run.id,
        "b_name": run.name,
        "b_status": run.status.value,
        "b_created_at": run.created_at,
        "b_started_at": run.started_at,
        "b_ended_at": run.ended_at,
        "b_host": run.host,
        "b_pid": run.pid,
        "b_heartbeat_at": run.heartbeat_at,
        "b_deterministic": run.deterministic,
        "b_params": dump_json(run.params),
        "b_summary": dump_json(run.summary),
    }


def _workstream_row(item: WorkstreamRecord) -> dict[str, Any]:
    return {
        "b_run_id": item.run_id,
        "b_id": item.id,
        "b_name": item.name,
        "b_status": item.status.value,
        "b_concurrency": item.concurrency,
        "b_depends_on": dump_json(item.depends_on),
        "b_source": item.source,
        "b_spec": dump_json(item.spec),
    }


def _task_row(item: TaskRecord) -> dict[str, Any]:
    return {
        "b_run_id": item.run_id,
        "b_id": item.id,
        "b_workstream_id": item.workstream_id,
        "b_status": item.status.value,
        "b_depends_on": dump_json(item.depends_on),
        "b_spec": dump_json(item.spec),
        "b_max_attempts": item.max_attempts,
        "b_attempts_used": item.attempts_used,
        "b_outcome": None if item.outcome is None else item.outcome.value,
        "b_exit_code": item.exit_code,
        "b_started_at": item.started_at,
        "b_ended_at": item.ended_at,
    }


def _attempt_values(item: AttemptRecord) -> tuple[Any, ...]:
    """The values of an attempt row, in the order of ``_ATTEMPT_COLUMNS`` (no id)."""
    return (
        item.run_id,
        item.task_id,
        item.number,
        item.state.value,
        item.tool,
        item.host,
        item.pid,
        item.pgid,
        item.exit_code,
        item.dispatched_at,
        item.started_at,
        item.ended_at,
        item.output_tail,
        item.error,
    )


def _decision_row(item: DecisionRecord) -> dict[str, Any]:
    return {
        "b_ts": item.ts,
        "b_category": item.category,
        "b_run_id": item.run_id,
        "b_task_id": item.task_id,
        "b_chosen": item.chosen,
        "b_alternatives": dump_json(item.alternatives),
        "b_reason": item.reason,
        "b_data": dump_json(item.data),
    }


def _agent_row(agent: AgentRecord) -> dict[str, Any]:
    row = agent.to_dict()
    row["files_scope"] = dump_json(agent.files_scope)
    row["depends_on"] = dump_json(agent.depends_on)
    return row
