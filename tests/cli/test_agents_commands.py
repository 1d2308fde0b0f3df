"""``uet agents …`` and ``uet decisions`` through the real entry point, on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Uet
from tests.isolation.gitrepo import commit, git, make_repo, write


@pytest.fixture
def repo(project: Path) -> Path:
    """The project folder is a git repository with a few files on main."""
    make_repo(project)
    write(project, {".gitignore": ".uet/\n"})
    commit(project, {".gitignore": ".uet/\n"}, "ignore uet's home")
    return project


def test_the_agent_lifecycle_from_the_command_line(uet: Uet, repo: Path) -> None:
    created = uet("agents", "create", "a1", "--scope", "src/app/**", "--json")
    assert created.code == 0, created.err
    agent = json.loads(created.out)
    assert agent["branch"] == "agent/a1"
    assert agent["files_scope"] == ["src/app/**"]
    clone = Path(agent["path"])

    ran = uet("agents", "exec", "a1", "--", "sh", "-c", "echo 'IO = 9' > src/app/io.py; echo ok")
    assert (ran.code, ran.out) == (0, "ok\n")
    committed = uet("agents", "commit", "a1", "src/app/io.py", "-m", "io")
    assert committed.code == 0
    assert "committed" in committed.out

    merged = uet("agents", "merge", "a1", "--gate", "grep -q 9 src/app/io.py", "--json")
    assert merged.code == 0, merged.err
    [result] = json.loads(merged.out)
    assert (result["status"], result["code"]) == ("merged", "merged")
    assert git(repo, "show", "main:src/app/io.py") == "IO = 9"

    listed = json.loads(uet("agents", "list", "--json").out)
    assert [(a["id"], a["status"]) for a in listed] == [("a1", "merged")]
    decisions = json.loads(uet("decisions", "--category", "merge", "--json").out)
    assert [d["chosen"] for d in decisions] == ["merged: a1"]
    assert "fast-forwarded" in decisions[0]["reason"]

    cleaned = uet("agents", "cleanup", "--merged")
    assert cleaned.code == 0
    assert not clone.exists()
    assert uet("agents", "list", "--json").out.strip() == "[]"


def test_refusals_exit_1_and_say_why(uet: Uet, repo: Path) -> None:
    assert uet("agents", "create", "a1", "--scope", "src/app/io.py").code == 0
    ran = uet("agents", "exec", "a1", "--", "sh", "-c", "echo hacked > README.md")
    assert ran.code == 0
    assert uet("agents", "commit", "a1", "README.md", "-m", "out of scope").code == 0
    before = git(repo, "rev-parse", "main")
    refused = uet("agents", "merge", "a1")
    assert refused.code == 1
    assert "outside files_scope" in refused.out
    assert "[out_of_scope]" in refused.out
    assert git(repo, "rev-parse", "main") == before
    kept = uet("agents", "cleanup", "a1")
    assert kept.code == 1
    assert "unmerged commit" in kept.out
    forced = uet("agents", "cleanup", "a1", "--force")
    assert forced.code == 0
    assert "refs/uet/archive/a1" in git(repo, "for-each-ref", "refs/uet/archive/")


def test_exec_passes_the_command_s_exit_code_through(uet: Uet, repo: Path) -> None:
    assert uet("agents", "create", "a1").code == 0
    assert uet("agents", "exec", "a1", "--", "sh", "-c", "exit 5").code == 5
    missing = uet("agents", "exec", "a1", "--", "no-such-program-uet")
    assert missing.code == 127
    assert "no-such-program-uet" in missing.err
    slow = uet("agents", "exec", "a1", "--timeout", "0.3", "--", "sleep", "30")
    assert slow.code == 124
    assert "timed out" in slow.err


def test_bad_input_exits_2_with_a_clear_message(uet: Uet, repo: Path) -> None:
    bad = uet("agents", "create", "Not/Valid")
    assert bad.code == 2
    assert "agent id" in bad.err
    assert uet("agents", "create", "a1", "--base", "nope").code == 2
    assert uet("agents", "exec", "ghost", "--", "true").code == 2
    assert uet("agents", "cleanup").code == 2


def test_check_is_silent_on_a_healthy_repository_and_exits_1_on_a_finding(
    uet: Uet, repo: Path
) -> None:
    assert uet("agents", "create", "a1").code == 0
    clean = uet("agents", "check")
    assert clean.code == 0, clean.out
    assert "no multi-agent git problems" in clean.out
    git(repo / ".uet" / "agents" / "a1", "checkout", "--quiet", "-b", "elsewhere")
    found = uet("agents", "check", "--json")
    assert found.code == 1
    codes = {f["code"] for f in json.loads(found.out)}
    assert "P1_SHARED_HEAD_RACE" in codes
