"""Ctrl-C on `uet scripts run` leaves a resumable run (exit 130), and `uet resume` ends it
with the script's outcome."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts.conftest import Write


def _uet(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "uet", *args]


@pytest.mark.slow
def test_sigint_leaves_the_script_run_resumable_and_resume_finishes_it(
    write: Write, project: Path
) -> None:
    write(
        "config/scripts.yaml",
        """
        wait-for-it:
          run: echo started; while [ ! -e go ]; do sleep 0.05; done; echo finished
          timeout: 60
        """,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("UET_")}
    proc = subprocess.Popen(
        _uet(project, "scripts", "run", "wait-for-it"),
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"  # the script runs: now interrupt uet
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "uet: script wait-for-it: interrupted (run " in err
    run_id = err.split("resume with: uet resume ")[1].split()[0]
    (project / "go").touch()  # the script may finish now
    resumed = subprocess.run(
        [*_uet(project, "resume", run_id, "--json")],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    logs = subprocess.run(
        _uet(project, "logs", run_id, "wait-for-it"),
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "started" in logs.stdout
    assert "finished" in logs.stdout
