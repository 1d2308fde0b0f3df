"""Secrets uet knows never land in what it keeps of a task's output: the log file, the
``task.output`` events, the attempt's tail; through the CLI, as users run tasks."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

TOKEN = "ghp_s3cretValue0123456789"  # noqa: S105 - in uet's environment, under a secret-like name
OWN = "task-own-secret-abcdef"  # in the task's own env:, under a secret-like name
PLAIN = "not-a-secret-value-42"  # a variable whose name says nothing: shown as it is

WORKSTREAM = f"""\
id: leak
tasks:
  - id: show
    env: {{DEPLOY_PASSWORD: "{OWN}", NOTE: "{PLAIN}"}}
    run: |
      echo "token=$GITHUB_TOKEN"
      echo "own=$DEPLOY_PASSWORD" >&2
      printf 'partial %s' "$GITHUB_TOKEN"
      echo " note=$NOTE"
      exit 3
"""


def uet(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UET_")}
    env.update(GITHUB_TOKEN=TOKEN, UET_SANDBOX="none")
    return subprocess.run(
        [sys.executable, "-m", "uet", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "leak.yaml").write_text(WORKSTREAM)
    return folder


def kept(project: Path) -> str:
    """Everything uet stored of the run: its log files and its database's rows."""
    text = "".join(p.read_text() for p in (project / ".uet").rglob("*.log"))
    with sqlite3.connect(project / ".uet" / "state.db") as db:
        for table in ("events", "attempts"):
            text += json.dumps(db.execute(f"SELECT * FROM {table}").fetchall())
    return text


def test_a_tasks_output_is_kept_with_every_known_secret_masked(project: Path) -> None:
    run = uet(project, "run", "leak.yaml", "--json")
    assert run.returncode == 1, run.stderr
    run_id = json.loads(run.stdout)["run_id"]
    logs = uet(project, "logs", run_id, "show")
    assert logs.returncode == 0, logs.stderr
    assert "token=***" in logs.stdout
    assert "own=***" in logs.stdout
    assert "partial *** note=" + PLAIN in logs.stdout
    stored = kept(project)
    assert "token=***" in stored  # the events and the tail were written, masked
    assert TOKEN not in stored
    assert OWN not in stored
    assert PLAIN in stored


def test_uet_exec_passes_the_output_through_but_keeps_it_masked(project: Path) -> None:
    """The user's own terminal sees what the command printed; uet's records do not."""
    done = uet(project, "exec", "--name", "show", "--", "sh", "-c", 'echo "t=$GITHUB_TOKEN"')
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"t={TOKEN}\n"
    stored = kept(project)
    assert "t=***" in stored
    assert TOKEN not in stored
