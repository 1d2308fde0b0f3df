"""A task's process group dies with it (systemd's KillMode=control-group): what a task leaves
in the background is stopped when its main process exits, before its outcome is reported;
what escaped the group with setsid is found through the executor process (a subreaper) and
stopped too; ``keep_background`` opts out. Real shells, real sleeps, found again in /proc by
a marker in their argv."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from uet.execution.api import Executor, Finished, Job, Outcome
from uet.execution.executor_process import ProcessExecutor
from uet.execution.local import LocalExecutor
from uet.states import AttemptState


def _marker() -> str:
    """A sleep duration no other process on this machine uses: its argv is the marker."""
    return f"30.{secrets.randbelow(10**6):06d}"


def _with_argv(word: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as file:
                argv = file.read().split(b"\0")
            with open(f"/proc/{entry.name}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue
        if word.encode() in argv and stat[stat.rfind(b")") + 2 :][:1] not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _job(shell: str, *, keep: bool = False) -> Job:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "UET_RUN_ID": f"leftovers-{secrets.token_hex(3)}",
        "UET_TASK_ID": "w/t",
        "UET_ATTEMPT": "1",
    }
    return Job(1, "w/t", shell=shell, env=env, kill_grace=2.0, keep_background=keep)


def _run(executor: Executor, job: Job) -> Outcome:
    executor.submit(job)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for report in executor.poll(0.5):
            if isinstance(report, Finished):
                return report.outcome
    raise AssertionError("the job never finished")


@pytest.fixture(params=["inproc", "process"])
def executor(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Executor]:
    made: Executor
    if request.param == "inproc":
        made = LocalExecutor(max_workers=2)
    else:
        made = ProcessExecutor(tmp_path / "journal", max_workers=2)
    try:
        yield made
    finally:
        made.close()


def _gone_within(marker: str, seconds: float) -> list[int]:
    """The processes with ``marker`` still alive ``seconds`` after now (killed afterwards)."""
    deadline = time.monotonic() + seconds
    while (left := _with_argv(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    _kill(left)
    return left


@pytest.mark.parametrize(
    "template",
    [
        "sleep {m} & exit 0",
        "nohup sleep {m} >/dev/null 2>&1 & exit 0",
        "sleep {m} & kill -9 $$",
    ],
    ids=["background", "nohup", "shell-sigkilled"],
)
def test_what_a_task_leaves_in_its_group_dies_with_it(executor: Executor, template: str) -> None:
    """Pins finding 5 (issue 9): `sleep 30 & exit 0`, nohup, and a shell SIGKILLed with its
    child still running: nothing of the group is alive 1 s after the outcome; the outcome is
    the main process's own (exit 0 stays succeeded)."""
    marker = _marker()
    outcome = _run(executor, _job(template.format(m=marker)))
    assert _gone_within(marker, 1.0) == []
    if "kill -9" in template:
        assert outcome.exit_code == -signal.SIGKILL
    else:
        assert outcome.state is AttemptState.SUCCEEDED, outcome


def test_a_process_that_escaped_with_setsid_is_stopped_by_the_executor_process(
    tmp_path: Path,
) -> None:
    """Pins finding 5 for `setsid sleep 30 & exit 0`: the escapee leads its own session, is
    adopted by the executor process (a child subreaper) when its shell exits, and is stopped
    because its environment marks an attempt that is over."""
    marker = _marker()
    with ProcessExecutor(tmp_path / "journal", max_workers=2) as executor:
        outcome = _run(executor, _job(f"setsid sleep {marker} & exit 0"))
        assert outcome.state is AttemptState.SUCCEEDED
        assert _gone_within(marker, 1.0) == []


def test_keep_background_leaves_a_daemon_alive(executor: Executor) -> None:
    """Pins the opt-out: a task with ``keep_background`` may start a daemon on purpose."""
    marker = _marker()
    try:
        outcome = _run(executor, _job(f"sleep {marker} >/dev/null 2>&1 & exit 0", keep=True))
        assert outcome.state is AttemptState.SUCCEEDED
        time.sleep(1.0)
        assert _with_argv(marker) != []
    finally:
        _kill(_with_argv(marker))


def test_a_leftover_that_ignores_sigterm_is_killed_after_the_grace(executor: Executor) -> None:
    """A background process that traps SIGTERM gets SIGKILL after the job's grace (2 s
    here); the outcome waits for it and says so."""
    marker = _marker()
    shell = f"sh -c 'trap \"\" TERM; exec sleep {marker}' & sleep 0.2; exit 0"
    outcome = _run(executor, _job(shell))
    assert _with_argv(marker) == []
    assert outcome.state is AttemptState.SUCCEEDED
    assert "SIGKILL" in (outcome.error or "")
