"""File triggers with the real daemon and the kernel's notifications: a save fires, a
burst of 2,000 writes gives one run (plus at most one queued), and a workstream writing its
own logs and declared outputs fires nothing."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from uet.state import fires as ledger

from .helpers import run, start, store_of, wait_until, write_project


def _fires(db: str) -> list[ledger.FireRecord]:
    with store_of(db).reader() as tx:
        return ledger.list_fires(tx, trigger_id="src")


def _daemon(tmp_path: Path, toml: str) -> tuple[Path, str, Path, object]:
    root = write_project(tmp_path / "project", toml)
    (root / "src").mkdir()
    db = f"sqlite:///{tmp_path / 'state.db'}"
    log = tmp_path / "daemon.log"  # outside the watched project
    daemon = start(root, db, "daemon", "--json", log=log)
    wait_until(lambda: '"leading"' in log.read_text(), 60)
    time.sleep(0.5)  # the watcher's first scan
    return root, db, log, daemon


@pytest.mark.slow
def test_each_save_fires_once(tmp_path: Path) -> None:
    """Saves a second apart: each gives one fire (or a skip while the last run goes)."""
    toml = """
[triggers.src]
files = ["src/**/*.txt"]
debounce = "50ms"
target = { exec = ["true"] }
"""
    root, db, _log, daemon = _daemon(tmp_path, toml)
    try:
        for n in range(5):
            (root / "src" / f"f{n}.txt").write_text("x")
            wait_until(lambda n=n: len(_fires(db)) == n + 1, 30)
            time.sleep(0.3)
        (root / "src" / "ignored.md").write_text("not a .txt")
        time.sleep(1.0)
        assert len(_fires(db)) == 5
    finally:
        daemon.send_signal(signal.SIGTERM)  # type: ignore[attr-defined]
        daemon.wait(timeout=30)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_burst_of_two_thousand_writes_is_one_run(tmp_path: Path) -> None:
    toml = """
[triggers.src]
files = ["src/**"]
overlap = "queue"
target = { exec = ["sleep", "1"] }
"""
    root, db, _log, daemon = _daemon(tmp_path, toml)
    try:
        for n in range(2000):
            (root / "src" / f"f{n % 500}.txt").write_text(str(n))
        wait_until(lambda: _fires(db), 30)
        time.sleep(3.0)  # longer than the debounce window, the watcher's batch and a tick
        started = [f for f in _fires(db) if f.run_id is not None]
        assert 1 <= len(started) <= 2  # one run, plus at most one queued
    finally:
        daemon.send_signal(signal.SIGTERM)  # type: ignore[attr-defined]
        daemon.wait(timeout=30)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_workstream_writing_its_logs_and_outputs_fires_nothing(tmp_path: Path) -> None:
    """A trigger on every file of the project whose workstream writes its output file
    (declared in files_scope) and logs: its run (fired by hand) fires no second run."""
    toml = """
[triggers.src]
files = ["**"]
overlap = "allow"
target = { workstreams = ["build.yaml"] }
"""
    tmp_path.mkdir(exist_ok=True)
    root = write_project(tmp_path / "project", toml)
    (root / "out").mkdir()
    (root / "build.yaml").write_text(
        "id: ws-build\ntasks:\n  - id: write\n"
        "    run: 'for i in 1 2 3 4 5; do echo line $i; echo $i > out/result.txt; done'\n"
        "    files_scope: [out/**]\n"
    )
    db = f"sqlite:///{tmp_path / 'state.db'}"
    log = tmp_path / "daemon.log"
    daemon = start(root, db, "daemon", "--json", log=log)
    try:
        wait_until(lambda: '"leading"' in log.read_text(), 60)
        time.sleep(0.5)
        fired = run(root, db, "triggers", "fire", "src", "--json")
        assert fired.returncode == 0, fired.stderr
        run_id = json.loads(fired.stdout)["run_id"]
        store = store_of(db)

        def ended() -> bool:
            with store.reader() as tx:
                found = tx.get_run(run_id)
            return found is not None and found.status.finished

        wait_until(ended, 60)
        assert (root / "out" / "result.txt").read_text().strip() == "5"
        time.sleep(2.0)  # debounce window, watcher batch and ticks
        assert [f.fire_key.split(":")[0] for f in _fires(db)] == ["manual"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
