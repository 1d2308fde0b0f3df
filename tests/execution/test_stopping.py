"""Timeouts, cancel and close kill whole process groups, grandchildren included."""

from __future__ import annotations

from tests.execution.conftest import alive_in_group, collect, job, run_one, wait_started
from uet.execution import Finished, LocalExecutor
from uet.states import AttemptState

FAMILY = "sleep 1000 & sleep 1000 & wait"  # a leader with two grandchildren of the executor


def test_timeout_kills_the_group_grandchildren_included(executor: LocalExecutor) -> None:
    executor.submit(job(1, FAMILY, timeout=0.3, kill_grace=5.0))
    (started,) = wait_started(executor)
    (finished,) = collect(executor, 1)
    assert isinstance(finished, Finished)
    outcome = finished.outcome
    assert outcome.state is AttemptState.TIMED_OUT
    assert outcome.exit_code == -15
    assert outcome.error == "timed out after 0.3 s (killed the process group)"
    assert not alive_in_group(started.pgid)


def test_a_group_that_ignores_sigterm_gets_sigkill_after_the_grace(
    executor: LocalExecutor,
) -> None:
    """An ignored signal stays ignored across fork and exec: every member needs SIGKILL."""
    executor.submit(job(1, f"trap '' TERM; {FAMILY}", timeout=0.2, kill_grace=0.3))
    (started,) = wait_started(executor)
    (finished,) = collect(executor, 1)
    assert isinstance(finished, Finished)
    assert finished.outcome.state is AttemptState.TIMED_OUT
    assert finished.outcome.exit_code == -9
    assert (
        finished.outcome.error
        == "timed out after 0.2 s (killed the process group); SIGKILL after 0.3 s"
    )
    assert not alive_in_group(started.pgid)


def test_a_grandchild_that_outlives_its_leader_is_still_killed(executor: LocalExecutor) -> None:
    """The leader dies of SIGTERM; a grandchild ignoring it is killed after the grace."""
    script = "(trap '' TERM; exec sleep 1000) & sleep 1000"
    executor.submit(job(1, script, timeout=0.2, kill_grace=0.3))
    (started,) = wait_started(executor)
    (finished,) = collect(executor, 1)
    assert isinstance(finished, Finished)
    assert finished.outcome.state is AttemptState.TIMED_OUT
    assert finished.outcome.exit_code == -15  # the leader's own death
    assert "SIGKILL" in (finished.outcome.error or "")
    assert not alive_in_group(started.pgid)


def test_a_job_that_ends_in_time_is_not_touched(executor: LocalExecutor) -> None:
    outcome = run_one(executor, job(1, "exit 4", timeout=30.0))
    assert (outcome.state, outcome.exit_code) == (AttemptState.FAILED, 4)


def test_cancel_kills_a_running_job(executor: LocalExecutor) -> None:
    executor.submit(job(1, FAMILY))
    (started,) = wait_started(executor)
    executor.cancel(1)
    (finished,) = collect(executor, 1)
    assert isinstance(finished, Finished)
    assert finished.outcome.state is AttemptState.CANCELED
    assert finished.outcome.error == "canceled"
    assert not alive_in_group(started.pgid)


def test_cancel_of_a_queued_job_reports_it_without_starting_it() -> None:
    with LocalExecutor(max_workers=1) as executor:
        executor.submit(job(1, FAMILY))
        executor.submit(job(2, "exit 0"))
        wait_started(executor)
        executor.cancel(2)
        (finished,) = collect(executor, 1)
        assert isinstance(finished, Finished)
        assert finished.attempt_id == 2
        assert finished.outcome.state is AttemptState.CANCELED
        assert finished.outcome.started_at is None
        executor.cancel(1)
        collect(executor, 1)


def test_cancel_of_an_unknown_attempt_is_ignored(executor: LocalExecutor) -> None:
    executor.cancel(12345)
    assert executor.poll(0.05) == []


def test_close_stops_every_running_job_and_reports_them() -> None:
    executor = LocalExecutor()
    for n in range(3):
        executor.submit(job(n, FAMILY))
    started = wait_started(executor, 3)
    executor.close()
    reports = executor.poll(0)
    assert sorted(r.attempt_id for r in reports) == [0, 1, 2]
    assert all(isinstance(r, Finished) for r in reports)
    assert {r.outcome.error for r in reports if isinstance(r, Finished)} == {"executor closed"}
    assert not any(alive_in_group(s.pgid) for s in started)


def test_submit_after_close_is_an_error_outcome() -> None:
    executor = LocalExecutor()
    executor.close()
    executor.close()  # idempotent
    executor.submit(job(1, "exit 0"))
    (finished,) = executor.poll(0)
    assert isinstance(finished, Finished)
    assert finished.outcome.state is AttemptState.ERROR
    assert finished.outcome.error == "executor is closed"
