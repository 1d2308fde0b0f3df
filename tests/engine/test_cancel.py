"""Stopping work for good: ``uet cancel`` from another process (with and without a live
orchestrator), on runs that are over or unknown, and a task's timeout. In every case the
whole process group goes, grandchildren and TERM-ignoring processes included.

Real ``python -m uet`` processes, a real SQLite file; ``/proc`` tells which processes of a
run (``UET_RUN_ID`` in their environment) are alive.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.engine.procs import (
    Project,
    kill_run_processes,
    run_processes,
    stop,
    unique_run_id,
    wait_until,
)

CANCEL_DEADLINE_S = 2.5
"""Issue 3: "cancel from another process: the run's process groups are gone within 2 s",
counted here from the launch of ``uet cancel`` (interpreter start-up included), polled with
half a second of slack for a loaded machine."""

LONG_TASKS = """\
id: w
tasks:
  - id: a
    run: sleep 1000
  - id: b
    run: sleep 1000
  - id: stubborn
    run: trap '' TERM; sleep 1000
  - id: later
    run: "true"
    depends_on: [a]
"""
RUNNING = ("w/a", "w/b", "w/stubborn")


def _start_long_run(project: Project, run_id: str) -> subprocess.Popen[bytes]:
    """``uet run`` three never-ending tasks; return once ``uet status`` shows them running and
    every one of their processes is up (``sh`` and its ``sleep``)."""
    project.write("ws.yaml", LONG_TASKS)
    proc = project.start("run", "ws.yaml", "--run-id", run_id, "-j", "3", "--json", log="run")

    def running() -> bool:
        if project.run_status(run_id) is None:
            return False
        tasks = project.uet_json("status", run_id)["tasks"]
        return {t["id"] for t in tasks if t["status"] == "running"} == set(RUNNING)

    assert wait_until(running, timeout=30, interval=0.1), "the tasks never ran"
    assert wait_until(lambda: len(run_processes(run_id)) == 2 * len(RUNNING), timeout=10)
    assert wait_until(  # their process groups are recorded
        lambda: (
            len(
                project.sql(
                    "SELECT 1 FROM attempts WHERE run_id = ? AND state = 'running' AND pgid > 0",
                    (run_id,),
                )
            )
            == len(RUNNING)
        ),
        timeout=10,
    )
    return proc


def _assert_canceled(project: Project, run_id: str) -> None:
    assert project.run_status(run_id) == "canceled"
    tasks = project.sql("SELECT id, status FROM tasks WHERE run_id = ? ORDER BY id", (run_id,))
    assert tasks == [(t, "canceled") for t in ("w/a", "w/b", "w/later", "w/stubborn")]
    attempts = project.sql(
        "SELECT task_id, state FROM attempts WHERE run_id = ? ORDER BY task_id", (run_id,)
    )
    assert attempts == [(t, "canceled") for t in RUNNING]


def test_cancel_from_another_process_kills_every_group_within_2s(tmp_path: Path) -> None:
    """Pins ``uet cancel`` against a live orchestrator: from the moment the command is
    launched, every process of the run (a TERM-ignoring one included) is gone within 2 s;
    the run and all its tasks end ``canceled``, the canceled attempts stay uncounted; the
    orchestrator exits 1 and reports the run canceled."""
    project = Project.create(tmp_path)
    run_id = unique_run_id("cancel")
    proc = _start_long_run(project, run_id)
    canceler: subprocess.Popen[bytes] | None = None
    try:
        launched = time.monotonic()
        canceler = project.start("cancel", run_id, log="cancel")
        gone = wait_until(lambda: not run_processes(run_id), timeout=CANCEL_DEADLINE_S)
        elapsed = time.monotonic() - launched
        left = run_processes(run_id)

        assert gone, f"processes of the run still alive {elapsed:.2f} s after uet cancel: {left}"
        assert canceler.wait(timeout=10) == 0
        assert proc.wait(timeout=10) == 1
        _assert_canceled(project, run_id)
        summary = project.sql("SELECT summary FROM runs WHERE id = ?", (run_id,))[0][0]
        assert json.loads(summary) == {"canceled": 4}
        report = json.loads((tmp_path / "run.out").read_text())
        assert report == {"run_id": run_id, "status": "canceled", "tasks": {"canceled": 4}}
        assert project.sql(
            "SELECT attempts_used FROM tasks WHERE run_id = ? AND id IN ('w/a', 'w/b')",
            (run_id,),
        ) == [(0,), (0,)]
    finally:
        if canceler is not None:
            stop(canceler)
        stop(proc)
        kill_run_processes(run_id)


def test_cancel_without_a_live_orchestrator_kills_the_strays_itself(tmp_path: Path) -> None:
    """Pins ``uet cancel`` of a run whose orchestrator was SIGKILLed: the command itself kills
    the orphaned groups (TERM, then KILL for the one that ignores TERM) before it returns,
    and marks the run, its tasks and its attempts canceled."""
    project = Project.create(tmp_path)
    run_id = unique_run_id("cancel-dead")
    proc = _start_long_run(project, run_id)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert len(run_processes(run_id)) == 2 * len(RUNNING)  # orphans, nobody to stop them

        done = project.uet("cancel", run_id, "--json")

        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"run_id": run_id, "status": "canceled"}
        assert run_processes(run_id) == {}
        _assert_canceled(project, run_id)
    finally:
        stop(proc)
        kill_run_processes(run_id)


def test_cancel_of_a_finished_run_reports_it_and_changes_nothing(tmp_path: Path) -> None:
    """Pins ``uet cancel`` on a run that is over: it prints the run's status, exits 0, and
    writes nothing (status, end time and event log as they were)."""
    project = Project.create(tmp_path)
    project.write("ws.yaml", 'id: w\ntasks:\n  - {id: a, run: "true"}\n')
    run_id = unique_run_id("over")
    assert project.uet("run", "ws.yaml", "--run-id", run_id, "--json").returncode == 0
    before = project.sql("SELECT status, ended_at FROM runs WHERE id = ?", (run_id,))
    events = project.sql("SELECT count(*) FROM events WHERE run_id = ?", (run_id,))

    done = project.uet("cancel", run_id)

    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout
    assert project.sql("SELECT status, ended_at FROM runs WHERE id = ?", (run_id,)) == before
    assert project.sql("SELECT count(*) FROM events WHERE run_id = ?", (run_id,)) == events
    assert before[0][0] == "succeeded"


def test_cancel_of_an_unknown_run_exits_2(tmp_path: Path) -> None:
    """Pins the usage error: ``uet cancel`` of a run id that does not exist exits 2 and
    says so, whether or not a database exists yet."""
    project = Project.create(tmp_path)
    first = project.uet("cancel", "no-such-run")
    project.write("ws.yaml", 'id: w\ntasks:\n  - {id: a, run: "true"}\n')
    assert project.uet("run", "ws.yaml", "--json").returncode == 0
    second = project.uet("cancel", "no-such-run")

    for done in (first, second):
        assert done.returncode == 2, done.stdout + done.stderr
        assert "no-such-run" in done.stderr


def test_a_timeout_kills_the_whole_group_grandchildren_included(tmp_path: Path) -> None:
    """Pins timeouts: a task whose shell started two background ``sleep 1000`` grandchildren
    ends ``timed_out`` (its task failed, the run exit 1), and when ``uet run`` returns no
    process of the run is left."""
    project = Project.create(tmp_path)
    project.write(
        "ws.yaml",
        "id: w\ntasks:\n  - id: slow\n    run: (sleep 1000 & sleep 1000 & wait)\n    timeout: 1\n",
    )
    run_id = unique_run_id("timeout")
    try:
        done = project.uet("run", "ws.yaml", "--run-id", run_id, "--json", timeout=60)

        left = run_processes(run_id)
        assert done.returncode == 1, done.stdout + done.stderr
        assert left == {}
        assert project.sql("SELECT status, outcome FROM tasks WHERE run_id = ?", (run_id,)) == [
            ("failed", "timed_out")
        ]
        assert project.sql("SELECT state FROM attempts WHERE run_id = ?", (run_id,)) == [
            ("timed_out",)
        ]
    finally:
        kill_run_processes(run_id)
