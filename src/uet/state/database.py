"""Engines: one per database URL per process, tuned for each dialect.

SQLite (the default) runs in WAL mode with ``synchronous`` NORMAL (a committed transaction
survives any crash of the process; FULL also survives power loss), a busy timeout, foreign
keys on, and ``BEGIN IMMEDIATE`` for every write transaction so that writers queue on the
lock up front instead of failing with "database is locked" when a read upgrades to a write.
Read transactions (``READONLY`` execution option) use a plain deferred ``BEGIN``.
PostgreSQL goes through psycopg 3 with pre-ping on checkout.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event

if TYPE_CHECKING:
    from uet.config import Settings

from uet.errors import StorageFault, StoreError

READONLY = "uet_readonly"
"""Execution option: this connection only reads, so it need not take the write lock."""

_engines: dict[tuple[object, ...], sa.Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str, *, synchronous: str = "NORMAL", busy_timeout: float = 30.0) -> sa.Engine:
    """The process's engine for ``url`` (made on first use; a forked child makes its own)."""
    key = (url, synchronous, busy_timeout, os.getpid())
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _create(url, synchronous, busy_timeout)
        return engine


def engine_for(settings: Settings) -> sa.Engine:
    """The engine of ``settings``' database, with its SQLite settings."""
    return get_engine(
        settings.db,
        synchronous=settings.sqlite_synchronous,
        busy_timeout=settings.sqlite_busy_timeout,
    )


def dispose_engines() -> None:
    """Close every pooled connection of this process (tests, and before a restore)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None (another dialect, or an in-memory database)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _create(url: str, synchronous: str, busy_timeout: float) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        parsed,
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
    )
    _tune_sqlite(engine, synchronous)
    return engine


def _tune_sqlite(engine: sa.Engine, synchronous: str) -> None:
    if synchronous not in ("NORMAL", "FULL"):  # interpolated into a PRAGMA below
        raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control from the driver: we send BEGIN ourselves (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        readonly = connection.get_execution_options().get(READONLY, False)
        connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


@contextmanager
def translate_errors(engine: sa.Engine) -> Iterator[None]:
    """Turn driver errors into StoreError naming the database (password hidden)."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        where = engine.url.render_as_string(hide_password=True)
        refused = isinstance(exc, _REFUSED)
        if not refused and not _transient(exc.orig):
            raise StorageFault(f"{where}: {exc.orig}") from exc
        raise StoreError(f"{where}: {exc.orig}", refused=refused) from exc
    except sa.exc.SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"{where}: {exc}") from exc


# The database rejected the values themselves: sending them again cannot succeed.
_REFUSED = (sa.exc.DataError, sa.exc.IntegrityError)

# SQLite's primary result codes of failures that will not pass by themselves: PERM,
# READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB. (BUSY and LOCKED pass once the other
# writer is done; anything else is taken as transient and bounded by the fault timeout.)
_SQLITE_FAULTS = frozenset({3, 8, 10, 11, 13, 14, 26})
# PostgreSQL SQLSTATEs of the same kind: disk full, out of memory, read-only transaction,
# insufficient privilege, undefined table (the schema is gone), data corrupted.
_PG_FAULTS = frozenset({"53100", "53200", "25006", "42501", "42P01", "XX001", "XX002"})


def _transient(error: BaseException | None) -> bool:
    """Whether a driver error may pass when the same write is tried again."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) not in _SQLITE_FAULTS
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate not in _PG_FAULTS
    return True
