"""`tool: auto` with no routing section, end to end: `uet init`, a workstream, `uet run`.

The tools are real processes: the fake agent CLI (uet.testing) as a profile of the project,
the agent runner as each attempt's process, real git clones and a real SQLite store. The
built-in AI tools are absent: their folders are taken off PATH, so the test does not
depend on what this machine has installed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Result
from tests.isolation.gitrepo import git, make_repo
from uet.cli import main
from uet.state.records import AttemptRecord, DecisionRecord, EventRecord
from uet.state.store import Store
from uet.testing import write_script

BUILTIN_AGENTS = ("aider", "claude", "codex", "gemini")
EDIT = [{"action": "write", "path": "{files}", "content": "edited: {prompt}\n"}]

pytestmark = pytest.mark.slow  # real clones and agent processes: a few seconds each


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository made the working directory, after `uet init`, with the fake agent
    as the project's only AI tool that can run here."""
    path = os.environ.get("PATH", "")
    kept = [
        d for d in path.split(os.pathsep) if not any((Path(d) / b).exists() for b in BUILTIN_AGENTS)
    ]
    monkeypatch.setenv("PATH", os.pathsep.join(kept))
    repo = make_repo(tmp_path / "repo", {"README.md": "# demo\n", "src/app.py": "x = 1\n"})
    monkeypatch.chdir(repo)
    assert main(["init", "--non-interactive"]) == 0
    script = write_script(tmp_path / "fake.json", EDIT)
    argv = [sys.executable, "-m", "uet.testing.fake_agent", "--script", str(script)]
    profile = {
        "argv": [*argv, "--prompt-file", "{prompt_file}", "{files}"],
        "capabilities": ["code_edit"],
        "check": {"version_args": ["-m", "uet.testing.fake_agent", "--version"]},
    }
    (repo / "config").mkdir()
    (repo / "config" / "tools.yaml").write_text(json.dumps({"fake": profile}), encoding="utf-8")
    workstream = {
        "id": "edits",
        "tasks": [
            {
                "id": "edit",
                "tool": "auto",
                "kind": "code_edit",
                "prompt": "make x two",
                "files_scope": ["src/app.py"],
                "retries": 0,
            }
        ],
    }
    (repo / "workstreams" / "edit.yaml").write_text(json.dumps(workstream), encoding="utf-8")
    return repo


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    code = main(list(args))
    out = capsys.readouterr()
    return Result(code, out.out, out.err)


def _recorded(
    project: Path, run_id: str
) -> tuple[list[AttemptRecord], list[DecisionRecord], list[EventRecord]]:
    store = Store.open(f"sqlite:///{project / '.uet' / 'state.db'}")
    try:
        with store.reader() as tx:
            return tx.get_attempts(run_id), tx.get_decisions(run_id=run_id), tx.get_events(run_id)
    finally:
        store.close()


def test_init_then_tool_auto_with_no_routing_section_runs_on_the_fake_agent(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The finding: "no routing rule matches kind 'code_edit' and there is no default".
    aider's built-in profile is there, aider is not: the FIRST attempt goes to the fake."""
    assert "routing" not in (project / "uet.toml").read_text(encoding="utf-8").replace("#", "")
    result = _cli(capsys, "run", "workstreams/edit.yaml", "--run-id", "z1")
    assert result.code == 0, result.out + result.err
    assert git(project, "show", "main:src/app.py").startswith("edited: make x two")

    attempts, decisions, _ = _recorded(project, "z1")
    assert [(a.number, a.tool) for a in attempts] == [(1, "fake")]
    [routed] = [d for d in decisions if d.task_id and d.category in ("routing", "fallback")]
    assert (routed.category, routed.chosen) == ("fallback", "fake")  # no rule: a capable tool
    assert routed.data["skipped"]["aider"] == "not available: 'aider' not found on PATH"


def test_uet_route_says_why_aider_was_skipped(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _cli(capsys, "route", "--kind", "code_edit")
    assert result.code == 0, result.out + result.err
    assert result.out.startswith("fake: ")
    assert "passed over aider: not available: 'aider' not found on PATH" in result.out
    shown = json.loads(_cli(capsys, "route", "--kind", "code_edit", "--json").out)
    assert shown["tool"] == "fake"
    assert shown["category"] == "fallback"
    assert shown["unavailable"]["aider"] == "'aider' not found on PATH"
    assert shown["unavailable"]["gemini"] == "'gemini' not found on PATH"  # after the choice
    assert "gemini" not in shown["skipped"]


def test_a_tool_that_cannot_start_opens_its_breaker_and_the_task_moves_on_without_a_retry(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The finding: "the run then tries aider three times (exit 127) and never moves to the
    next tool". Here aider passes the availability check but its program cannot start."""
    tools = json.loads((project / "config" / "tools.yaml").read_text(encoding="utf-8"))
    tools["aider"] = {
        "argv": ["/nonexistent/bin/aider", "--message-file", "{prompt_file}"],
        "check": {"binary": "sh", "version_args": None},  # found: the check cannot tell
    }
    (project / "config" / "tools.yaml").write_text(json.dumps(tools), encoding="utf-8")
    result = _cli(capsys, "run", "workstreams/edit.yaml", "--run-id", "z2")
    assert result.code == 0, result.out + result.err  # retries: 0, and yet it succeeded

    attempts, decisions, events = _recorded(project, "z2")
    assert [(a.number, a.tool, a.exit_code) for a in attempts] == [
        (1, "aider", 127),
        (2, "fake", 0),
    ]
    opened = [e for e in events if e.type == "breaker.opened"]
    assert [e.payload["tool"] for e in opened] == ["aider"]
    assert any(d.category == "breaker" and d.chosen == "open" for d in decisions)
    [moved_on] = [d for d in decisions if d.chosen == "next tool"]
    assert moved_on.reason.startswith("aider could not start (exit 127")
    assert "no retry is spent" in moved_on.reason
    shown = _cli(capsys, "route", "--kind", "code_edit")
    assert "passed over aider: breaker open" in shown.out  # the next run knows it too


def test_a_named_tool_that_cannot_start_is_retried_as_a_failure_without_opening_its_breaker(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A task that names its tool has no next tool: the attempt is a plain failure, so the
    retry does not wait out a breaker's cooldown."""
    tools = json.loads((project / "config" / "tools.yaml").read_text(encoding="utf-8"))
    tools["aider"] = {"argv": ["/nonexistent/bin/aider", "--message-file", "{prompt_file}"]}
    (project / "config" / "tools.yaml").write_text(json.dumps(tools), encoding="utf-8")
    workstream = json.loads((project / "workstreams" / "edit.yaml").read_text(encoding="utf-8"))
    workstream["tasks"][0].update({"tool": "aider", "retries": 1, "retry_delay": 0})
    (project / "workstreams" / "edit.yaml").write_text(json.dumps(workstream), encoding="utf-8")
    result = _cli(capsys, "run", "workstreams/edit.yaml", "--run-id", "z3")
    assert result.code == 1
    attempts, _, events = _recorded(project, "z3")
    assert [(a.tool, a.exit_code) for a in attempts] == [("aider", 127), ("aider", 127)]
    assert not [e for e in events if e.type == "breaker.opened"]
