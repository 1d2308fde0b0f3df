"""What cannot run ends as an ``error`` outcome with a clear message, never as an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.execution.conftest import collect, job, run_one
from uet.execution import Finished, Job, LocalExecutor, Started
from uet.states import AttemptState


def _not_executable(tmp_path: Path) -> Path:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    return script


@pytest.mark.parametrize(
    ("make_job", "message"),
    [
        pytest.param(
            lambda tmp: job(1, argv=["uet-no-such-program"]),
            "'uet-no-such-program' not found on PATH",
            id="missing-on-path",
        ),
        pytest.param(
            lambda tmp: job(1, argv=[str(tmp / "missing")]),
            "does not exist",
            id="missing-path",
        ),
        pytest.param(
            lambda tmp: job(1, argv=[str(_not_executable(tmp))]),
            "Permission denied",
            id="not-executable",
        ),
        pytest.param(
            lambda tmp: job(1, "exit 0", cwd=tmp / "nowhere"),
            "' does not exist",
            id="missing-cwd",
        ),
        pytest.param(
            lambda tmp: job(1, "exit 0", cwd=_not_executable(tmp)),
            "' is not a directory",
            id="cwd-is-a-file",
        ),
        pytest.param(
            lambda tmp: job(1, "exit 0", log_path=tmp),
            "cannot open log file",
            id="log-path-is-a-folder",
        ),
        pytest.param(
            lambda tmp: Job(1, "both", argv=["true"], shell="true"),  # noqa: S604 - a bad job
            "exactly one of argv and shell",
            id="argv-and-shell",
        ),
        pytest.param(
            lambda tmp: Job(1, "neither"), "exactly one of argv and shell", id="no-command"
        ),
        pytest.param(lambda tmp: job(1, argv=[]), "argv is empty", id="empty-argv"),
        pytest.param(
            lambda tmp: job(1, argv=["echo", "nul\0byte"]), "'echo' cannot be run", id="nul-byte"
        ),
    ],
)
def test_what_cannot_start_is_an_error_outcome(
    executor: LocalExecutor, tmp_path: Path, make_job: object, message: str
) -> None:
    assert callable(make_job)
    executor.submit(make_job(tmp_path))
    reports = collect(executor, 1)
    assert not any(isinstance(r, Started) for r in reports)
    (finished,) = reports
    assert isinstance(finished, Finished)
    outcome = finished.outcome
    assert outcome.state is AttemptState.ERROR
    assert outcome.exit_code is None
    assert outcome.started_at is None
    assert message in (outcome.error or "")


def test_an_error_does_not_disturb_the_next_job(executor: LocalExecutor) -> None:
    run_one(executor, job(1, argv=["uet-no-such-program"]))
    assert run_one(executor, job(2, "exit 0")).state is AttemptState.SUCCEEDED


def test_a_log_file_comes_with_output_and_a_missing_one_does_not_stop_the_job(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    """Silent tasks cost no file; a log that cannot be created is noted, the job still runs."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the log folder should be")
    jobs = [
        job(1, "exit 0", log_path=tmp_path / "logs" / "silent.log"),
        job(2, "echo hello", log_path=tmp_path / "logs" / "talks.log"),
        job(3, "echo lost", log_path=blocked / "talks.log"),
    ]
    for each in jobs:
        executor.submit(each)
    outcomes = {r.attempt_id: r.outcome for r in collect(executor, 3) if isinstance(r, Finished)}
    assert not (tmp_path / "logs" / "silent.log").exists()
    assert (tmp_path / "logs" / "talks.log").read_text() == "hello\n"
    assert [outcomes[n].state for n in (1, 2, 3)] == [AttemptState.SUCCEEDED] * 3
    assert outcomes[3].error is not None
    assert "cannot open log file" in outcomes[3].error
    assert outcomes[3].output_tail == "lost\n"
