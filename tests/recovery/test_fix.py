"""``uet fix`` end to end: real git repositories, ruff, the patch ledger in a real SQLite
store, the agent runner and the fake agent (counted) — through the command line.

Only ruff is enabled in these projects (mypy, bandit and pytest are slow to start on a
loaded machine); the seeded corpus test (test_fix_corpus.py) runs every checker.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.recovery.checkers.scanning import Outcome, git, run_uet
from uet.recovery.findings import Category, Finding, Severity
from uet.recovery.fix import _oscillates, error_signature, prompt_for
from uet.state.records import DecisionRecord
from uet.state.store import Store
from uet.testing import script_calls, write_script

APP = """\
import sys
import os


def where() -> str:
    return os.sep


def missing(value: int | None) -> bool:
    if value == None:
        return True
    return False
"""
FIXED = """\
import os


def where() -> str:
    return os.sep


def missing(value: int | None) -> bool:
    return value is None
"""
AFTER_FIXERS = APP.replace("import sys\n", "")
STILL_BAD = AFTER_FIXERS + "\n\n# tried\n"  # E711 left as it was
RUFF_ONLY = """\
[checkers.mypy]
enabled = false
[checkers.bandit]
enabled = false
[checkers.pytest]
enabled = false
"""


def _project(
    root: Path, tool: list[str] | None = None, files: dict[str, str] | None = None
) -> Path:
    """A git repository with app.py (F401, I001: safe; E711: unsafe) and a ``fake`` tool."""
    root.mkdir(parents=True)
    toml = RUFF_ONLY
    if tool is not None:
        toml += f'[tools.fake]\nargv = {json.dumps(tool)}\ncapabilities = ["fix"]\n'
    tree = {
        "uet.toml": toml,
        ".gitignore": ".uet/\n__pycache__/\n",
        "ruff.toml": '[lint]\nselect = ["E", "F", "I"]\n',
        "app.py": APP,
        **(files or {}),
    }
    for path, text in tree.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


def _fake(script: Path) -> list[str]:
    return ["python", "-m", "uet.testing.fake_agent", "--script", str(script),
            "--prompt-file", "{prompt_file}", "{files}"]  # fmt: skip


def _decisions(root: Path, category: str) -> list[DecisionRecord]:
    store = Store.open(f"sqlite:///{root / '.uet' / 'state.db'}")
    try:
        with store.reader() as tx:
            return tx.get_decisions(category=category)
    finally:
        store.close()


def _fix(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[Outcome, dict]:  # type: ignore[type-arg]
    result = run_uet(capsys, "fix", "--json", *args)
    return result, json.loads(result.out) if result.out.strip() else {}


def test_mechanical_fixers_land_safe_fixes_with_no_agent_and_a_second_run_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "agent.json", [{"action": "fail"}])
    root = _project(tmp_path / "p", _fake(script))
    monkeypatch.chdir(root)
    result, data = _fix(capsys, "--no-agents")
    assert result.code == 1, result.err  # E711's fix is unsafe: left for an agent
    assert [(p["fixer"], p["state"], p["queue"]) for p in data["patches"]] == [
        ("ruff-isort", "committed", "auto_merge"),
        ("ruff-fix", "committed", "auto_merge"),
    ]
    assert [f["rule"] for f in data["remaining"]] == ["E711"]
    assert data["agent_calls"] == 0
    assert script_calls(script) == []
    text = (root / "app.py").read_text()
    assert "import sys" not in text
    assert "== None" in text
    log = git(root, "log", "--format=%s", "main").splitlines()
    assert len(log) == 3
    assert all(s.startswith("uet patch p") for s in log[:2])

    tip = git(root, "rev-parse", "main")
    again, data = _fix(capsys, "--no-agents")
    assert again.code == 1
    assert data["patches"] == []
    assert data["fixed"] == 0
    assert git(root, "rev-parse", "main") == tip
    assert git(root, "status", "--porcelain") == ""


def test_agents_fix_what_is_left_and_a_retry_gets_the_validation_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fake agent's first try leaves E711: validation refuses it, and the second call's
    prompt holds why; its second try lands. The mechanical fixes were no agent's work."""
    script = write_script(tmp_path / "agent.json", calls=[
        [{"action": "write", "path": "app.py", "content": STILL_BAD}],
        [{"action": "write", "path": "app.py", "content": FIXED}],
    ])  # fmt: skip
    root = _project(tmp_path / "p", _fake(script))
    monkeypatch.chdir(root)
    result, data = _fix(capsys)
    assert result.code == 0, result.err
    assert data["remaining"] == []
    assert data["fixed"] == 3
    calls = script_calls(script)
    assert data["agent_calls"] == len(calls) == 2
    assert "E711" in calls[0]["prompt"]
    assert "F401" not in calls[0]["prompt"]
    assert "refused by validation" not in calls[0]["prompt"]
    assert "refused by validation" in calls[1]["prompt"]
    assert "still there: app.py:9 ruff/E711" in calls[1]["prompt"].partition("refused")[2]
    agents = [p for p in data["patches"] if p["fixer"] == "agent:fake"]
    assert [(p["attempt"], p["state"], p["landed"]) for p in agents] == [
        (1, "dropped", False),
        (2, "committed", True),
    ]
    assert (root / "app.py").read_text() == FIXED
    assert run_uet(capsys, "patch", "list", "--json").code == 0


