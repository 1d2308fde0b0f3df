"""A trigger's workstream files are read again when they change: an edit is what the next
fire starts, without restarting ``uet daemon``; an edit that breaks the file skips the
fires, with the error as the reason, until it is fixed."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from uet.state import fires as ledger

from .helpers import start, store_of, wait_until, write_project

TOML = """
[triggers.job]
event = "go.now"
overlap = "allow"
target = { workstreams = ["w.yaml"] }
"""


def _workstream(text: str) -> str:
    return f"id: ws\ntasks:\n  - id: write\n    run: 'echo {text} >> out.txt'\n"


@pytest.mark.slow
def test_an_edited_workstream_is_what_the_next_fire_starts(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", TOML)
    (root / "w.yaml").write_text(_workstream("first"))
    db = f"sqlite:///{tmp_path / 'state.db'}"
    store = store_of(db)
    log = root / "daemon.log"
    daemon = start(root, db, "daemon", "--json", "--drain", log=log)

    def fires() -> list[ledger.FireRecord]:
        with store.reader() as tx:
            return ledger.list_fires(tx, trigger_id="job")

    def emit_and_wait(count: int) -> None:
        # written as any run's event would be (`uet triggers fire` loads the triggers'
        # targets, and refuses the broken one)
        store.insert_events([("go.now", time.time(), None, None, None, None)])
        wait_until(lambda: len(fires()) == count, 60, step=0.1)

    def cursor() -> bool:
        with store.reader() as tx:
            return ledger.load_cursor(tx) is not None

    def lines() -> list[str]:
        return (root / "out.txt").read_text().splitlines() if (root / "out.txt").exists() else []

    try:
        wait_until(lambda: '"leading"' in log.read_text(), 60)
        wait_until(cursor, 60)  # events from before the daemon's first look are history
        emit_and_wait(1)
        wait_until(lambda: lines() == ["first"], 60, step=0.1)
        (root / "w.yaml").write_text(_workstream("second, edited"))
        emit_and_wait(2)
        wait_until(lambda: lines() == ["first", "second, edited"], 60, step=0.1)
        (root / "w.yaml").write_text("id: ws\ntasks: [{id: write, run: ")  # broken
        emit_and_wait(3)
        (root / "w.yaml").write_text(_workstream("third, fixed"))
        emit_and_wait(4)
        wait_until(lambda: lines()[-1:] == ["third, fixed"], 60, step=0.1)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0
    first, second, broken, fixed = fires()
    assert first.run_id
    assert second.run_id
    assert fixed.run_id
    assert broken.status is ledger.FireStatus.SKIPPED
    assert (broken.reason or "").startswith("target does not load: ")
    assert "w.yaml" in (broken.reason or "")
    reports = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["reloaded"] for r in reports if "reloaded" in r] == ["job", "job"]
