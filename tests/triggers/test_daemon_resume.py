"""``uet daemon`` reconciles interrupted runs at its start and resumes the ones its
triggers started: after a kill -9 of the daemon together with the run's orchestrator and
its task (a reboot, a cgroup killed whole), the next daemon finishes the run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import pytest

from uet.states import RunStatus

from .helpers import kill9, run, start, store_of, wait_until, write_project

TOML = """
[triggers.job]
event = "never.happens"
target = { exec = ["sh", "-c", "sleep 3; echo done"] }
"""


def _processes_of(run_id: str) -> list[int]:
    """Every process whose environment names ``run_id`` (its task), and the run's
    orchestrator and executor (``uet launch RUN_ID`` / ``uet resume``)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if f"UET_RUN_ID={run_id}".encode() in environ.split(b"\0") or run_id.encode() in cmdline:
            found.append(int(entry))
    return found


@pytest.mark.slow
def test_a_run_interrupted_with_its_daemon_is_resumed_by_the_next(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", TOML)
    db = f"sqlite:///{tmp_path / 'state.db'}"
    store = store_of(db)
    daemon = start(root, db, "daemon", "--json", log=root / "first.log")
    wait_until(lambda: (root / "first.log").read_text().startswith("{"), 60)
    fired = run(root, db, "triggers", "fire", "job", "--json")
    assert fired.returncode == 0, fired.stderr
    run_id = json.loads(fired.stdout)["run_id"]

    def attempt_running() -> bool:
        with store.reader() as tx:
            return any(a.pgid for a in tx.get_attempts(run_id))

    wait_until(attempt_running, 60, step=0.1)
    kill9(daemon)  # the daemon, then everything of the run: nothing drives it any more
    for pid in _processes_of(run_id):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not _processes_of(run_id), 10)

    again = start(root, db, "daemon", "--json", "--drain", log=root / "second.log")
    try:

        def ended() -> bool:
            with store.reader() as tx:
                record = tx.get_run(run_id)
            return (
                record is not None
                and record.status.finished
                and record.status.value != ("interrupted")
            )

        wait_until(ended, 120, step=0.2)
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=60) == 0
    with store.reader() as tx:
        record = tx.get_run(run_id)
        types = [e.type for e in tx.get_events(run_id)]
        attempts = tx.get_attempts(run_id)
    assert record is not None
    assert record.status is RunStatus.SUCCEEDED
    assert "run.interrupted" in types or "run.reconciled" in types or "task.lost" in types, types
    assert types.count("run.resumed") == 1
    assert attempts[-1].exit_code == 0
    reports = [json.loads(line) for line in (root / "second.log").read_text().splitlines()]
    assert {"resumed": run_id, "trigger": "job"} in reports
