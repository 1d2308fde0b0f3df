"""Durable runs (DESIGN.md, "the store is the truth"): an orchestrator killed with SIGKILL at
any moment leaves a state that ``uet resume`` (or any command that touches the run) makes true
again, and the run then finishes as if nothing had happened.

Everything here is real: ``python -m uet`` processes in their own sessions, a SQLite file,
``/bin/sh`` tasks, and ``/proc`` to see which processes of a run are alive.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.engine.procs import (
    Project,
    kill_run_processes,
    run_processes,
    still_alive,
    stop,
    unique_run_id,
    wait_until,
)
from uet import defaults

SEED = 20261124
LAYERS = (5, 10, 15, 10, 6, 4)  # 50 tasks
FLAKY = "l2-07"
HANGS_ONCE = "l0-00"
"""Its first execution sleeps 30 s, so a kill finds it running (it is the first task
dispatched): the next orchestrator must kill that orphan before it starts."""
SLEEPS = (0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25)
KILLS = 14
MIN_KILLS = 10
SLEEP_RETRIES = KILLS
"""Each kill loses the attempt that runs (every lost attempt counts here), and the next
orchestrator starts the same (smallest) ready key first, 0.5-0.8 s after its own start: a
0.25 s task can be lost by a streak of kills, by every one of them in the worst case. A
budget of one retry per kill lets any streak be absorbed, so the outcome does not depend on
where the seeded-random kills land on a loaded machine; the check that no task exceeds its
budget stays exact."""
FLAKY_RETRIES = KILLS + 1
"""The flaky task fails its first execution on its own, and may be lost by every kill too."""
CONCURRENCY = "1"
"""One process at a time: ~6 s of work, so that the run outlasts ten kills at 0.2-1.5 s (each
orchestrator needs 0.5-0.8 s before it dispatches) while every task stays short; two at a
time would need tasks twice as long, lost again twice as often. (The engine also hands the
executor one attempt ahead: a kill finds it queued, never started.)"""


def chaos_dag(rng: random.Random) -> str:
    """50 tasks in layers; each depends on 1-3 tasks of the layer before (fan-in, fan-out),
    some also on the layer before that, and the first task of the last layer on the whole
    layer before it. Mixed short sleeps, one flaky task that fails its first execution, one
    task whose first execution hangs."""
    names = [[f"l{k}-{i:02d}" for i in range(n)] for k, n in enumerate(LAYERS)]
    lines = [
        "id: chaos",
        f"defaults: {{retries: {SLEEP_RETRIES}, retry_delay: 0}}",
        "tasks:",
    ]
    for k, layer in enumerate(names):
        for i, name in enumerate(layer):
            deps: set[str] = set()
            if k:
                deps.update(rng.sample(names[k - 1], rng.randint(1, 3)))
                if k >= 2 and rng.random() < 0.3:
                    deps.add(rng.choice(names[k - 2]))
            if k == len(names) - 1 and i == 0:
                deps.update(names[k - 1])
            lines.append(f"  - id: {name}")
            if name == HANGS_ONCE:
                lines.append("    run: test -f hung.flag || { touch hung.flag; sleep 30; }")
                lines.append("    timeout: 20")
            elif name == FLAKY:
                lines.append("    run: test -f flaky.flag || { touch flaky.flag; exit 1; }")
                lines.append(f"    retries: {FLAKY_RETRIES}")
            else:
                lines.append(f"    run: sleep {rng.choice(SLEEPS)}")
            if deps:
                lines.append(f"    depends_on: [{', '.join(sorted(deps))}]")
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_finishes_every_task_once(tmp_path: Path) -> None:
    """Pins the crash contract: ≥10 SIGKILLs of the orchestrator (``uet run``, then each
    ``uet resume``) at seeded-random moments, then one resume to the end. Every task ends
    succeeded with exactly one succeeded attempt; no task uses more attempts than its budget;
    no attempt is left dispatched/running; attempt numbers follow each other; no process of a
    killed orchestrator outlives the next orchestrator's start nor the run; the database is
    intact and the event log has seqs 1..n. (In-process executor, every lost attempt
    counted: reconciling itself is what this pins; test_outcomes_survive pins the default.)"""
    project = Project.create(tmp_path)
    in_process(project, free=0)
    project.write("dag.yaml", chaos_dag(random.Random(SEED)))
    run_id = unique_run_id("crash")
    rng = random.Random(SEED)
    orphans: dict[int, int] = {}  # processes alive when their orchestrator was killed
    survivors: list[tuple[int, list[int]]] = []
    kills = 0
    finished_alone = False
    proc: subprocess.Popen[bytes] | None = None
    try:
        for cycle in range(KILLS):
            status = project.run_status(run_id)
            args: tuple[str, ...]
            if status is None:  # killed before the run was recorded
                args = ("run", "dag.yaml", "--run-id", run_id, "-j", CONCURRENCY)
            elif status == "succeeded":  # the last one finished just before its kill
                break
            else:
                args = ("resume", run_id, "-j", CONCURRENCY)
            proc = project.start(*args, log="chaos")
            deadline = time.monotonic() + rng.uniform(0.2, 1.5)
            claimed = False
            while time.monotonic() < deadline and proc.poll() is None:
                row = None if claimed else project.run_row(run_id)
                if row is not None and row[1] == proc.pid:
                    claimed = True  # reconciled: the previous orchestrators' groups are dead
                    if left := still_alive(orphans):
                        survivors.append((cycle, left))
                time.sleep(0.02)
            if proc.poll() is not None:
                finished_alone = True
                break
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            orphans.update(run_processes(run_id))
        log = (tmp_path / "chaos.out").read_text(errors="replace")[-2000:]
        assert kills >= MIN_KILLS, f"the run ended after {kills} kills: give it more work"
        if finished_alone:
            assert proc is not None
            assert proc.returncode == 0, log
        elif (status := project.run_status(run_id)) != "succeeded":
            # on a loaded machine every kill may come before the run was recorded
            first = (
                ("run", "dag.yaml", "--run-id", run_id) if status is None else ("resume", run_id)
            )
            final = project.uet(*first, "-j", CONCURRENCY, "--json", timeout=90)
            assert final.returncode == 0, final.stdout + final.stderr + log
        left_at_end = run_processes(run_id)
    finally:
        if proc is not None:
            stop(proc)
        kill_run_processes(run_id)

    assert orphans, "no kill left a process behind: the orphan check proved nothing"
    assert survivors == [], "processes of a killed orchestrator outlived the next one's start"
    assert left_at_end == {}, "processes of the run are alive after it ended"
    _assert_consistent_store(project, run_id)


def _assert_consistent_store(project: Project, run_id: str) -> None:
    assert project.sql("PRAGMA integrity_check") == [("ok",)]
    assert project.sql("PRAGMA foreign_key_check") == []
    assert project.run_status(run_id) == "succeeded"

    tasks = project.sql(
        "SELECT id, status, max_attempts, attempts_used FROM tasks WHERE run_id = ?", (run_id,)
    )
    assert len(tasks) == sum(LAYERS)
    attempts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for task_id, number, state in project.sql(
        "SELECT task_id, number, state FROM attempts WHERE run_id = ? ORDER BY id", (run_id,)
    ):
        attempts[task_id].append((number, state))

    problems = []
    for task_id, status, max_attempts, used in tasks:
        states = Counter(state for _, state in attempts[task_id])
        counted = sum(n for state, n in states.items() if state != "canceled")
        numbers = [number for number, _ in attempts[task_id]]
        if status != "succeeded" or states["succeeded"] != 1:
            problems.append(f"{task_id}: {status}, attempts {dict(states)}")
        if counted > max_attempts:
            problems.append(f"{task_id}: {counted} attempts counted, budget {max_attempts}")
        if states["dispatched"] or states["running"]:
            problems.append(f"{task_id}: attempts left live: {dict(states)}")
        if numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{task_id}: attempt numbers {numbers}")
        if used != counted:
            problems.append(f"{task_id}: attempts_used {used}, counted {counted}")
    assert problems == []

    all_states = Counter(state for items in attempts.values() for _, state in items)
    assert all_states["lost"] >= 1, "no kill hit a running task: the test proved nothing"
    flaky = [state for _, state in attempts[f"chaos/{FLAKY}"]]
    assert len(flaky) >= 2, flaky  # its first execution never succeeds
    assert (project.root / "flaky.flag").exists()

    seqs = [
        seq
        for (seq,) in project.sql("SELECT seq FROM events WHERE run_id = ? ORDER BY seq", (run_id,))
    ]
    assert seqs == list(range(1, len(seqs) + 1))


SLEEPER = """\
id: w
defaults: {retry_delay: 0}
tasks:
  - id: long
    run: sleep 1000
  - id: after
    run: "true"
    depends_on: [long]
