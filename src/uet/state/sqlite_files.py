"""SQLite files opened for reading, and why one cannot be written: stdlib only.

Shared by the SQLAlchemy engines (:mod:`uet.state.database`), backups and the reading
commands' SQLite path (:mod:`uet.state.fastread`), which must not import SQLAlchemy. See
:mod:`uet.state.database` for why a read-only open may fall back to ``immutable``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from uet.errors import StoreError

__all__ = ["open_sqlite_readonly", "read_only_problem", "transient_error"]


def open_sqlite_readonly(path: Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection that only reads the SQLite file ``path`` (see the module docstring).

    Raises :class:`StoreError` naming the file when it cannot be read at all.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()  # opens the WAL index
    except sqlite3.OperationalError as exc:
        if not _immutable_is_safe(path):
            raise StoreError(f"{path}: cannot be read: {_why_unreadable(path, exc)}") from exc
        try:
            conn = sqlite3.connect(
                f"{uri}&immutable=1", uri=True, timeout=timeout, check_same_thread=False
            )
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        except sqlite3.Error as again:
            raise StoreError(f"{path}: cannot be read: {again}") from again
    except sqlite3.Error as exc:  # not a database, malformed…
        raise StoreError(f"{path}: cannot be read: {exc}") from exc
    return conn


def _immutable_is_safe(path: Path) -> bool:
    """A readable file whose folder we cannot write and that has no write-ahead log: no
    writer can be at work (a writer would have made the ``-wal`` file)."""
    wal = path.with_name(path.name + "-wal")
    folder_writable = os.access(path.parent, os.W_OK | os.X_OK) and not _read_only_mount(
        path.parent
    )
    return os.access(path, os.R_OK) and not folder_writable and not wal.exists()


def read_only_problem(path: Path) -> str | None:
    """Why the SQLite database ``path`` cannot be written, or None (it can, or does not exist
    yet and its folder can take it)."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    target = path if path.exists() else folder
    if _read_only_mount(target):
        return "read-only file system"
    if path.exists() and not os.access(path, os.W_OK):
        return "permission denied: the file is read-only for this user"
    if not os.access(folder if not path.exists() else path.parent, os.W_OK | os.X_OK):
        return "permission denied: its folder is read-only for this user"
    return None


def _read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _why_unreadable(path: Path, exc: sqlite3.Error) -> str:
    if not path.exists():
        return "no such file"
    if not os.access(path, os.R_OK):
        return "permission denied (the file is not readable by this user)"
    if path.with_name(path.name + "-wal").exists():
        return (
            f"its write-ahead log {path.name}-wal needs a {path.name}-shm file that cannot be "
            "created here (read-only folder); copy the database and its -wal file to a "
            "writable folder and read them there with --db"
        )
    return str(exc)


# SQLite's primary result codes of failures that will not pass by themselves: PERM,
# READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB. (BUSY and LOCKED pass once the other
# writer is done; anything else is taken as transient and bounded by the fault timeout.)
_SQLITE_FAULTS = frozenset({3, 8, 10, 11, 13, 14, 26})
# PostgreSQL SQLSTATEs of the same kind: disk full, out of memory, read-only transaction,
# insufficient privilege, undefined table (the schema is gone), data corrupted.
_PG_FAULTS = frozenset({"53100", "53200", "25006", "42501", "42P01", "XX001", "XX002"})


def transient_error(error: BaseException | None) -> bool:
    """Whether a driver error may pass when the same write is tried again."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) not in _SQLITE_FAULTS
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate not in _PG_FAULTS
    return True
