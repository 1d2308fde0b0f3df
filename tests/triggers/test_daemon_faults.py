"""Faults the daemon must survive without looping: a run its launch refuses, and triggers on
trigger.skipped that would skip each other's skips forever."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from uet.clock import SystemClock
from uet.spec.triggers import load_triggers
from uet.state import fires as ledger
from uet.state.store import Store
from uet.triggers.daemon import Daemon

from .helpers import settings_of, start, store_of, wait_until, write_project

GOOD = '[triggers.job]\nevent = "never.happens"\ntarget = { exec = ["true"] }\n'


@pytest.mark.slow
def test_a_run_its_launch_refuses_is_failed_once_not_relaunched(tmp_path: Path) -> None:
    """The project's config breaks after a fire was recorded: `uet launch` exits 2, the fire
    becomes failed with the reason, and later ticks do not start it again."""
    root = write_project(tmp_path / "project", GOOD)
    db = f"sqlite:///{tmp_path / 'state.db'}"
    settings = settings_of(root, db)
    store = Store.open(db)
    daemon = Daemon(settings, store, load_triggers(settings), clock=SystemClock())
    daemon.start()
    fired = daemon.firing.fire(daemon.triggers["job"], "manual:x", reason="test")
    assert fired.run_id is not None
    (root / "uet.toml").write_text(GOOD + "\n[run]\nno_such_setting = 1\n")
    daemon.tick()  # starts the run's launch, which refuses the config
    assert daemon.launcher is not None

    def failed() -> bool:
        daemon.tick()
        with store.reader() as tx:
            fire = ledger.get_fire(tx, "job", "manual:x")
        return fire is not None and fire.status is ledger.FireStatus.FAILED

    wait_until(failed, 60, step=0.2)
    for _ in range(10):  # a few more seconds of ticks: no second launch
        daemon.tick()
        time.sleep(0.2)
    assert not daemon.launcher.running()
    log = (settings.home / "logs" / fired.run_id / "launch.log").read_text()
    assert log.count("uet: error") == 1
    with store.reader() as tx:
        fire = ledger.get_fire(tx, "job", "manual:x")
    assert fire is not None
    assert "uet launch exited 2" in (fire.reason or "")


@pytest.mark.slow
def test_triggers_on_skips_do_not_skip_their_own_skips_forever(tmp_path: Path) -> None:
    """A trigger on trigger.skipped whose own fires are skipped (overlap) writes no
    trigger.skipped of its own (the loader refuses a trigger that would see its own; two
    that see each other's would skip forever): its ledger rows, one per skip it saw."""
    toml = """
[triggers.tick]
every = "1s"
target = { exec = ["sleep", "3"] }

[triggers.skips]
event = "trigger.skipped"
where = { trigger = "tick" }
target = { exec = ["sleep", "3"] }
"""
    root = write_project(tmp_path / "project", toml)
    db = f"sqlite:///{tmp_path / 'state.db'}"
    log = tmp_path / "daemon.log"
    daemon = start(root, db, "daemon", "--json", "--drain", log=log)
    try:
        wait_until(lambda: '"skipped"' in log.read_text(), 60)
        time.sleep(4.0)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0
    store = store_of(db)
    with store.reader() as tx:
        events = tx.get_events(types="trigger.skipped")
        rows = ledger.list_fires(tx, trigger_id="skips")
    own = [e for e in events if e.payload.get("trigger") == "skips"]
    assert own == []
    assert 1 <= len(rows) <= len(events)
    assert [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