"""


IN_PROCESS = """\
[run]
executor = "local-inproc"  # tasks die with uet's thread of them: what reconciling finds
lost_redispatch_max = {free}
"""


def in_process(project: Project, *, free: int = 0) -> None:
    """Tasks run by a thread of the orchestrator (``--executor local-inproc``): when it dies,
    nothing journals their outcomes, and reconciling finds them (``lost``). ``free``: lost
    attempts that use no retry (``run.lost_redispatch_max``); 0 pins the budget itself."""
    project.write("uet.toml", IN_PROCESS.format(free=free))


def _start_and_wait_running(project: Project, run_id: str) -> subprocess.Popen[bytes]:
    """``uet run`` the sleeper; return once ``long`` runs and its process group is recorded."""
    project.write("ws.yaml", SLEEPER)
    proc = project.start("run", "ws.yaml", "--run-id", run_id, "--json")
    recorded = wait_until(
        lambda: (
            project.run_row(run_id) is not None
            and bool(
                project.sql(
                    "SELECT 1 FROM attempts WHERE run_id = ? AND state = 'running' AND pgid > 0",
                    (run_id,),
                )
            )
        ),
        timeout=20,
    )
    assert recorded, "the task never started"
    return proc


def test_status_after_sigkill_shows_the_run_interrupted_and_its_attempts_lost(
    tmp_path: Path,
) -> None:
    """Pins reconcile on demand: after SIGKILL of the orchestrator,
    ``uet status RUN --reconcile --json`` (not a resume) marks the run ``interrupted``, the
    attempt ``lost`` (its task shows that outcome and is no longer ``running``), and kills the
    orphaned process group. (In-process executor: with the executor process the task goes
    on, see test_outcomes_survive.)"""
    project = Project.create(tmp_path)
    in_process(project)
    run_id = unique_run_id("status")
    proc = _start_and_wait_running(project, run_id)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert run_processes(run_id), "the task should outlive its orchestrator until reconciled"

        status = project.uet_json("status", run_id, "--reconcile")

        assert status["status"] == "interrupted"
        long = next(t for t in status["tasks"] if t["id"] == "w/long")
        assert long["outcome"] == "lost"
        assert long["status"] != "running"
        assert project.sql("SELECT state FROM attempts WHERE run_id = ?", (run_id,)) == [("lost",)]
        assert wait_until(lambda: not run_processes(run_id), timeout=5)
    finally:
        stop(proc)
        kill_run_processes(run_id)


def test_a_lost_attempt_uses_up_its_budget_past_the_free_re_runs(tmp_path: Path) -> None:
    """Pins the retry budget across crashes once the free re-runs are used up
    (``run.lost_redispatch_max = 0``): a task with ``retries: 0`` whose only attempt was lost
    is not run a second time by ``uet resume``; it fails (outcome ``lost``), its dependent
    is skipped, the run fails with exit 1, and the decision says the attempt was counted."""
    project = Project.create(tmp_path)
    in_process(project, free=0)
    run_id = unique_run_id("budget")
    proc = _start_and_wait_running(project, run_id)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        resumed = project.uet("resume", run_id, "--json")

        assert resumed.returncode == 1, resumed.stdout + resumed.stderr
        assert project.sql("SELECT state FROM attempts WHERE run_id = ?", (run_id,)) == [("lost",)]
        tasks = project.sql("SELECT id, status FROM tasks WHERE run_id = ? ORDER BY id", (run_id,))
        assert tasks == [("w/after", "skipped"), ("w/long", "failed")]
        assert project.run_status(run_id) == "failed"
        assert run_processes(run_id) == {}
        decisions = project.sql(
            "SELECT chosen FROM decisions WHERE run_id = ? AND category = 'recovery'", (run_id,)
        )
        assert decisions == [("count the attempt",)]
    finally:
        stop(proc)
        kill_run_processes(run_id)


def test_resume_kills_a_process_whose_group_was_never_recorded(tmp_path: Path) -> None:
    """Pins stray killing when the orchestrator died between starting a process and committing
    its process group id (the attempt is still ``dispatched``, without a pgid): reconcile finds
    the process by its environment (run, task, attempt number), kills its group, and marks
    the attempt ``lost``."""
    project = Project.create(tmp_path)
    in_process(project)
    run_id = unique_run_id("unrecorded")
    proc = _start_and_wait_running(project, run_id)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        strays = run_processes(run_id)
        assert strays
        # The state a crash in that window leaves: the same rows, minus what the next tick
        # would have written.
        project.execute(
            "UPDATE attempts SET state = 'dispatched', pid = NULL, pgid = NULL, "
            "started_at = NULL WHERE run_id = ?",
            (run_id,),
        )

        status = project.uet_json("status", run_id, "--reconcile")

        assert status["status"] == "interrupted"
        assert wait_until(lambda: not still_alive(strays), timeout=5), "the stray survived"
        # it ran, so it is charged (an attempt with no process at all would not be)
        assert project.sql("SELECT state FROM attempts WHERE run_id = ?", (run_id,)) == [("lost",)]
    finally:
        stop(proc)
        kill_run_processes(run_id)


QUEUED = """\
id: w
tasks:
  - id: a
    run: while [ ! -f go ]; do sleep 0.05; done
    retries: 1
  - id: b
    run: "true"
