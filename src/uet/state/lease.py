"""Who drives a run: a lease that only a dead owner loses.

Every run has one owner, the orchestrator process (``uet run``, ``uet resume``) that holds
its lease; whoever else wants to change the run's state as a whole (``uet resume``, the
reconciling ``uet status``) must take the lease first, and cannot while the owner lives.

* **SQLite file** (one host): an exclusive ``flock`` on ``<database>-locks/<run id>.lock``,
  beside the database (whoever writes the database can write there; readers only open the
  file read-only to look, so a read-only reader never needs to create anything). The kernel
  drops the lock when its process dies, however it dies, and never while it lives: a
  SIGSTOPped owner keeps it, so nobody takes its run over. "Is the owner alive" is "can the
  lock be taken". The file is opened close-on-exec, so no task process inherits it.
* **PostgreSQL** (and an in-memory SQLite): a row of ``run_leases`` (run id, host, pid,
  epoch, expires_at) timed by the database's own clock (``now()``), never the hosts'. The
  owner renews it at the start of every write transaction of its run loop
  (:meth:`Store.fenced`), and the renewal is the fence: ``UPDATE … WHERE run_id = :run AND
  epoch = :epoch``. Another orchestrator may take a lease over once it expired, adding one
  to the epoch; the former owner's next transaction then updates no row and raises
  :class:`~uet.errors.LeaseLostError` before it wrote anything (its writes roll back), and
  the run loop stops. The row's renewal takes its row lock, so a takeover waits for the
  tick in progress to commit.

The row is written on both dialects (the epoch counts takes, the host and pid name the
owner); on a SQLite file only the lock decides. A run with neither (recorded by a uet from
before leases) has no lease to ask: :func:`lease_owner` says so (``held`` None) and the
caller falls back on the run's heartbeat.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uet import defaults
from uet.errors import LeaseHeldError, LeaseLostError, StoreError
from uet.state.store import Store, Transaction

LOCKS_SUFFIX = "-locks"
"""The folder of run locks is the database file's path plus this (``state.db-locks/``)."""

_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_RETRY_S = 0.02  # between two tries to take a held lock


@dataclass(frozen=True, slots=True)
class Owner:
    """What the lease of a run says. ``held``: True when an orchestrator holds it, False when
    nobody does (its owner died or ended), None when the run has no lease to ask."""

    held: bool | None
    pid: int | None = None
    host: str | None = None
    epoch: int | None = None


def lock_path(store: Store, run_id: str) -> Path | None:
    """The lock file of ``run_id`` beside a SQLite database file; None for other databases."""
    database = store.sqlite_file
    if database is None:
        return None
    name = run_id if _PLAIN_ID.fullmatch(run_id) else "x-" + _digest(run_id)
    return database.with_name(database.name + LOCKS_SUFFIX) / f"{name}.lock"


