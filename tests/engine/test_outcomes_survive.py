"""Outcomes survive the orchestrator (issue 9, finding 4): ``uet run`` killed with SIGKILL at
a random moment leaves its executor process to finish the running tasks and journal their
outcomes; ``uet resume`` alone then completes the run, adopting those outcomes: a task that
exited 0 is never run again nor marked ``lost``, with ``retries: 0``. Every task appends its
id to a ledger file as its last act, so a re-execution shows as a second line.

Real ``python -m uet`` processes, real shells, a real SQLite file, /proc for orphans.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
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

TASKS = 50
CONCURRENCY = "4"
SLEEPS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def ledger_dag(rng: random.Random) -> str:
    """50 tasks, ``retries: 0`` (the default): five layers, each task depending on one or two
    of the layer before; each sleeps a little, then appends its id to ``ledger-<run>``."""
    layers = [[f"l{k}-{i:02d}" for i in range(10)] for k in range(TASKS // 10)]
    lines = ["id: ledger", "tasks:"]
    for k, layer in enumerate(layers):
        for name in layer:
            lines.append(f"  - id: {name}")
            sleep = rng.choice(SLEEPS)
            lines.append(f'    run: sleep {sleep}; echo "$UET_TASK_ID" >> "ledger-$UET_RUN_ID"')
            if k:
                deps = sorted(rng.sample(layers[k - 1], rng.randint(1, 2)))
                lines.append(f"    depends_on: [{', '.join(deps)}]")
    return "\n".join(lines) + "\n"


@dataclass
class Cycle:
    run_id: str
    killed: bool  # the SIGKILL hit the orchestrator (it had not finished yet)
    ledger: Counter[str]  # task id -> executions that reached their last line
    states: Counter[str]  # attempt state -> attempts
    adopted: int  # outcomes resume took from the journal (finished after the kill)


def _cycle(project: Project, rng: random.Random, cycle: int) -> Cycle:
    """One run, one SIGKILL of its orchestrator at a random moment, then `uet resume` once."""
    run_id = unique_run_id(f"survive{cycle}")
    proc: subprocess.Popen[bytes] | None = None
    try:
        proc = project.start(
            "run", "dag.yaml", "--run-id", run_id, "-j", CONCURRENCY, log="survive"
        )
        # A random moment once the run is recorded (a kill before that kills nothing but
        # start-up, which is the slow part on a loaded machine and proves nothing here).
        assert wait_until(lambda: project.run_status(run_id) is not None, 60), "never recorded"
        wait_until(lambda p=proc: p.poll() is not None, rng.uniform(0.0, 2.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = proc.returncode == -signal.SIGKILL
        if project.run_status(run_id) != "succeeded":
            done = project.uet("resume", run_id, "-j", CONCURRENCY, "--json", timeout=180)
            assert done.returncode == 0, done.stdout + done.stderr
        assert project.run_status(run_id) == "succeeded"
        assert wait_until(lambda: run_processes(run_id) == {}, 5.0), "orphans of the run"
    finally:
        if proc is not None:
            stop(proc)
        kill_run_processes(run_id)
    ledger = Counter((project.root / f"ledger-{run_id}").read_text().split())
    states = Counter(
        state for (state,) in project.sql("SELECT state FROM attempts WHERE run_id = ?", (run_id,))
    )
    adopted = project.sql(
        "SELECT count(*) FROM events WHERE run_id = ? AND type = 'task.completed' "
        "AND payload LIKE '%\"adopted\":true%'",
        (run_id,),
    )[0][0]
    return Cycle(run_id, killed, ledger, states, adopted)


def _check(project: Project, cycles: int, seed: int) -> None:
    project.write("dag.yaml", ledger_dag(random.Random(seed)))
    rng = random.Random(seed)
    results = [_cycle(project, rng, n) for n in range(cycles)]
    twice = {
        r.run_id: sorted(k for k, n in r.ledger.items() if n > 1)
        for r in results
        if any(n > 1 for n in r.ledger.values())
    }
    assert twice == {}, "tasks that exited 0 ran again after the crash"
    for r in results:
        assert len(r.ledger) == TASKS, r
        assert r.states["succeeded"] == TASKS, r
        assert r.states["lost"] == 0, r
        assert r.states["failed"] == 0, r
    assert sum(r.killed for r in results) >= cycles // 2, "too few kills hit a run"
    assert sum(r.adopted for r in results) > 0, "no kill caught a task running: proved nothing"
    assert project.sql("PRAGMA integrity_check") == [("ok",)]
    assert project.sql("PRAGMA foreign_key_check") == []


def test_sigkill_of_the_orchestrator_then_resume_reruns_nothing_that_succeeded(
    tmp_path: Path,
) -> None:
    """Pins finding 4 (5 cycles): after a kill -9 of `uet run`, `uet resume` alone completes
    the run; 0 re-executions of attempts that exited 0 (ledger); 0 attempts lost or failed
    with `retries: 0`; 0 orphans; the database intact."""
    _check(Project.create(tmp_path), cycles=5, seed=9)


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_a_hundred_sigkills_of_the_orchestrator_lose_no_outcome(tmp_path: Path) -> None:
    """Must show (issue 9): the same, 100 cycles at random moments."""
    _check(Project.create(tmp_path), cycles=100, seed=2026)


SLOW_TASK = """\
id: w
tasks:
  - id: slow
    run: while [ ! -f go ]; do sleep 0.05; done; echo done >> ledger
  - id: after
    run: echo after >> ledger
    depends_on: [slow]
