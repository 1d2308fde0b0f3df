"""Where a job's standard streams go (``Stdio``): the default and passthrough jobs lead a
session of their own; passthrough and terminal jobs need an executor with uet's own stdio."""

from __future__ import annotations

import os
from pathlib import Path

from uet.execution import Job, LocalExecutor, Stdio, run_job
from uet.execution.reactor import NO_TERMINAL
from uet.execution.wire import job_from_wire, job_to_wire
from uet.states import AttemptState

ENV = {"PATH": os.environ["PATH"]}


def test_stdio_crosses_the_wire() -> None:
    for stdio in Stdio:
        job = Job(1, "k", argv=["true"], stdio=stdio)
        assert job_from_wire(job_to_wire(job)).stdio is stdio


def test_a_passthrough_or_terminal_job_is_refused_without_uets_stdio() -> None:
    """The executor process's stdout is its pipe to the orchestrator: never a job's."""
    for stdio in (Stdio.PASSTHROUGH, Stdio.TERMINAL):
        outcome = run_job(Job(1, "k", argv=["true"], env=ENV, stdio=stdio))
        assert outcome.state is AttemptState.ERROR
        assert outcome.error == NO_TERMINAL


def test_a_passthrough_job_keeps_its_streams_apart_and_logs_both(tmp_path: Path) -> None:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    log = tmp_path / "job.log"
    script = "echo out1; echo err1 >&2; echo out2; printf 'Password: ' >&2; exit 4"
    with LocalExecutor(stdio_fds=(out_w, err_w)) as executor:
        executor.submit(Job(1, "k", argv=["sh", "-c", script], env=ENV, log_path=log,
                            stdio=Stdio.PASSTHROUGH))  # fmt: skip
        outcome = None
        while outcome is None:
            for report in executor.poll(1.0):
                outcome = getattr(report, "outcome", None)
    os.close(out_w)
    os.close(err_w)
    with os.fdopen(out_r, "rb") as out, os.fdopen(err_r, "rb") as err:
        assert out.read() == b"out1\nout2\n"
        assert err.read() == b"err1\nPassword: "
    assert sorted(log.read_text().splitlines()) == ["Password: ", "err1", "out1", "out2"]
    assert outcome.state is AttemptState.NEEDS_INPUT  # the shared tail has stderr's prompt
    assert outcome.exit_code == 4


def test_a_job_leads_a_session_of_its_own(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    script = "import os; print(os.getsid(0) == os.getpid() == os.getpgid(0))"
    outcome = run_job(Job(1, "k", argv=["python3", "-c", script], env=ENV, log_path=log))
    assert outcome.state is AttemptState.SUCCEEDED
    assert log.read_text() == "True\n"
