"""LocalExecutor runs real processes: outcomes, exit codes, groups, environment, cwd, stdin."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.execution.conftest import Sink, collect, env, job, run_jobs, run_one
from uet.clock import FixedClock
from uet.execution import Finished, LocalExecutor, Started
from uet.states import AttemptState

PY = sys.executable


def test_exit_zero_succeeds_after_a_started_report(executor: LocalExecutor) -> None:
    """A job reports Started (pid, its own group, the start time), then Finished(succeeded)."""
    executor.submit(job(1, "exit 0"))
    started, finished = collect(executor, 1)
    assert isinstance(started, Started)
    assert isinstance(finished, Finished)
    assert started.pid == started.pgid > 0
    outcome = finished.outcome
    assert outcome.state is AttemptState.SUCCEEDED
    assert outcome.exit_code == 0
    assert outcome.error is None
    assert outcome.started_at == started.at
    assert outcome.ended_at >= started.at


def test_nonzero_exit_is_failed_with_its_code(executor: LocalExecutor) -> None:
    outcome = run_one(executor, job(1, "exit 3"))
    assert (outcome.state, outcome.exit_code) == (AttemptState.FAILED, 3)


def test_death_by_signal_is_failed_with_minus_the_signal(executor: LocalExecutor) -> None:
    outcome = run_one(executor, job(1, "kill -SEGV $$"))
    assert (outcome.state, outcome.exit_code) == (AttemptState.FAILED, -11)
    assert outcome.error == "killed by SIGSEGV"


def test_each_job_leads_a_new_process_group(executor: LocalExecutor, sink: Sink) -> None:
    code = "import os; print(os.getpid(), os.getpgrp())"
    executor.submit(job(1, argv=[PY, "-c", code]))
    started, _ = collect(executor, 1)
    assert isinstance(started, Started)
    pid, pgid = map(int, sink.lines(1)[0].split())
    assert pid == pgid == started.pid != os.getpgrp()


def test_environment_is_exactly_the_jobs(
    executor: LocalExecutor, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing of the orchestrator's environment leaks; UET variables pass as given."""
    monkeypatch.setenv("LEAKED_FROM_ORCHESTRATOR", "1")
    given = env(
        UET_RUN_ID="run-1",
        UET_TASK_ID="lint",
        UET_NON_INTERACTIVE="1",
        NON_INTERACTIVE="1",
        WITH_SPACE="a b",
    )
    outcome = run_one(executor, job(1, argv=["env"], env=given))
    assert outcome.state is AttemptState.SUCCEEDED
    assert sorted(sink.lines(1)) == sorted(f"{key}={value}" for key, value in given.items())


def test_program_is_looked_up_on_the_jobs_path(
    executor: LocalExecutor, sink: Sink, tmp_path: Path
) -> None:
    tool = tmp_path / "bin" / "uet-test-tool"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho found me\n")
    tool.chmod(0o755)
    path = f"{tool.parent}:{os.environ['PATH']}"
    outcome = run_one(executor, job(1, argv=["uet-test-tool"], env={"PATH": path}))
    assert outcome.state is AttemptState.SUCCEEDED
    assert sink.lines(1) == ["found me"]


def test_working_directory_is_applied(executor: LocalExecutor, sink: Sink, tmp_path: Path) -> None:
    run_one(executor, job(1, argv=[PY, "-c", "import os; print(os.getcwd())"], cwd=tmp_path))
    assert sink.lines(1) == [os.path.realpath(tmp_path)]


def test_stdin_ends_at_once_and_a_read_of_it_is_seen(executor: LocalExecutor, sink: Sink) -> None:
    """stdin is a pipe nobody writes to (uet closes it once it saw a read, or after 0.5 s):
    ``cat`` meets end of file instead of waiting for a terminal and succeeds; ``read x``
    meets it too and fails, which makes it needs_input; a job that fails without reading
    stdin is a plain failure."""
    outcomes = run_jobs(
        executor,
        [
            job(1, argv=["cat"]),
            job(2, argv=["readlink", "/proc/self/fd/0"]),
            job(3, argv=["bash", "-c", "read x"]),
            job(4, argv=["bash", "-c", "exit 1"]),
        ],
    )
    assert outcomes[1].state is AttemptState.SUCCEEDED
    assert sink.lines(1) == []
    assert sink.lines(2)[0].startswith("pipe:[")
    assert outcomes[3].state is AttemptState.NEEDS_INPUT
    assert "stdin" in (outcomes[3].error or "")
    assert outcomes[4].state is AttemptState.FAILED