"""


def test_resume_waits_for_the_previous_executor_and_adopts_its_outcome(tmp_path: Path) -> None:
    """Re-attach: the orchestrator dies while a task runs; `uet status` shows the run
    interrupted but the attempt running (never `lost`); `uet resume` says it waits for the
    previous executor process (the task goes on meanwhile), then adopts the task's real
    outcome (succeeded, run once) and runs its dependent."""
    project = Project.create(tmp_path)
    project.write("ws.yaml", SLOW_TASK)
    run_id = unique_run_id("reattach")
    proc = project.start("run", "ws.yaml", "--run-id", run_id)
    resume: subprocess.Popen[bytes] | None = None
    try:
        assert wait_until(lambda: run_processes(run_id) != {}, 20), "the task never started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        resume = project.start("resume", run_id, "--json", log="resume")
        out = tmp_path / "resume.out"
        waiting = wait_until(lambda: b"waiting for the executor process" in out.read_bytes(), 30)
        assert waiting, out.read_text()
        # the waiting resume holds the run's lease: it is the run's owner now, so the run is
        # running (not orphaned), and its task goes on under the old executor, never lost
        status = project.uet_json("status", run_id)
        assert status["status"] == "running"
        # never lost (its start may not have been recorded before the kill)
        [(state,)] = project.sql("SELECT state FROM attempts WHERE run_id = ?", (run_id,))
        assert state in ("dispatched", "running")
        assert run_processes(run_id) != {}
        (project.root / "go").touch()
        assert resume.wait(timeout=60) == 0, out.read_text()
    finally:
        stop(proc)
        if resume is not None:
            stop(resume)
        kill_run_processes(run_id)
    assert (project.root / "ledger").read_text().split() == ["done", "after"]
    rows = project.sql(
        "SELECT task_id, state, exit_code FROM attempts WHERE run_id = ? ORDER BY id", (run_id,)
    )
    assert rows == [("w/slow", "succeeded", 0), ("w/after", "succeeded", 0)]
    decisions = project.sql("SELECT category FROM decisions WHERE run_id = ?", (run_id,))
    assert ("recovery",) not in decisions  # nothing was lost, nothing forgiven


def _executor_pid(project: Project, run_id: str) -> int:
    journal = project.root / ".uet" / "runs" / run_id / "journal"
    first = journal.read_text().splitlines()[0]
    return int(json.loads(first)["pid"])


def test_an_attempt_lost_because_uet_died_uses_no_retry(tmp_path: Path) -> None:
    """Pins item 2's budget rule: the orchestrator *and* its executor process are killed
    while a `retries: 0` task runs (its outcome is unknowable: `lost`); `uet resume` runs it
    again (no retry spent) and records that as a decision."""
    project = Project.create(tmp_path)
    project.write("ws.yaml", SLOW_TASK)
    run_id = unique_run_id("lostfree")
    proc = project.start("run", "ws.yaml", "--run-id", run_id)
    try:
        assert wait_until(lambda: run_processes(run_id) != {}, 20), "the task never started"
        os.kill(_executor_pid(project, run_id), signal.SIGKILL)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kill_run_processes(run_id)  # what a reboot would do to the task
        (project.root / "go").touch()
        done = project.uet("resume", run_id, "--json", timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        stop(proc)
        kill_run_processes(run_id)
    rows = project.sql(
        "SELECT task_id, state FROM attempts WHERE run_id = ? ORDER BY id", (run_id,)
    )
    assert rows == [("w/slow", "lost"), ("w/slow", "succeeded"), ("w/after", "succeeded")]
    decisions = project.sql(
        "SELECT task_id, chosen FROM decisions WHERE run_id = ? AND category = 'recovery'",
        (run_id,),
    )
    assert decisions == [("w/slow", "run again")]


BACKGROUND = """\
id: bg
tasks:
  - id: amp
    run: sleep {m}1 & exit 0
  - id: setsid
    run: setsid sleep {m}2 & exit 0
  - id: nohup
    run: nohup sleep {m}3 >/dev/null 2>&1 & exit 0
  - id: daemon
    run: sleep {m}4 >/dev/null 2>&1 & exit 0
    keep_background: true
"""


def _argv_alive(word: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as file:
                    if word.encode() in file.read().split(b"\0"):
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_uet_run_leaves_nothing_of_its_tasks_alive_but_a_kept_daemon(tmp_path: Path) -> None:
    """Pins finding 5 at the command line: `sleep 30 & exit 0`, `setsid sleep 30 & exit 0`
    and nohup leave nothing alive 1 s after `uet run` ends (all succeeded); a task with
    `keep_background: true` keeps its daemon."""
    project = Project.create(tmp_path)
    marker = f"30.{random.randrange(10**5):05d}"
    project.write("bg.yaml", BACKGROUND.format(m=marker))
    run_id = unique_run_id("bg")
    try:
        done = project.uet("run", "bg.yaml", "--run-id", run_id, "--json", timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        time.sleep(1.0)
        assert [w for w in "123" if _argv_alive(marker + w)] == []
        assert _argv_alive(marker + "4") != []
    finally:
        for word in "1234":
            for pid in _argv_alive(marker + word):
                os.kill(pid, signal.SIGKILL)
