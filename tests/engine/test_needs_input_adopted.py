"""A needs_input outcome that the executor process journaled after its orchestrator died is
adopted as it is by ``uet resume``: the task fails, and is not run again (no retry, no
lost-redispatch), though it has retries left."""

from __future__ import annotations

import json
import os
import signal

import pytest

from tests.engine.procs import Project, kill_run_processes, stop, unique_run_id, wait_until


@pytest.mark.slow
def test_a_needs_input_outcome_adopted_on_resume_is_never_run_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    project = Project.create(tmp_path)
    started = project.root / "started"
    project.write(
        "ws.yaml",
        "id: ws\ntasks:\n  - id: ask\n    retries: 3\n    retry_delay: 0\n"
        f"    run: \"echo x >> {started}; sleep 1.5; printf 'Password: '; exit 1\"\n",
    )
    run_id = unique_run_id("needs-input")
    proc = project.start("run", "ws.yaml", "--run-id", run_id)
    try:
        assert wait_until(started.exists, 60), "the task never started"
        os.kill(proc.pid, signal.SIGKILL)  # the executor process goes on and journals it
        proc.wait()
        done = project.uet("resume", run_id, "--json", timeout=120)
        assert done.returncode == 1, done.stdout + done.stderr
        assert json.loads(done.stdout)["status"] == "failed"
    finally:
        stop(proc)
        kill_run_processes(run_id)
    assert started.read_text().count("x") == 1  # run once, never again
    rows = project.sql("SELECT state, error FROM attempts WHERE run_id = ?", (run_id,))
    assert [state for state, _ in rows] == ["needs_input"]
    assert "password" in rows[0][1]
    events = project.sql(
        "SELECT type FROM events WHERE run_id = ? AND type LIKE 'task.%' ORDER BY seq", (run_id,)
    )
    assert ("task.adopted",) in events
