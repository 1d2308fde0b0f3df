"""Engines: one per database URL per process, tuned for each dialect.

SQLite (the default) runs in WAL mode with ``synchronous`` NORMAL (a committed transaction
survives any crash of the process; FULL also survives power loss), a busy timeout, foreign
keys on, and ``BEGIN IMMEDIATE`` for every write transaction so that writers queue on the
lock up front instead of failing with "database is locked" when a read upgrades to a write.
Read transactions (``READONLY`` execution option) use a plain deferred ``BEGIN``.
PostgreSQL goes through psycopg 3 with pre-ping on checkout.

A *read-only* engine (``readonly=True``: what ``uet status``, ``runs``, ``events``, ``logs`` and
``decisions`` use) never writes, so it works on a database the user cannot write. On SQLite it
opens the file with ``mode=ro`` and ``PRAGMA query_only``, changes no journal mode and takes
no write lock. A WAL database needs its ``-shm`` file even to be read: when that file is
missing and cannot be created (the folder is read-only) and there is no ``-wal`` file either,
nothing can be writing the database, so it is opened ``immutable`` instead. A ``-wal`` file
without a ``-shm`` in a read-only folder cannot be read consistently: that is said clearly.
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

from uet.config import database_url_problem, hide_password
from uet.errors import ConfigError, StorageFault, StoreError
from uet.state.sqlite_files import open_sqlite_readonly, transient_error

READONLY = "uet_readonly"
"""Execution option: this connection only reads, so it need not take the write lock."""

_engines: dict[tuple[object, ...], sa.Engine] = {}
_engines_lock = threading.Lock()


def get_engine(
    url: str, *, synchronous: str = "NORMAL", busy_timeout: float = 30.0, readonly: bool = False
) -> sa.Engine:
    """The process's engine for ``url`` (made on first use; a forked child makes its own)."""
    key = (url, synchronous, busy_timeout, readonly, os.getpid())
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _create(url, synchronous, busy_timeout, readonly)
        return engine


def engine_for(settings: Settings, *, readonly: bool = False) -> sa.Engine:
    """The engine of ``settings``' database, with its SQLite settings."""
    return get_engine(
        settings.db,
        synchronous=settings.sqlite_synchronous,
        busy_timeout=settings.sqlite_busy_timeout,
        readonly=readonly,
    )


def dispose_engines() -> None:
    """Close every pooled connection of this process (tests, and before a restore)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None (another dialect, or an in-memory database)."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


_DRIVER_FIX = {"psycopg": "pip install 'uet[postgres]'", "psycopg2": "pip install psycopg2"}


def _create(url: str, synchronous: str, busy_timeout: float, readonly: bool) -> sa.Engine:
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite":
        # a read-only engine: the server refuses writes in every transaction of it
        options = {"postgresql_readonly": True} if readonly else {}
        try:
            return sa.create_engine(parsed, pool_pre_ping=True, execution_options=options)
        except ImportError as exc:  # the dialect's driver is missing (or cannot load)
            raise _missing_driver(parsed, exc) from None
    path = sqlite_path(url)
    if readonly and path is not None:
        return _create_readonly(parsed, path, busy_timeout)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        parsed,
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
    )
    _tune_sqlite(engine, synchronous)
    return engine


def _parse(url: str) -> sa.URL:
    """The URL parsed, or a ConfigError (exit 2) saying what is wrong with it."""
    problem = database_url_problem(url)
    try:
        parsed = sa.make_url(url) if problem is None else None
    except sa.exc.ArgumentError:
        parsed = None
    if parsed is None:
        raise ConfigError("database URL", "", problem or f"{hide_password(url)!r} is not valid")
    return parsed


def _missing_driver(url: sa.URL, exc: ImportError) -> ConfigError:
    driver = url.get_driver_name()
    fix = _DRIVER_FIX.get(driver, f"install the Python package {driver}")
    where = url.render_as_string(hide_password=True)
    problem = f"the {url.get_backend_name()} driver {driver} cannot be imported ({exc}): {fix}"
    return ConfigError(where, "", problem)


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


def _create_readonly(parsed: sa.URL, path: Path, busy_timeout: float) -> sa.Engine:
    def connect() -> sqlite3.Connection:
        return open_sqlite_readonly(path, timeout=busy_timeout)

    engine = sa.create_engine(parsed, creator=connect)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we send BEGIN ourselves (below)
        dbapi_connection.execute("PRAGMA query_only=ON")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")  # deferred: a read takes no write lock

    return engine


@contextmanager
def translate_errors(engine: sa.Engine) -> Iterator[None]:
    """Turn driver errors into StoreError naming the database (password hidden)."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        where = engine.url.render_as_string(hide_password=True)
        refused = isinstance(exc, _REFUSED)
        if not refused and not transient_error(exc.orig):
            raise StorageFault(f"{where}: {exc.orig}") from exc
        raise StoreError(f"{where}: {exc.orig}", refused=refused) from exc
    except sa.exc.SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"{where}: {exc}") from exc


# The database rejected the values themselves: sending them again cannot succeed.
_REFUSED = (sa.exc.DataError, sa.exc.IntegrityError)
