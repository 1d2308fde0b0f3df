"""One active daemon per store: the leader holds a lock that only its death releases.

* **SQLite file**: an exclusive ``flock`` on ``<database>-locks/daemon.lock`` (the folder
  of the run locks, ``uet.state.lease``). The kernel drops it when the leader dies, however
  it dies; a standby that waits for it takes over at once.
* **PostgreSQL**: ``pg_try_advisory_lock`` on a connection of its own that the leader keeps
  open: the server drops the lock when that session ends (the leader died, or its
  connection broke: :meth:`DaemonLease.check` then says leadership was lost, and the daemon
  stops firing before a standby starts).

The ``daemon_leases`` row says who leads (host, pid, an epoch counting takes) for
``uet triggers list`` and messages; the lock decides, never the row.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from uet.errors import StoreError
from uet.state.database import sqlite_path, translate_errors
from uet.state.lease import LOCKS_SUFFIX, _FileLock, _probe
from uet.state.store import Store
from uet.state.tables import daemon_leases

LEADER = "daemon"
"""The name of the one lease (a row of ``daemon_leases``)."""

ADVISORY_KEY = 0x7565745F646D6E  # "uet_dmn": the PostgreSQL advisory lock of the leader
_POLL_S = 0.1  # how often a standby tries again


@dataclass(frozen=True, slots=True)
class Leader:
    """What the ``daemon_leases`` row says, and whether a leader holds the lock now
    (``held`` None: cannot be told from here, e.g. on PostgreSQL without asking)."""

    held: bool | None
    host: str | None = None
    pid: int | None = None
    epoch: int | None = None


class DaemonLease:
    """Leadership of ``store``'s daemon, held until :meth:`release` or this process dies."""

    def __init__(self, store: Store, lock: _FileLock | None, conn: sa.Connection | None) -> None:
        self.store = store
        self.epoch = 0
        self._lock = lock
        self._conn = conn

    def check(self) -> bool:
        """Whether this process still leads (PostgreSQL: the lock's session is alive)."""
        if self._conn is None:
            return self._lock is not None
        try:
            self._conn.execute(sa.text("SELECT 1")).scalar()
        except sa.exc.DBAPIError:
            return False
        return True

    def release(self) -> None:
        """Give leadership back (idempotent): a waiting standby takes it at once."""
        lock, self._lock = self._lock, None
        conn, self._conn = self._conn, None
        if lock is not None:
            lock.release(unlink=False)
        if conn is not None:
            with contextlib.suppress(sa.exc.DBAPIError):
                conn.execute(sa.select(sa.func.pg_advisory_unlock(ADVISORY_KEY)))
            with contextlib.suppress(sa.exc.DBAPIError):
                conn.close()

    def __enter__(self) -> DaemonLease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _lock_file(store: Store) -> Any:
    database = sqlite_path(str(store.engine.url))
    if database is None:
        return None
    return database.with_name(database.name + LOCKS_SUFFIX) / "daemon.lock"


def take_leadership(
    store: Store,
    *,
    host: str,
    pid: int,
    wait: bool,
    stop: threading.Event | None = None,
    on_standby: Any = None,
) -> DaemonLease | None:
    """Lead ``store``'s daemon. With ``wait``, stay a standby until the leader dies (or
    ``stop`` is set: None); without, None at once when another daemon leads.
    ``on_standby(leader)`` is called once when this process starts waiting."""
    told = False
    while True:
        lease = _try(store)
        if lease is not None:
            _write_row(store, lease, host, pid)
            return lease
        if not wait:
            return None
        if not told and on_standby is not None:
            on_standby(leader(store))
            told = True
        if stop is not None:
            if stop.wait(_POLL_S):
                return None
        else:
            threading.Event().wait(_POLL_S)


def _try(store: Store) -> DaemonLease | None:
    path = _lock_file(store)
    if path is not None:
        try:
            lock = _FileLock.take(path, 0.0)
        except OSError as error:
            raise StoreError(f"{path}: the daemon's lock file cannot be made: {error}") from None
        return None if lock is None else DaemonLease(store, lock, None)
    if store.dialect != "postgresql":
        raise StoreError(
            f"{store.url}: the daemon needs a SQLite database file or PostgreSQL "
            "(an in-memory database has no other process to share it with)"
        )
    with translate_errors(store.engine):
        conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(ADVISORY_KEY))).scalar()
        except BaseException:
            conn.close()
            raise
    if not got:
        conn.close()
        return None
    return DaemonLease(store, None, conn)


def _write_row(store: Store, lease: DaemonLease, host: str, pid: int) -> None:
    try:
        with store.transaction() as tx:
            row = tx.conn.execute(
                sa.select(daemon_leases.c.epoch).where(daemon_leases.c.name == LEADER)
            ).scalar()
            epoch = 1 if row is None else int(row) + 1
            values = {"host": host, "pid": pid, "epoch": epoch, "expires_at": 0.0}
            if row is None:
                tx.conn.execute(sa.insert(daemon_leases).values(name=LEADER, **values))
            else:
                tx.conn.execute(
                    sa.update(daemon_leases).where(daemon_leases.c.name == LEADER).values(values)
                )
    except BaseException:
        lease.release()
        raise
    lease.epoch = epoch


def leader(store: Store) -> Leader:
    """Who leads, as the row says; ``held`` from the lock where it can be asked."""
    with store.reader() as tx:
        row = tx.conn.execute(
            sa.select(daemon_leases).where(daemon_leases.c.name == LEADER)
        ).first()
    path = _lock_file(store)
    held = None if path is None else _probe(path)
    if row is None:
        return Leader(held)
    return Leader(held, host=row.host, pid=row.pid, epoch=row.epoch)
