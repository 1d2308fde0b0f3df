"""Ctrl-C (SIGINT) or SIGTERM to ``uet run``: a clean, resumable stop.

The orchestrator kills what runs, records those attempts ``canceled`` (a user's stop, not a
verdict: no retry is used up), marks the run ``interrupted`` and exits 130; ``uet resume``
then finishes the run, even for tasks that have no retry at all.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.engine.procs import (
    Project,
    kill_run_processes,
    run_processes,
    stop,
    unique_run_id,
    wait_until,
)

WAITS_FOR_GO = """\
id: w
tasks:
  - id: quick
    run: "true"
  - id: a
    run: test -f go || sleep 1000
  - id: b
    run: test -f go || sleep 1000
  - id: after
    run: "true"
    depends_on: [a, b, quick]
"""
"""``a`` and ``b`` (retries: 0, the default) block until the file ``go`` exists: they are
surely running when the signal comes, and finish at once when resumed."""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_interrupts_the_run_and_resume_finishes_it(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """Pins the interrupt contract: exit 130 with a resume hint; the run ``interrupted``; the
    attempts that ran ``canceled`` and not counted (``uet status`` shows 0 attempts used);
    no process of the run left; the finished task is not run again; ``uet resume`` finishes
    the run (exit 0) although ``a`` and ``b`` have no retries."""
    project = Project.create(tmp_path)
    project.write("ws.yaml", WAITS_FOR_GO)
    run_id = unique_run_id("interrupt")
    proc = project.start("run", "ws.yaml", "--run-id", run_id, "-j", "3", log="run")
    try:
        started = wait_until(
            lambda: (
                len(run_processes(run_id)) == 4  # a and b: sh and its sleep
                and project.sql(
                    "SELECT state FROM attempts WHERE run_id = ? ORDER BY task_id", (run_id,)
                )
                == [("running",), ("running",), ("succeeded",)]
            ),
            timeout=30,
        )
        assert started, "a and b never ran (or quick never finished)"

        os.kill(proc.pid, signum)

        assert proc.wait(timeout=30) == 130
        assert run_processes(run_id) == {}
        output = (tmp_path / "run.out").read_text()
        assert f"uet resume {run_id}" in output
        assert project.run_status(run_id) == "interrupted"
        assert project.sql(
            "SELECT task_id, state FROM attempts WHERE run_id = ? ORDER BY task_id", (run_id,)
        ) == [("w/a", "canceled"), ("w/b", "canceled"), ("w/quick", "succeeded")]
        status = project.uet_json("status", run_id)
        assert status["status"] == "interrupted"  # status does not take it for a crash
        used = {t["id"]: (t["status"], t["attempts"]) for t in status["tasks"]}
        assert used["w/a"] == used["w/b"] == ("pending", 0)

        (project.root / "go").touch()
        resumed = project.uet("resume", run_id, "--json")

        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert json.loads(resumed.stdout)["status"] == "succeeded"
        assert project.sql(
            "SELECT task_id, group_concat(state, ' ') FROM "
            "(SELECT task_id, state FROM attempts WHERE run_id = ? ORDER BY id) "
            "GROUP BY task_id ORDER BY task_id",
            (run_id,),
        ) == [
            ("w/a", "canceled succeeded"),
            ("w/after", "succeeded"),
            ("w/b", "canceled succeeded"),
            ("w/quick", "succeeded"),
        ]
        assert project.sql(
            "SELECT id, status, attempts_used FROM tasks WHERE run_id = ? ORDER BY id", (run_id,)
        ) == [(f"w/{t}", "succeeded", 1) for t in ("a", "after", "b", "quick")]
    finally:
        stop(proc)
        kill_run_processes(run_id)