"""


@pytest.mark.skipif(
    defaults.DISPATCH_AHEAD < 1, reason="needs attempts dispatched ahead into the executor's queue"
)
def test_an_attempt_that_never_started_is_not_charged(tmp_path: Path) -> None:
    """Pins the budget of attempts a crash caught before their process started (recorded
    ``dispatched``, waiting in the executor's queue behind ``-j 1``): the executor process
    journals them as never started, so they end ``canceled`` (not started), not ``lost``,
    and ``b`` (``retries: 0``) still runs after the resume; ``a``, which was running, goes
    on under the executor process, and its real outcome is adopted: succeeded, run once."""
    project = Project.create(tmp_path)
    project.write("ws.yaml", QUEUED)
    run_id = unique_run_id("queued")
    proc = project.start("run", "ws.yaml", "--run-id", run_id, "-j", "1", log="run")
    try:
        assert wait_until(
            lambda: (
                project.run_status(run_id) is not None
                and project.sql(
                    "SELECT task_id, state, pgid IS NULL FROM attempts WHERE run_id = ? "
                    "ORDER BY task_id",
                    (run_id,),
                )
                == [("w/a", "running", 0), ("w/b", "dispatched", 1)]
            ),
            timeout=20,
        ), "expected a running and b dispatched into the executor's queue behind it"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        (project.root / "go").touch()

        resumed = project.uet("resume", run_id, "--json")

        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert project.sql(
            "SELECT task_id, group_concat(state, ' ') FROM "
            "(SELECT task_id, state FROM attempts WHERE run_id = ? ORDER BY id) "
            "GROUP BY task_id ORDER BY task_id",
            (run_id,),
        ) == [("w/a", "succeeded"), ("w/b", "canceled succeeded")]
        assert project.sql(
            "SELECT error FROM attempts WHERE run_id = ? AND state = 'canceled'", (run_id,)
        ) == [("not started: its orchestrator died first",)]
        assert project.sql(
            "SELECT id, attempts_used FROM tasks WHERE run_id = ? ORDER BY id", (run_id,)
        ) == [("w/a", 1), ("w/b", 1)]
    finally:
        stop(proc)
        kill_run_processes(run_id)
