"""Catch-up after a 1 h outage, with a fake clock: exact counts per policy, each skip a
ledger row, a trigger.skipped event and a decision; nothing before the daemon first saw
the trigger."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from uet.spec.triggers import load_triggers
from uet.state import fires as ledger
from uet.state.store import Store
from uet.triggers.daemon import Daemon

from .helpers import settings_of, write_project

T0 = 1_800_000_000.0  # a multiple of 300: every 5 minutes' slots are T0 + k * 300
TOML = """
[triggers.skip]
every = "5m"
catchup = "skip"
overlap = "allow"
target = { exec = ["true"] }

[triggers.latest]
every = "5m"
catchup = "latest"
overlap = "allow"
target = { exec = ["true"] }

[triggers.all]
every = "5m"
catchup = "all"
max_catchup = 5
overlap = "allow"
target = { exec = ["true"] }
"""


@dataclass
class FakeClock:
    t: float

    def now(self) -> float:
        return self.t


def _daemon(root: Path, db: str, clock: FakeClock) -> Daemon:
    settings = settings_of(root, db)
    store = Store.open(db)
    daemon = Daemon(settings, store, load_triggers(settings), clock=clock)
    daemon.start()
    return daemon


def _counts(store: Store) -> Counter[tuple[str, str]]:
    with store.reader() as tx:
        return Counter((f.trigger_id, f.status.value) for f in ledger.list_fires(tx))


@pytest.mark.slow
def test_catch_up_counts_after_a_one_hour_outage(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", TOML)
    db = f"sqlite:///{tmp_path / 'state.db'}"
    clock = FakeClock(T0 + 10)
    first = _daemon(root, db, clock)
    assert first.tick() == []  # the slot at T0 is before the daemon first saw the triggers
    clock.t = T0 + 300 + 10
    fired = first.tick()
    assert sorted((f.trigger_id, f.outcome) for f in fired) == [
        ("all", "fired"),
        ("latest", "fired"),
        ("skip", "fired"),
    ]
    assert first.launcher is not None
    assert first.launcher.wait(120)
    # the daemon is down for an hour; a new one starts 2 minutes after a slot
    clock.t = T0 + 300 + 3600 + 120
    second = _daemon(root, db, clock)
    second.tick()
    assert second.launcher is not None
    assert second.launcher.wait(120)
    missed = 12  # slots T0+600 … T0+3900
    counts = _counts(second.store)
    launched = {t: counts[(t, "launched")] - 1 for t in ("skip", "latest", "all")}
    skipped = {t: counts[(t, "skipped")] for t in ("skip", "latest", "all")}
    # skip: the newest slot is 120 s late (not on time): nothing runs
    assert launched == {"skip": 0, "latest": 1, "all": 5}
    assert skipped == {"skip": missed, "latest": missed - 1, "all": missed - 5}
    with second.store.reader() as tx:
        events = tx.get_events(types="trigger.skipped")
        reasons = Counter(e.payload["reason"] for e in events)
        decisions = Counter(d.chosen for d in tx.get_decisions(category="trigger"))
    assert reasons == {"catchup=skip": 12, "catchup=latest": 11, "max_catchup": 7}
    assert decisions == {"fire": 3 + 6, "skip": 30}
    # a third look at the same moment changes nothing: every key is in the ledger
    assert [f for f in second.tick() if f.outcome != "duplicate"] == []
    assert _counts(second.store) == counts
