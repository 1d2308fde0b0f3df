"""The store on a plain SQLite file through the stdlib ``sqlite3``: no SQLAlchemy.

``uet run`` and ``uet exec`` write a run (its row, tasks, attempts, every tick, events)
and nothing else; importing SQLAlchemy alone cost each of them ~0.4 s of CPU, more than a
short run. :class:`SqliteStore` is a :class:`~uet.state.store.Store` whose transactions
execute the very statements of :mod:`uet.state.queries`, compiled once into
:mod:`uet.state._compiled` (reads, writes and the schema of a new database), on
connections tuned as the SQLAlchemy engine tunes its own (:mod:`uet.state.database`: WAL,
``synchronous``, foreign keys, ``BEGIN IMMEDIATE`` for every write, a busy timeout); its
errors become the same :class:`~uet.errors.StoreError` and
:class:`~uet.errors.StorageFault`. tests/state/test_sqlite_store.py holds it and the
SQLAlchemy store to the same rows.

It serves a SQLite file that is new (made at the schema head by the compiled DDL, as
``schema.create_at_head`` makes it) or at the head already; :meth:`SqliteStore.open_file`
returns None for anything else, and ``Store.open`` then opens the SQLAlchemy store, which
says what is wrong (an older schema: "run `uet db upgrade`"). Modules that compose
statements of their own (routing's ledgers, trigger fires, the daemon's lease, agents)
need ``tx.conn``, which this store does not have: their commands open the SQLAlchemy store.
"""

from __future__ import annotations

import operator
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uet.config import Settings
from uet.errors import StorageFault, StoreError
from uet.state._compiled import DDL, SCHEMA_HEAD, SQL, VERSION_TABLE, WRITES
from uet.state.fastread import compiled_read, sqlite_file
from uet.state.sqlite_files import read_only_problem, transient_error
from uet.state.store import _LOCK_SLICE_S, Store, Transaction, _identity

if TYPE_CHECKING:
    import sqlalchemy as sa

_SYNCHRONOUS = ("NORMAL", "FULL")


class _Write:
    """A compiled write: its text, and the tuple of values a row of parameters gives."""

    __slots__ = ("sql", "values")

    def __init__(self, name: str) -> None:
        sql, names, fixed = WRITES[name]
        self.sql = sql
        constants = dict(fixed)
        get: Callable[[Mapping[str, Any]], Any] = (  # several names: a tuple, one C call
            operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        )
        self.values: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            (lambda row: get({**constants, **row})) if constants else get
        )


_WRITES: dict[str, _Write] = {}


def _write(name: str) -> _Write:
    found = _WRITES.get(name)
    if found is None:
        found = _WRITES[name] = _Write(name)
    return found