def test_a_wait_on_another_pipe_is_not_a_read_of_stdin(executor: LocalExecutor) -> None:
    """A job blocked reading a pipe of its own (not fd 0) while its stdin is still uet's
    probe, then failing, is a plain failure (retried as usual), never needs_input."""
    script = (
        "import os, threading, sys\n"
        "r, w = os.pipe()\n"
        "threading.Timer(0.3, os.write, (w, b'x')).start()\n"
        "os.read(r, 1)\n"
        "sys.exit(1)\n"
    )
    [outcome] = run_jobs(executor, [job(1, argv=[sys.executable, "-c", script])]).values()
    assert outcome.state is AttemptState.FAILED, outcome.error


def test_shell_jobs_run_under_bin_sh(executor: LocalExecutor, sink: Sink) -> None:
    outcome = run_one(executor, job(1, 'echo "$0"; for i in 1 2; do echo "n$i"; done'))
    assert outcome.state is AttemptState.SUCCEEDED
    assert sink.lines(1) == ["/bin/sh", "n1", "n2"]


def test_sigpipe_has_its_default_action_in_jobs(executor: LocalExecutor, sink: Sink) -> None:
    """Python ignores SIGPIPE; its jobs must not inherit that (``yes | head`` must end)."""
    outcome = run_one(executor, job(1, "yes | head -n 2"))
    assert outcome.state is AttemptState.SUCCEEDED
    assert sink.lines(1) == ["y", "y"]


def test_times_come_from_the_given_clock() -> None:
    """One clock reading when a job starts and one when it ends: deterministic mode's times."""
    clock = FixedClock(start=1000.0, step=1.0)
    with LocalExecutor(clock=clock) as executor:
        executor.submit(job(1, "exit 0"))
        started, finished = collect(executor, 1)
    assert isinstance(started, Started)
    assert isinstance(finished, Finished)
    assert (started.at, finished.outcome.started_at, finished.outcome.ended_at) == (
        1000.0,
        1000.0,
        1001.0,
    )


def test_poll_accepts_any_timeout(executor: LocalExecutor) -> None:
    executor.submit(job(1, "exit 0"))
    reports = executor.poll(float("inf"))
    reports += executor.poll(-1.0)
    assert reports


def test_running_counts_jobs_until_their_finished_is_polled(executor: LocalExecutor) -> None:
    for n in range(3):
        executor.submit(job(n, "exit 0"))
    assert executor.running() == 3
    collect(executor, 3)
    assert executor.running() == 0


def test_max_workers_bounds_the_processes_alive_at_once() -> None:
    with LocalExecutor(max_workers=2) as executor:
        for n in range(6):
            executor.submit(job(n, "sleep 0.05"))
        reports = collect(executor, 6)
    alive = peak = 0
    for report in reports:
        alive += 1 if isinstance(report, Started) else -1
        peak = max(peak, alive)
    assert peak == 2


def test_many_quick_jobs_each_start_and_finish_exactly_once() -> None:
    """500 jobs, 8 at a time: one Started and one Finished each, in that order, right codes."""
    with LocalExecutor(max_workers=8) as executor:
        for n in range(500):
            executor.submit(job(n, f"exit {n % 3}"))
        reports = collect(executor, 500)
    started = [r.attempt_id for r in reports if isinstance(r, Started)]
    finished = {r.attempt_id: r.outcome for r in reports if isinstance(r, Finished)}
    assert sorted(started) == list(range(500))
    assert len(finished) == 500
    assert sum(isinstance(r, Finished) for r in reports) == 500
    assert all(finished[n].exit_code == n % 3 for n in range(500))
    position = {id(r): i for i, r in enumerate(reports)}
    first = {r.attempt_id: position[id(r)] for r in reports if isinstance(r, Started)}
    assert all(first[r.attempt_id] < position[id(r)] for r in reports if isinstance(r, Finished))


def test_a_background_process_holding_the_pipe_does_not_hold_the_job(
    executor: LocalExecutor, sink: Sink
) -> None:
    """The job ends when its leader exits, even if a child it left still has the pipe."""
    executor.submit(job(1, "sleep 1000 & echo leader done"))
    started, finished = collect(executor, 1)
    assert isinstance(started, Started)
    assert isinstance(finished, Finished)
    assert finished.outcome.state is AttemptState.SUCCEEDED
    assert sink.lines(1) == ["leader done"]
    os.killpg(started.pgid, 9)  # the leftover sleep: not the executor's to kill
