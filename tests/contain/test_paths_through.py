"""The one content checker on every path an agent's change takes to main: `uet agents
merge` (commits made by hand in a clone), a legacy bundle through `uet run`, and the
`sandbox: required` refusal when bubblewrap cannot start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import Uet
from tests.isolation.gitrepo import commit, git, make_repo
from uet.cli import main


@pytest.fixture
def repo(project: Path) -> Path:
    make_repo(project)
    commit(project, {".gitignore": ".uet/\n"}, "ignore uet's home")
    return project


def test_agents_merge_refuses_a_committed_symlink_out_and_records_a_scope_decision(
    uet: Uet, repo: Path
) -> None:
    assert uet("agents", "create", "a1", "--scope", "src/app/**").code == 0
    ran = uet("agents", "exec", "a1", "--", "ln", "-s", "/etc/passwd", "src/app/pw")
    assert ran.code == 0, ran.err
    assert uet("agents", "commit", "a1", "src/app/pw", "-m", "a link").code == 0
    before = git(repo, "rev-parse", "main")
    refused = uet("agents", "merge", "a1")
    assert refused.code == 1
    assert "[content]" in refused.out
    assert "src/app/pw (symlink" in refused.out
    assert git(repo, "rev-parse", "main") == before
    [decision] = json.loads(uet("decisions", "--category", "scope", "--json").out)
    assert decision["chosen"] == "rejected"
    assert decision["data"]["rules"] == ["symlink"]
    assert decision["data"]["content"][0]["path"] == "src/app/pw"


def test_agents_merge_refuses_a_committed_binary_and_an_executable(uet: Uet, repo: Path) -> None:
    assert uet("agents", "create", "a2", "--scope", "src/**").code == 0
    script = "printf 'a\\0b' > src/app/x.bin; echo '#!/bin/sh' > src/run.sh; chmod +x src/run.sh"
    assert uet("agents", "exec", "a2", "--", "sh", "-c", script).code == 0
    assert uet("agents", "commit", "a2", "src/app/x.bin", "src/run.sh", "-m", "bin").code == 0
    refused = uet("agents", "merge", "a2")
    assert refused.code == 1
    assert "src/app/x.bin (binary" in refused.out
    assert "src/run.sh (executable" in refused.out


def test_a_legacy_bundle_goes_through_the_same_checker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "# r\n", "docs/a.md": "a\n"})
    script = tmp_path / "agent.sh"
    script.write_text("#!/bin/sh\nln -s ../../.. docs/up\n", "utf-8")
    config = (
        f'[tools.bad]\nargv = {json.dumps(["sh", str(script)])}\ncapabilities = ["code_edit"]\n'
    )
    commit(repo, {"uet.toml": config}, "config")
    bundle = tmp_path / "ws-docs.json"
    bundle.write_text(
        json.dumps(
            {"id": "ws-docs", "tasks": ["Write docs"], "tool": "bad", "files_scope": ["docs/**"]}
        ),
        "utf-8",
    )
    monkeypatch.chdir(repo)
    before = git(repo, "rev-parse", "main")
    code = main(["run", str(bundle), "--run-id", "b1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "symlink" in out
    assert git(repo, "rev-parse", "main") == before


def test_sandbox_required_without_bubblewrap_is_an_infrastructure_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 3 before anything runs, one line saying why and what to do."""
    repo = make_repo(tmp_path / "repo", {"README.md": "# r\n"})
    commit(repo, {"uet.toml": '[tools.t]\nargv = ["true"]\n'}, "config")
    ws = tmp_path / "ws.yaml"
    task = {"id": "a", "tool": "t", "prompt": "p", "sandbox": "required"}
    ws.write_text(yaml.safe_dump({"id": "w", "tasks": [task]}), "utf-8")
    monkeypatch.chdir(repo)
    monkeypatch.delenv("UET_SANDBOX", raising=False)
    monkeypatch.setenv("UET_BWRAP", str(tmp_path / "no-bwrap"))
    code = main(["run", str(ws)])
    captured = capsys.readouterr()
    assert code == 3
    assert "sandbox: required by w/a" in captured.err + captured.out
    assert "Traceback" not in captured.err


def test_a_tool_gets_the_allow_list_and_its_passthrough_and_config_secrets_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through `uet run`: PASS_ME (declared) reaches the tool, NOT_ME does not; the alert
    channel URL the tool reads from the clone's uet.toml is *** in the task's log."""
    repo = make_repo(tmp_path / "repo", {"README.md": "# r\n"})
    script = tmp_path / "agent.sh"
    script.write_text("#!/bin/sh\nenv | sort\ncat uet.toml\n", "utf-8")
    config = (
        f"[tools.t]\nargv = {json.dumps(['sh', str(script)])}\n"
        'env_passthrough = ["PASS_ME"]\n\n'
        '[alerts.channels.ops]\nurl = "json://hooks.example/very-secret-path"\n'
    )
    commit(repo, {"uet.toml": config}, "config")
    ws = tmp_path / "ws.yaml"
    task = {"id": "a", "tool": "t", "prompt": "p", "env": {"FROM_TASK": "task-value"}}
    ws.write_text(yaml.safe_dump({"id": "w", "tasks": [task]}), "utf-8")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("PASS_ME", "hello-123")
    monkeypatch.setenv("NOT_ME", "nope-456")
    main(["run", str(ws), "--run-id", "e1"])
    capsys.readouterr()
    log = (repo / ".uet" / "logs" / "e1" / "w" / "a.log").read_text("utf-8")
    assert "PASS_ME=hello-123" in log
    assert "FROM_TASK=task-value" in log
    assert "NON_INTERACTIVE=1" in log
    assert "nope-456" not in log
    assert "very-secret-path" not in log
    assert 'url = "***"' in log


def test_without_bubblewrap_auto_runs_unsandboxed_and_records_why_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = make_repo(tmp_path / "repo", {"README.md": "# r\n", "docs/a.md": "a\n"})
    script = tmp_path / "agent.sh"
    script.write_text("#!/bin/sh\necho more >> docs/a.md\n", "utf-8")
    config = f"[tools.t]\nargv = {json.dumps(['sh', str(script)])}\n"
    commit(repo, {"uet.toml": config}, "config")
    ws = tmp_path / "ws.yaml"
    tasks = [{"id": n, "tool": "t", "prompt": "p", "files_scope": ["docs/**"]} for n in "ab"]
    tasks[1]["depends_on"] = ["a"]
    ws.write_text(yaml.safe_dump({"id": "w", "tasks": tasks}), "utf-8")
    monkeypatch.chdir(repo)
    monkeypatch.delenv("UET_SANDBOX", raising=False)
    monkeypatch.setenv("UET_BWRAP", str(tmp_path / "no-bwrap"))
    assert main(["run", str(ws), "--run-id", "n1"]) == 0
    capsys.readouterr()
    assert main(["decisions", "--run", "n1", "--category", "sandbox", "--json"]) == 0
    [decision] = json.loads(capsys.readouterr().out)
    assert decision["chosen"] == "none"
    assert "not installed" in decision["reason"]
    log = (repo / ".uet" / "logs" / "n1" / "w" / "a.log").read_text("utf-8")
    assert "sandbox: off (bubblewrap (bwrap) is not installed" in log
