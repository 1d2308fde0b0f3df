"""Overlap policies with the real daemon: a 5 s job every second for 30 s (the issue's
figure).

skip: no two runs' tasks overlap; queue: never more than one run waits, and none starts
while another runs; replace: the replaced run is canceled, its process group (which
ignores SIGTERM, so only the SIGKILL at the trigger's grace ends it) is dead no sooner
than grace and within grace + 1 s of the fire that replaced it; allow: one run per tick,
none skipped."""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path

import pytest

from uet.state import fires as ledger
from uet.state.store import Store

from .helpers import start, store_of, wait_until, write_project

WINDOW_S = 30.0
JOB_S = 5
GRACE_S = 2.0


def _toml(policy: str) -> str:
    job = f'["sleep", "{JOB_S}"]'
    if policy == "replace":  # deaf to SIGTERM: the grace decides when it dies
        job = f"""["sh", "-c", "trap '' TERM; sleep {JOB_S}"]"""
    return f"""
[triggers.job]
every = "1s"
overlap = "{policy}"
grace = "{GRACE_S:g}s"
target = {{ exec = {job} }}
"""


def _attempts(store: Store) -> list[tuple[str, float, float | None, int | None]]:
    with store.reader() as tx:
        runs = tx.list_runs(limit=1000)
        out = []
        for run in runs:
            for attempt in tx.get_attempts(run.id):
                out.append((run.id, attempt.started_at or 0.0, attempt.ended_at, attempt.pgid))
    return out


def _overlaps(spans: list[tuple[str, float, float | None, int | None]]) -> int:
    ordered = sorted((start, end or float("inf")) for _r, start, end, _p in spans)
    return sum(1 for a, b in itertools.pairwise(ordered) if b[0] < a[1])


def _queued(store: Store) -> int:
    """Fires recorded but not launched (waiting behind a running run)."""
    with store.reader() as tx:
        return len(ledger.list_fires(tx, statuses=[ledger.FireStatus.FIRED]))


def _group_alive(pgid: int) -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["skip", "queue", "replace", "allow"])
def test_overlap_policy(policy: str, tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", _toml(policy))
    db = f"sqlite:///{tmp_path / 'state.db'}"
    log = root / "daemon.log"
    daemon = start(root, db, "daemon", "--json", "--drain", log=log)
    store = store_of(db)
    most_queued = 0
    try:
        wait_until(lambda: '"fired"' in log.read_text(), 60)
        deadline = time.monotonic() + WINDOW_S
        while time.monotonic() < deadline:
            most_queued = max(most_queued, _queued(store))
            time.sleep(0.1)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=120) == 0
    with store.reader() as tx:
        fires = ledger.list_fires(tx, trigger_id="job")
        runs = {r.id: r for r in tx.list_runs(limit=1000)}
    spans = _attempts(store)
    fired = [f for f in fires if f.run_id is not None]
    skipped = [f for f in fires if f.status is ledger.FireStatus.SKIPPED]
    if policy == "skip":
        assert _overlaps(spans) == 0
        assert skipped
        assert all(r.startswith("overlap:") for r in (f.reason or "" for f in skipped))
    elif policy == "queue":
        assert most_queued <= 1
        assert _overlaps(spans) == 0
        assert any("queued already" in (f.reason or "") for f in skipped)
    elif policy == "replace":
        canceled = [r for r in runs.values() if r.status.value == "canceled"]
        assert canceled
        fired_at = sorted(f.fired_at for f in fired)
        for run_id, began, end, pgid in spans:
            if runs[run_id].status.value != "canceled":
                continue
            assert end is not None
            replaced_by = min(t for t in fired_at if t > runs[run_id].created_at)
            since = max(replaced_by, began)  # an attempt may start after the fire
            assert GRACE_S - 0.1 <= end - since <= GRACE_S + 1.0, (run_id, end - since)
            assert pgid is None or not _group_alive(pgid)
    else:
        assert skipped == []
        assert len(fired) >= WINDOW_S - 1  # one run per tick of the window
        assert _overlaps(spans) > 0
    assert all(r.status.finished for r in runs.values())
