"""A dead orchestrator's tool slots (``max_parallel`` leases) are given back on reconcile,
also when it ran on another host (a container, another machine): nothing else can tell."""

from __future__ import annotations

from pathlib import Path

from uet.clock import SystemClock
from uet.engine.recovery import reconcile
from uet.state import ledgers
from uet.state.records import RunRecord
from uet.state.store import Store
from uet.states import RunStatus


def test_reconcile_releases_the_leases_of_a_dead_orchestrator_on_another_host(
    tmp_path: Path,
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    silent_since = SystemClock().now() - 3600  # no heartbeat for an hour
    with store.transaction() as tx:
        tx.create_run(RunRecord("r1", RunStatus.RUNNING, created_at=silent_since))
        tx.claim_run("r1", host="elsewhere", pid=4242, at=silent_since)
        for _ in range(2):
            assert ledgers.acquire_lease(
                tx, "claude", holder="elsewhere:4242:ab12", limit=2, at=silent_since
            )
        ledgers.acquire_lease(tx, "claude", holder="elsewhere:999:cd34", limit=3, at=silent_since)
    with store.reader() as tx:
        assert ledgers.count_leases(tx) == {"claude": 3}

    done = reconcile(store, "r1", SystemClock())

    assert done is not None
    with store.reader() as tx:
        assert ledgers.count_leases(tx) == {"claude": 1}  # another process's lease stays
        run = tx.get_run("r1")
    assert run is not None
    assert run.status is RunStatus.INTERRUPTED
    store.close()