class RunLease:
    """A run's lease, held by this process until :meth:`release` (or its death)."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        epoch: int,
        host: str,
        pid: int,
        ttl: float,
        lock: _FileLock | None,
        fresh: bool,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.epoch = epoch
        self.host = host
        self.pid = pid
        self.ttl = ttl
        self.fresh = fresh  # the run had no lease before this one (an older uet's run)
        self._lock = lock
        self._released = False

    def renew(self, tx: Transaction) -> None:
        """Renew the lease inside ``tx``, or raise LeaseLostError when it was taken over.

        On a SQLite file this is free: nobody can take the lock from a live process."""
        if self._lock is not None:
            return
        if not tx.lease_renew(self.run_id, epoch=self.epoch, ttl=self.ttl):
            row = tx.lease_row(self.run_id)
            raise LeaseLostError(
                self.run_id,
                epoch=self.epoch,
                pid=None if row is None else row["pid"],
                host=None if row is None else row["host"],
            )

    def release(self, *, finished: bool = False) -> None:
        """Give the lease back (idempotent). ``finished``: the run ended for good, so its lock
        file goes too (unlinked while still locked: a waiting taker sees the inode change).

        The row is marked expired if it is still ours; a database that fails now changes
        nothing: the lease then expires by itself, and the lock dies with the process."""
        if self._released:
            return
        self._released = True
        if self._lock is not None:  # a lock file decides: the row need not be written (nor
            self._lock.release(unlink=finished)  # wait for a database lock on the way out)
            return
        try:
            with self.store.transaction() as tx:
                tx.lease_release(self.run_id, epoch=self.epoch)
        except StoreError:
            pass  # documented above: expiry releases it anyway

    def __enter__(self) -> RunLease:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def take_lease(
    store: Store,
    run_id: str,
    *,
    host: str,
    pid: int,
    ttl: float = defaults.RUN_LEASE_TTL_S,
    wait: float = 0.0,
    tx: Transaction | None = None,
) -> RunLease:
    """Take ``run_id``'s lease (its run row must exist, or be made in ``tx``).

    Raises :class:`LeaseHeldError` naming the owner while one lives; ``wait`` is how long to
    keep trying for the lock of a SQLite file (someone may be looking at it for a moment).
    A StoreError says the lock file could not be made (a folder this user cannot write)."""
    path = lock_path(store, run_id)
    try:
        lock = None if path is None else _FileLock.take(path, wait)
    except OSError as error:
        raise StoreError(f"{path}: the run's lock file cannot be made: {error.strerror}") from None
    if path is not None and lock is None:
        raise _held(store, run_id)
    try:
        if tx is not None:
            epoch, fresh = _claim_row(tx, run_id, host, pid, ttl, expiry=lock is None)
        else:
            with store.transaction() as own:
                epoch, fresh = _claim_row(own, run_id, host, pid, ttl, expiry=lock is None)
    except BaseException:
        if lock is not None:
            lock.release(unlink=False)
        raise
    return RunLease(store, run_id, epoch=epoch, host=host, pid=pid, ttl=ttl, lock=lock, fresh=fresh)


def lease_owner(store: Store, run_id: str) -> Owner:
    """Whether an orchestrator holds ``run_id``'s lease, without taking it (read only)."""
    path = lock_path(store, run_id)
    with store.reader() as tx:
        row = tx.lease_row(run_id)
        now = None if row is None or path is not None else tx.db_now()
    if path is not None:
        held = _probe(path)
    elif row is None or now is None:
        held = None
    else:
        held = row["expires_at"] > now
    if row is None:
        return Owner(held)
    return Owner(held, pid=row["pid"], host=row["host"], epoch=row["epoch"])


def _held(store: Store, run_id: str) -> LeaseHeldError:
    with store.reader() as tx:
        row = tx.lease_row(run_id)
    return LeaseHeldError(
        run_id, pid=None if row is None else row["pid"], host=None if row is None else row["host"]
    )


def _claim_row(
    tx: Transaction, run_id: str, host: str, pid: int, ttl: float, *, expiry: bool
) -> tuple[int, bool]:
    """Write this process into the lease row: (its epoch, whether the row is new). With
    ``expiry`` (no lock file decides), an unexpired row of another owner raises."""
    if tx.lease_claim(run_id, host=host, pid=pid, ttl=ttl):
        return 1, True
    row: Any = tx.lease_locked(run_id)
    if row is None:  # pragma: no cover - the INSERT above found it
        raise StoreError(f"run {run_id}: its lease row vanished while being taken")
    if expiry and row["expires_at"] > row["now"] and (row["host"], row["pid"]) != (host, pid):
        raise LeaseHeldError(run_id, pid=row["pid"], host=row["host"])
    epoch = int(row["epoch"]) + 1
    tx.lease_take(run_id, host=host, pid=pid, epoch=epoch, ttl=ttl)
    return epoch, False


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class _FileLock:
    """An exclusive flock on one file, held through one open file description."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def take(cls, path: Path, wait: float) -> _FileLock | None:
        """The lock, or None when another process holds it for ``wait`` seconds."""
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        deadline = time.monotonic() + wait
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= deadline:
                    return None
                time.sleep(_RETRY_S)
                continue
            except BaseException:
                os.close(fd)
                raise
            if _same_file(path, fd):
                return cls(path, fd)
            os.close(fd)  # its owner unlinked it (the run ended) after we opened it: again

    def release(self, *, unlink: bool) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if unlink:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(fd)  # drops the lock


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _probe(path: Path) -> bool | None:
    """Whether a process holds the lock at ``path``; None when there is no file to ask (or
    this user may not open it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # drops the shared lock, if we got it
    return False
