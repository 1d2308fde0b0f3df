"""Run leases (``uet.state.lease``): one orchestrator per run, and only a dead one loses it.

SQLite: a flock that a live (even stopped) process keeps and the kernel drops with it; its
file is not inherited by task processes. PostgreSQL: a row timed by the database's clock,
taken over once expired, with an epoch that fences the former owner's next transaction.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from tests.engine.procs import alive, wait_until
from uet.errors import LeaseHeldError, LeaseLostError
from uet.state.lease import lease_owner, lock_path, take_lease
from uet.state.records import RunRecord
from uet.state.store import Store
from uet.states import RunStatus

HOLDER = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from uet.state.lease import take_lease
    from uet.state.store import Store
    store = Store.open(sys.argv[1])
    lease = take_lease(store, sys.argv[2], host="here", pid=os.getpid())
    child = subprocess.Popen(["sleep", "60"])  # a task's process, outliving its orchestrator
    print(child.pid, flush=True)
    time.sleep(60)
    """
)


def _new_run(store: Store, run_id: str) -> None:
    with store.transaction() as tx:
        tx.create_run(RunRecord(id=run_id, status=RunStatus.RUNNING, created_at=time.time()))


def _holder(url: str, run_id: str) -> tuple[subprocess.Popen[str], int]:
    """A process that holds the run's lease and has a child; (it, the child's pid)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, run_id], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def test_sqlite_lock_is_held_while_the_owner_lives_and_dropped_when_it_dies(
    sqlite_url: str,
) -> None:
    """Another process's lease refuses a take (naming its pid and host), survives SIGSTOP,
    and is free the moment its owner is SIGKILLed, though the owner's child (not given the
    lock file) still lives."""
    store = Store.open(sqlite_url)
    _new_run(store, "r1")
    proc, child = _holder(sqlite_url, "r1")
    try:
        with pytest.raises(LeaseHeldError) as held:
            take_lease(store, "r1", host=socket.gethostname(), pid=os.getpid())
        assert (held.value.pid, held.value.host) == (proc.pid, "here")
        assert f"pid {proc.pid} on here" in str(held.value)
        os.kill(proc.pid, signal.SIGSTOP)
        assert lease_owner(store, "r1").held is True
        with pytest.raises(LeaseHeldError):
            take_lease(store, "r1", host=socket.gethostname(), pid=os.getpid(), wait=0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert alive(child)  # the orphaned task process did not keep the lock
        assert lease_owner(store, "r1").held is False
        with take_lease(store, "r1", host=socket.gethostname(), pid=os.getpid()) as lease:
            assert lease.epoch == 2
            assert lease_owner(store, "r1").held is True
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        os.kill(child, signal.SIGKILL)
    store.close()


def test_finished_run_lock_file_goes_and_a_readonly_look_creates_nothing(
    sqlite_url: str,
) -> None:
    """A released lease of an ended run removes its lock file; looking at a run with no lock
    file (an older uet's run) creates none and says there is no lease to ask."""
    store = Store.open(sqlite_url)
    _new_run(store, "r2")
    path = lock_path(store, "r2")
    assert path is not None
    assert lease_owner(store, "r2").held is None
    assert not path.exists()
    lease = take_lease(store, "r2", host="h", pid=1)
    assert path.exists()
    lease.release(finished=True)
    assert not path.exists()
    assert lease_owner(store, "r2").held is None
    store.close()


def test_odd_run_ids_get_a_lock_file_inside_the_locks_folder(sqlite_url: str) -> None:
    """A run id with a slash or dots never names a file outside the locks folder."""
    store = Store.open(sqlite_url)
    for run_id in ("../../x", "/abs/olute", ".hidden"):
        path = lock_path(store, run_id)
        assert path is not None
        assert path.parent.name == "state.db-locks"
        assert "/" not in path.name
        assert not path.name.startswith(".")
    store.close()


@pytest.mark.postgres
def test_postgres_lease_expires_is_taken_over_and_fences_the_former_owner(pg_url: str) -> None:
    """PostgreSQL: a live lease refuses a take; once expired (the database's clock) another
    owner takes it with the next epoch, and the former owner's next fenced transaction
    raises LeaseLostError naming the new owner and commits nothing of what it wrote."""
    first = Store.open(pg_url)
    second = Store.open(pg_url)
    _new_run(first, "r3")
    old = take_lease(first, "r3", host="a", pid=111, ttl=0.3)
    assert (old.epoch, old.fresh) == (1, True)
    with first.fenced(old.renew), first.transaction() as tx:
        tx.heartbeat("r3", 1.0)  # renewed: still the owner
    with pytest.raises(LeaseHeldError) as held:
        take_lease(second, "r3", host="b", pid=222, ttl=30)
    assert (held.value.pid, held.value.host) == (111, "a")
    assert wait_until(lambda: lease_owner(second, "r3").held is False, timeout=30)
    new = take_lease(second, "r3", host="b", pid=222, ttl=30)
    assert new.epoch == old.epoch + 1
    with pytest.raises(LeaseLostError) as lost, first.fenced(old.renew), first.transaction() as tx:
        tx.heartbeat("r3", 2.0)
    assert (lost.value.pid, lost.value.host, lost.value.epoch) == (222, "b", old.epoch)
    assert "lost its lease" in str(lost.value)
    with second.reader() as tx:
        run = tx.get_run("r3")
    assert run is not None
    assert run.heartbeat_at == 1.0  # the fenced write was rolled back
    with second.fenced(new.renew), second.transaction() as tx:
        tx.heartbeat("r3", 3.0)  # the new owner writes on
    old.release()  # not ours any more: changes nothing
    assert lease_owner(second, "r3").held is True
    new.release(finished=True)
    assert lease_owner(second, "r3").held is False
    first.close()
    second.close()
