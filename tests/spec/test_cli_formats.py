"""The command line over the originals' formats: ``--var``, warnings, the acceptance list."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.spec.helpers import write
from uet.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def uet(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    code = main(list(args))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


PLAN = {
    "plan_id": "PLAN-VARS",
    "version": "1.0",
    "globals": {},
    "steps": [
        {
            "id": "show",
            "name": "Show",
            "command": "python",
            "args": ["-c", "print('branch=${BRANCH}')"],
            "owner": "me",
        }
    ],
}


def test_run_var_feeds_variables_and_beats_the_environment(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRANCH", "from-env")
    write(project, "plan.json", json.dumps(PLAN))
    result = uet(capsys, "run", "plan.json", "--var", "BRANCH=feature/x", "--run-id", "r1")
    assert result.code == 0, result.err
    assert "warning: plan.json: steps[0].owner: unknown step key" in result.err
    assert "branch=feature/x" in uet(capsys, "logs", "r1", "show").out


def test_validate_var_and_the_unset_variable_hint(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRANCH", raising=False)
    write(project, "plan.json", json.dumps(PLAN))
    missing = uet(capsys, "validate", "plan.json")
    assert missing.code == 2
    assert "steps[0].args[1]: environment variable BRANCH is not set (pass --var BRANCH=VALUE" in (
        missing.err
    )
    assert uet(capsys, "validate", "plan.json", "--var", "BRANCH=main").code == 0


def test_a_bad_var_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "plan.json", json.dumps(PLAN))
    result = uet(capsys, "validate", "plan.json", "--var", "no-equals")
    assert result.code == 2
    assert result.err.strip() == (
        "uet: error: --var 'no-equals': expected KEY=VALUE with KEY a variable name (BRANCH=main)"
    )
    assert "Traceback" not in result.err


BUNDLE = {
    "id": "ws-docs",
    "openspec_change": "OS-1",
    "ccpm_issue": 1,
    "gate": 1,
    "files_scope": ["docs/"],
    "tasks": ["Write the docs"],
    "tool": "aider",
    "acceptance_tests": ["test -f docs/index.md", "All links work"],
}


def test_validate_lists_what_each_bundle_runs_and_what_it_tells_the_agent(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project, "ws-docs.json", json.dumps(BUNDLE))
    result = uet(capsys, "validate", "ws-docs.json")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "ws-docs/implement: runs 1 acceptance command(s) in its clone, "
        "gives 1 to the agent as instructions",
        "  run:  test -f docs/index.md",
        "  tell: All links work",
        "ok: 1 workstreams, 1 tasks",
    ]
    data = json.loads(uet(capsys, "validate", "ws-docs.json", "--json").out)
    assert data["acceptance"] == [
        {
            "task": "ws-docs/implement",
            "run": ["test -f docs/index.md"],
            "instructions": ["All links work"],
        }
    ]
    assert data["warnings"] == []


def test_a_bundle_given_alone_names_the_file_to_add(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = {**BUNDLE, "id": "ws-api", "files_scope": ["api/"], "depends_on": ["ws-base"]}
    write(project, "ws-api.json", json.dumps(other))
    result = uet(capsys, "validate", "ws-api.json")
    assert result.code == 2
    assert result.err.strip() == (
        "ws-api.json: depends_on[0]: unknown workstream 'ws-base' "
        "(no bundle file in ./ defines it: give the file that does)"
    )
