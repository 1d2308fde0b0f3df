"""A tool task outlives its orchestrator (issue 9, item 2, for tool tasks): ``uet run`` is
killed with SIGKILL while the agent works; the attempt's runner, in the run's executor
process, finishes (tool, scope check, commit, merge queue) and the outcome is journaled;
``uet resume`` adopts it: the task is ``succeeded``, the agent was called once, the change
reached main once. An agent call costs money: running it again is what must not happen.

Real processes: ``python -m uet``, the agent runner, the fake agent CLI, git, SQLite.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.engine.procs import wait_until
from tests.isolation.gitrepo import git, make_repo
from uet.testing import script_calls, write_script


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UET_")}
    env.update(UET_DB=f"sqlite:///{db}", UET_SANDBOX="none", PYTHONDONTWRITEBYTECODE="1")
    return env


def _crash_while_the_agent_works(
    tmp_path: Path, calls: list[list[dict[str, object]]]
) -> tuple[Path, Path, Path, subprocess.CompletedProcess[str]]:
    """A one-task run of a fake agent scripted by ``calls``; SIGKILL of ``uet run`` once the
    agent's first call has begun, then ``uet resume``: (repo, script, db, the resume)."""
    repo = make_repo(tmp_path / "repo", {"README.md": "# demo\n", "work/t.txt": "before\n"})
    script = write_script(tmp_path / "agent.json", calls=calls)
    argv = ["python", "-m", "uet.testing.fake_agent", "--script", str(script)]
    argv += ["--prompt-file", "{prompt_file}", "{files}"]
    (repo / "uet.toml").write_text(
        f'[tools.alpha]\nargv = {json.dumps(argv)}\ncapabilities = ["code_edit"]\n'
        'rate_limit_patterns = ["rate limit"]\n',
        encoding="utf-8",
    )
    workstream = tmp_path / "agents.json"
    task = {"id": "edit", "tool": "alpha", "kind": "code_edit", "prompt": "edit it",
            "files_scope": ["work/t.txt"]}  # fmt: skip
    workstream.write_text(json.dumps({"id": "agents", "tasks": [task]}), encoding="utf-8")
    db = tmp_path / "state.db"
    env = _env(db)
    with (tmp_path / "run.out").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uet", "run", str(workstream), "--run-id", "r1"],
            cwd=repo,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        started = wait_until(lambda: len(script_calls(script)) == 1, 60)
        assert started, (tmp_path / "run.out").read_text()
        os.kill(proc.pid, signal.SIGKILL)  # the orchestrator only: its executor lives on
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    resumed = subprocess.run(
        [sys.executable, "-m", "uet", "resume", "r1", "--json"],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return repo, script, db, resumed


def _attempts_and_adoptions(db: Path) -> tuple[list[str], int]:
    with sqlite3.connect(db) as conn:
        states = conn.execute("SELECT state FROM attempts WHERE run_id = 'r1' ORDER BY id")
        adopted = conn.execute(
            "SELECT count(*) FROM events WHERE run_id = 'r1' AND type = 'task.completed' "
            "AND payload LIKE '%\"adopted\":true%'"
        ).fetchone()[0]
        return [state for (state,) in states.fetchall()], adopted


WORK = {"action": "sleep", "seconds": 3}  # the orchestrator dies in here
EDIT = {"action": "write", "path": "work/t.txt", "content": "after\n"}


def test_resume_adopts_a_tool_attempt_that_succeeded_after_the_crash(tmp_path: Path) -> None:
    repo, script, db, resumed = _crash_while_the_agent_works(tmp_path, [[WORK, EDIT]])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(script_calls(script)) == 1  # the agent was not called again
    assert git(repo, "show", "main:work/t.txt") == "after"
    assert git(repo, "rev-list", "--count", "main") == "2"  # merged once
    assert _attempts_and_adoptions(db) == (["succeeded"], 1)


def test_a_tool_attempt_that_failed_after_the_crash_is_not_adopted_as_the_tasks_failure(
    tmp_path: Path,
) -> None:
    """Rate-limited while uet was down: live, the engine would have moved the task on without
    spending a retry; after the crash the attempt is ``lost`` and re-run for free, never the
    task's failure (``retries: 0``)."""
    calls = [[WORK, {"action": "rate_limit"}], [EDIT]]
    repo, script, db, resumed = _crash_while_the_agent_works(tmp_path, calls)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(script_calls(script)) == 2
    assert git(repo, "show", "main:work/t.txt") == "after"
    assert _attempts_and_adoptions(db) == (["lost", "succeeded"], 0)