def test_a_fix_that_fails_the_same_way_twice_stops_with_a_breaker_decision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [{"action": "write", "path": "app.py", "content": STILL_BAD}]
    script = write_script(tmp_path / "agent.json", bad)
    root = _project(tmp_path / "p", _fake(script))
    monkeypatch.chdir(root)
    result, data = _fix(capsys, "--max-attempts", "5")
    assert result.code == 1
    assert len(script_calls(script)) == data["agent_calls"] == 2  # not 5
    assert [s["rule"] for s in data["stopped"]] == ["oscillation"]
    [breaker] = _decisions(root, "breaker")
    assert breaker.chosen == "open"
    assert breaker.data["file"] == "app.py"
    assert [f["rule"] for f in data["remaining"]] == ["E711"]


def test_attempts_per_finding_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each try fails differently (no oscillation): --max-attempts stops it."""
    script = write_script(tmp_path / "agent.json", calls=[
        [{"action": "write", "path": "app.py", "content": STILL_BAD + "a = alpha\n"}],
        [{"action": "write", "path": "app.py", "content": STILL_BAD + "b = beta\n"}],
    ])  # fmt: skip
    root = _project(tmp_path / "p", _fake(script))
    monkeypatch.chdir(root)
    result, data = _fix(capsys, "--max-attempts", "2")
    assert result.code == 1
    assert len(script_calls(script)) == data["agent_calls"] == 2
    assert [s["rule"] for s in data["stopped"]] == ["attempts"]


def test_a_fix_adding_a_symlink_out_of_the_repository_is_refused_by_the_content_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misbehaving agent (a tool profile running a small script) fixes app.py and
    plants a symlink to /etc/passwd: the containment checker refuses the change (a
    ``scope`` decision naming the path and the rule); nothing reaches main."""
    evil = tmp_path / "evil.py"
    evil.write_text("import os, pathlib\nos.symlink('/etc/passwd', 'pw')\n"
                    f"pathlib.Path('app.py').write_text({FIXED!r})\n")  # fmt: skip
    root = _project(tmp_path / "p", ["python", str(evil)])
    monkeypatch.chdir(root)
    tip = git(root, "rev-parse", "main")
    result, data = _fix(capsys, "--max-attempts", "1", "--no-agents")
    assert result.code == 1
    tip = git(root, "rev-parse", "main")  # the mechanical fixes landed
    result, data = _fix(capsys, "--max-attempts", "1")
    assert result.code == 1
    [attempt] = [p for p in data["patches"] if p["fixer"].startswith("agent")]
    assert attempt["patch"] is None
    assert "content rule symlink: pw" in attempt["reason"]
    [scope] = _decisions(root, "scope")
    assert scope.chosen == "reject"
    assert scope.data["violations"][0]["path"] == "pw"
    assert scope.data["violations"][0]["rule"] == "symlink"
    assert git(root, "rev-parse", "main") == tip
    assert not (root / "pw").exists()
    assert not (root / "pw").is_symlink()


