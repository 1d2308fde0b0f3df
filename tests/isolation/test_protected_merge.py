"""The merge queue refuses protected paths too: `uet agents merge` of an agent made by hand
(no files_scope) that changed CI or uet's configuration never reaches the target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.isolation.gitrepo import commit, git, make_repo
from uet.cli import main


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_repo(tmp_path / "repo")
    commit(path, {".gitignore": ".uet/\n", "uet.toml": "[events]\nbatch_size = 10\n"}, "config")
    monkeypatch.chdir(path)
    return path


def _uet(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def _agent_commits(capsys: pytest.CaptureFixture[str], agent: str, files: dict[str, str]) -> None:
    script = "; ".join(f"mkdir -p $(dirname {p}) && printf '{t}' > {p}" for p, t in files.items())
    assert _uet(capsys, "agents", "exec", agent, "--", "sh", "-c", script)[0] == 0
    code, out = _uet(capsys, "agents", "commit", agent, *files, "-m", "change")
    assert code == 0, out


def test_uet_agents_merge_refuses_a_branch_that_changes_protected_paths(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _uet(capsys, "agents", "create", "a1")[0] == 0  # no files_scope
    _agent_commits(capsys, "a1", {".github/workflows/x.yml": "on: push", "uet.toml": "db = 1"})
    before = git(repo, "rev-parse", "main")

    code, out = _uet(capsys, "agents", "merge", "a1", "--json")

    assert code == 1, out
    [result] = json.loads(out)
    assert result["code"] == "protected"
    assert ".github/workflows/x.yml (.github/**)" in result["reason"]
    assert "uet.toml (uet.toml)" in result["reason"]
    assert git(repo, "rev-parse", "main") == before
    code, out = _uet(capsys, "decisions", "--category", "merge", "--json")
    [decision] = json.loads(out)
    assert decision["chosen"] == "refused: a1"
    assert "uet.toml" in decision["reason"]


def test_uet_agents_merge_lets_a_scope_that_names_the_path_through(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _uet(capsys, "agents", "create", "a1", "--scope", ".github/workflows/")
    assert code == 0, out
    _agent_commits(capsys, "a1", {".github/workflows/x.yml": "on: push"})

    code, out = _uet(capsys, "agents", "merge", "a1")

    assert code == 0, out
    assert git(repo, "show", "main:.github/workflows/x.yml") == "on: push"