class SqliteStore(Store):
    """A SQLite state file through ``sqlite3``. Open with :meth:`open_file`."""

    def __init__(self, path: Path, settings: Settings) -> None:
        if settings.sqlite_synchronous not in _SYNCHRONOUS:  # interpolated into a PRAGMA
            raise ValueError(f"synchronous must be NORMAL or FULL: {settings.sqlite_synchronous!r}")
        self.readonly = False
        self._settings = settings
        self._url = f"sqlite:///{path}"
        self._file: Path | None = path
        self._path = path
        self._identity: tuple[int, int] | None = None
        self._pinned = threading.local()
        self._idle: list[sqlite3.Connection] = []
        self._idle_lock = threading.Lock()
        self._engine_made: sa.Engine | None = None
        self._init_sql("?")

    @classmethod
    def open_file(cls, settings: Settings) -> SqliteStore | None:
        """The store of ``settings.db`` when it is a plain SQLite file URL whose file is new
        or at :data:`SCHEMA_HEAD` and can be written; None otherwise (or on any error: the
        SQLAlchemy store then opens it, and says what is wrong)."""
        path = sqlite_file(settings.db)
        if path is None or read_only_problem(path) is not None:
            return None
        store = cls(path, settings)
        try:
            current = store._ensure_schema()
        except (OSError, sqlite3.Error):
            current = False
        if not current:
            store.close()
            return None
        store._identity = _identity(path)
        return store

    # -- connections ------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        raw = sqlite3.connect(
            self._path,
            timeout=self._settings.sqlite_busy_timeout,
            isolation_level=None,  # transactions are begun here: BEGIN IMMEDIATE to write
            check_same_thread=False,  # one thread at a time, as a pool hands it out
        )
        try:
            raw.execute("PRAGMA journal_mode=WAL")
            raw.execute(f"PRAGMA synchronous={self._settings.sqlite_synchronous}")
            raw.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            raw.close()
            raise
        return raw

    def _take(self) -> sqlite3.Connection:
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _give(self, raw: sqlite3.Connection) -> None:
        if raw.in_transaction:  # only after a failure that left it so
            try:
                raw.execute("ROLLBACK")
            except sqlite3.Error:
                raw.close()
                return
        with self._idle_lock:
            self._idle.append(raw)

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Driver errors as the SQLAlchemy store raises them (``database.translate_errors``)."""
        try:
            yield
        except sqlite3.Error as exc:
            refused = isinstance(exc, sqlite3.IntegrityError | sqlite3.DataError)
            if not refused and not transient_error(exc):
                raise StorageFault(f"{self._url}: {exc}") from exc
            raise StoreError(f"{self._url}: {exc}", refused=refused) from exc

    def _ensure_schema(self) -> bool:
        """Whether the file is at :data:`SCHEMA_HEAD`, after making an empty one so (in one
        transaction, as ``schema.create_at_head``); False for any other state."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        raw = self._take()
        try:
            found = _version(raw)
            if found is not None:
                return found == [(SCHEMA_HEAD,)]
            raw.execute("BEGIN IMMEDIATE")  # concurrent first opens queue here
            try:
                tables = _tables(raw)
                if tables - {VERSION_TABLE}:  # made meanwhile, or not a uet database
                    raw.execute("ROLLBACK")
                    return _version(raw) == [(SCHEMA_HEAD,)]
                for statement in DDL:
                    if VERSION_TABLE in tables and statement.startswith(
                        f"CREATE TABLE {VERSION_TABLE} "
                    ):
                        continue  # a downgrade to base leaves it, empty
                    raw.execute(statement)
                raw.execute(f"DELETE FROM {VERSION_TABLE}")
                raw.execute(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (?)", (SCHEMA_HEAD,))
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
            return True
        finally:
            self._give(raw)

    # -- the Store ---------------------------------------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        """A SQLAlchemy engine on the same file, made (and SQLAlchemy imported) on first
        use, for code that needs one (backups, migrations)."""
        if self._engine_made is None:
            from uet.state.database import engine_for  # noqa: PLC0415 - SQLAlchemy

            self._engine_made = engine_for(self._settings)
        return self._engine_made

    @property
    def url(self) -> str:
        return self._url

    @property
    def dialect(self) -> str:
        return "sqlite"

    def prepared(self, name: str) -> Any:
        raise StoreError(f"{self._url}: this store was opened without SQLAlchemy ({name})")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """As :meth:`Store.transaction`: committed when the block ends, rolled back if it
        raises; inside this thread's open pinned transaction, joining it."""
        raw: sqlite3.Connection | None = getattr(self._pinned, "raw", None)
        if raw is not None and raw.in_transaction:
            yield SqliteTransaction(self, raw, readonly=False)
            return
        fence: Callable[[Transaction], None] | None = getattr(self._pinned, "fence", None)
        pinned = raw is not None
        with self._translate():
            conn = raw if raw is not None else self._take()
            try:
                self._begin(conn, sliced=pinned)
                try:
                    tx = SqliteTransaction(self, conn, readonly=False)
                    if fence is not None:
                        fence(tx)
                    yield tx
                    self.check_file()
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        with suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    raise
            finally:
                if not pinned:
                    self._give(conn)

    def _begin(self, conn: sqlite3.Connection, *, sliced: bool) -> None:
        """``BEGIN IMMEDIATE``; in a pinned block given an ``abort`` event, waiting for the
        lock in slices (as :meth:`Store._begin_pinned`)."""
        abort: threading.Event | None = getattr(self._pinned, "abort", None) if sliced else None
        if abort is None:
            conn.execute("BEGIN IMMEDIATE")
            return
        since = time.monotonic()
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
                    raise
                self._lock_wait(abort, since, exc)

    @contextmanager
    def pinned(
        self, *, abort: threading.Event | None = None, lock_timeout: float | None = None
    ) -> Iterator[None]:
        """As :meth:`Store.pinned`: this thread's write transactions share one connection."""
        if getattr(self._pinned, "raw", None) is not None:
            yield  # already pinned further up
            return
        with self._translate():
            raw = self._take()
            previous = None
            if abort is not None:
                previous = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
                raw.execute(f"PRAGMA busy_timeout={int(_LOCK_SLICE_S * 1000)}")
        self._pinned.raw = raw
        self._pinned.abort = abort
        self._pinned.lock_timeout = lock_timeout
        try:
            yield
        finally:
            self._pinned.raw = None
            self._pinned.abort = None
            try:
                if previous is not None:  # back to the pool as it came
                    raw.execute(f"PRAGMA busy_timeout={previous}")
            except sqlite3.Error:
                raw.close()
            else:
                self._give(raw)

    @contextmanager
    def reader(self) -> Iterator[Transaction]:
        """A read-only transaction: one consistent snapshot (a deferred BEGIN)."""
        with self._translate():
            raw = self._take()
            try:
                raw.execute("BEGIN")
                try:
                    yield SqliteTransaction(self, raw, readonly=True)
                finally:
                    if raw.in_transaction:
                        raw.execute("ROLLBACK")
            finally:
                self._give(raw)

    def close(self) -> None:
        """Close the idle connections (new ones are made on next use)."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()
        if self._engine_made is not None:
            self._engine_made.dispose()


class SqliteTransaction(Transaction):
    """A :class:`Transaction` of a :class:`SqliteStore`: its primitives on ``sqlite3``."""

    def __init__(self, store: SqliteStore, raw: sqlite3.Connection, *, readonly: bool) -> None:
        super().__init__(store, None, readonly=readonly)
        self._raw = raw

    def _read(self, name: str, *, glob: bool = True, **params: Any) -> list[Mapping[Any, Any]]:
        cursor = self._raw.execute(*compiled_read(name, params))
        return _mappings(cursor)

    def _write(self, name: str, params: Mapping[str, Any]) -> int:
        found = _write(name)
        return self._raw.execute(found.sql, found.values(params)).rowcount

    def _write_many(self, name: str, rows: Sequence[Mapping[str, Any]]) -> None:
        found = _write(name)
        values = found.values
        self._raw.executemany(found.sql, [values(row) for row in rows])

    def _fetch(self, name: str, params: Mapping[str, Any]) -> list[Mapping[Any, Any]]:
        found = _write(name)
        return _mappings(self._raw.execute(found.sql, found.values(params)))

    def _sql(self, sql: str, params: Any, *, many: bool = False) -> Any:
        return self._raw.executemany(sql, params) if many else self._raw.execute(sql, params)


def _mappings(cursor: sqlite3.Cursor) -> list[Mapping[Any, Any]]:
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _version(raw: sqlite3.Connection) -> list[tuple[Any, ...]] | None:
    """The rows of the version table; None when there is none."""
    try:
        return raw.execute(SQL["schema_version"][0]).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise


def _tables(raw: sqlite3.Connection) -> set[str]:
    query = "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    return {row[0] for row in raw.execute(query)}