def test_dry_run_records_nothing_and_bad_input_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "agent.json", [{"action": "fail"}])
    root = _project(tmp_path / "p", _fake(script))
    monkeypatch.chdir(root)
    tip = git(root, "rev-parse", "main")
    result, data = _fix(capsys, "--dry-run")
    assert result.code == 1
    assert [p["fixer"] for p in data["patches"]] == ["ruff-isort", "ruff-fix", "agent"]
    assert data["patches"][0]["diff"].startswith("diff --git a/app.py b/app.py")
    assert all(p["patch"] is None for p in data["patches"])
    assert script_calls(script) == []
    assert git(root, "rev-parse", "main") == tip
    assert run_uet(capsys, "patch", "list", "--json").json() == []

    (root / "app.py").write_text(FIXED)  # uncommitted: the fixes could not land
    dirty = run_uet(capsys, "fix")
    assert dirty.code == 2
    assert "uncommitted changes (app.py)" in dirty.err
    git(root, "checkout", "-q", "app.py")
    assert run_uet(capsys, "fix", "--max-attempts", "0").code == 2


def test_oscillation_is_the_same_signature_twice_in_the_last_four() -> None:
    a, b, c, d = (error_signature(f"ruff: still there: app.py:{n} ruff/{rule}")
                  for n, rule in ((9, "E711"), (3, "F401"), (12, "E712"), (4, "F841")))  # fmt: skip
    assert error_signature("app.py:9 E711") == error_signature("app.py:10 E711")  # lines left out
    assert error_signature("app.py:9 E711") != error_signature("app.py:9 E712")
    assert not _oscillates([a, b, c, d])
    assert _oscillates([a, b, a])
    assert not _oscillates([a, b, c, d, a])  # the first a is five attempts back


def test_the_prompt_holds_the_findings_and_on_a_retry_the_failures() -> None:
    found = [Finding("mypy", "return-value", Severity.ERROR, Category.TYPE, "pkg/a.py", 4, 5,
                     'Incompatible return value type (got "int", expected "str")')]  # fmt: skip
    first = prompt_for("pkg/a.py", found, None, 1)
    assert "pkg/a.py:4 mypy/return-value Incompatible return value type" in first
    assert "[error]" in first
    assert "refused" not in first
    again = prompt_for("pkg/a.py", found, "mypy: new: pkg/a.py:9 mypy/arg-type …", 2)
    assert "Attempt 1 was refused by validation:\nmypy: new: pkg/a.py:9" in again


def test_a_rounds_changes_are_validated_together_and_a_failing_batch_file_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Round 1: a.py mended, b.py not (its E711 left): the batch of both fails, so each is
    validated alone — a.py lands, b.py is retried with its own failure and lands in round 2."""
    key = tmp_path / "key"
    key.mkdir()
    (key / "a.py").write_text(FIXED)
    (key / "b.py").write_text(STILL_BAD)
    script = write_script(tmp_path / "agent.json", calls=[
        [{"action": "copy", "from": f"{key}/{{files}}", "path": "{files}"}],
        [{"action": "copy", "from": f"{key}/{{files}}", "path": "{files}"}],
        [{"action": "write", "path": "b.py", "content": FIXED}],
    ])  # fmt: skip
    root = _project(tmp_path / "p", _fake(script), {"a.py": APP, "b.py": APP})
    monkeypatch.chdir(root)
    git(root, "rm", "-q", "app.py")
    git(root, "commit", "-q", "-m", "two files")
    result, data = _fix(capsys)
    assert result.code == 0, result.err
    calls = script_calls(script)
    assert [c["files"] for c in calls] == [["a.py"], ["b.py"], ["b.py"]]
    assert "b.py:9 ruff/E711" in calls[2]["prompt"].partition("refused")[2]
    agents = [(p["files"], p["state"]) for p in data["patches"] if p["fixer"] == "agent:fake"]
    assert agents == [
        (["a.py", "b.py"], "dropped"),  # the batch
        (["a.py"], "committed"),
        (["b.py"], "dropped"),
        (["b.py"], "committed"),
    ]
    assert (root / "a.py").read_text() == (root / "b.py").read_text() == FIXED
