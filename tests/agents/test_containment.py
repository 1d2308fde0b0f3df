"""Agent containment, end to end: the acceptance gate and its fix loop run in the clone
before anything merges, and protected paths never reach the target.

Real processes all the way: `uet run` in-process (the CLI's entry point), the agent runner
as each attempt's process, the fake agent CLI as the tool, real git clones, a real SQLite
store. Workstreams are native YAML tool tasks that set what a legacy bundle's
circuit_breaker and prose acceptance map to (``fix_loop``, ``acceptance_instructions``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.isolation.gitrepo import commit, git, make_repo
from uet.cli import main
from uet.state.records import DecisionRecord
from uet.state.store import Store
from uet.testing import script_calls, write_script

CHECK = (
    "import sys\n"
    "sys.path.insert(0, 'src')\n"
    "import hello\n"
    "got = hello.greet()\n"
    "if got != 'HELLO':\n"
    "    sys.exit(f'greet() returned {got!r}, expected HELLO')\n"
)
WRONG = 'def greet():\n    return "HELLO WRONG"\n'
OTHER_WRONG = 'def greet():\n    return "hello"\n'
RIGHT = 'def greet():\n    return "HELLO"\n'
GATE = "python check.py"


def _config(script: Path, extra: str = "") -> str:
    argv = ["python", "-m", "uet.testing.fake_agent", "--script", str(script)]
    argv += ["--prompt-file", "{prompt_file}"]
    return f'[tools.fake]\nargv = {json.dumps(argv)}\ncapabilities = ["code_edit"]\n{extra}'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    files = {
        "README.md": "# demo\n",
        "check.py": CHECK,
        "src/hello.py": 'def greet():\n    return "TODO"\n',
        "pyproject.toml": '[project]\nname = "demo"\ndependencies = []\n',
    }
    repo = make_repo(tmp_path / "repo", files)
    monkeypatch.chdir(repo)
    return repo


def _setup(repo: Path, script: Path, extra: str = "") -> str:
    """Commit the project's uet.toml (so an agent can edit it); main's tip."""
    return commit(repo, {"uet.toml": _config(script, extra)}, "uet config")


def _workstream(repo: Path, **task: Any) -> Path:
    path = repo.parent / "ws.yaml"
    base = {"id": "fix", "tool": "fake", "prompt": "Make greet() return HELLO"}
    path.write_text(yaml.safe_dump({"id": "demo", "tasks": [{**base, **task}]}), "utf-8")
    return path


def _decisions(repo: Path, run: str, category: str) -> list[DecisionRecord]:
    store = Store.open(f"sqlite:///{repo / '.uet' / 'state.db'}")
    try:
        with store.reader() as tx:
            return tx.get_decisions(run_id=run, category=category)
    finally:
        store.close()


def _log(repo: Path) -> str:
    return git(repo, "log", "--format=%H %s", "main")


def _write(content: str, path: str = "src/hello.py") -> list[dict[str, Any]]:
    return [{"action": "write", "path": path, "content": content}]


def _run(workstream: Path, run_id: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", str(workstream), "--run-id", run_id])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_wrong_change_fails_its_gate_in_the_clone_for_every_fix_attempt_and_never_reaches_main(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "agent.json", _write(WRONG))
    before = _setup(project, script)
    log = _log(project)
    marker = project / "INSTRUCTION-RAN"
    workstream = _workstream(
        project,
        acceptance=[GATE],
        acceptance_instructions=["All tests pass", f"touch {marker}"],
        fix_loop={"max_attempts": 3},
    )

    code, out = _run(workstream, "wrong", capsys)

    assert code == 1, out
    assert len(script_calls(script)) == 3  # the tool was called max_attempts times
    assert _log(project) == log  # main's history is unchanged
    assert git(project, "rev-parse", "main") == before
    assert "HELLO WRONG" not in git(project, "log", "-p", "--all", "--", "src/hello.py")
    steps = _decisions(project, "wrong", "fix_loop")
    assert [(d.data["step"], d.chosen) for d in steps] == [(1, "again"), (2, "again"), (3, "stop")]
    assert steps[-1].data["stopped_by"] == "max_attempts"
    assert all(d.data["command"] == GATE and d.data["exit_code"] == 1 for d in steps)
    assert "greet() returned 'HELLO WRONG'" in steps[0].data["output"]
    assert _decisions(project, "wrong", "merge") == []  # nothing went to the merge queue
    # Each try after the first sees the failing command's output in its prompt; the prose
    # acceptance criteria are in every prompt and were never run.
    prompts = [call["prompt"] for call in script_calls(script)]
    assert "greet() returned" not in prompts[0]
    assert all("`python check.py` exited 1" in p for p in prompts[1:])
    assert all("greet() returned 'HELLO WRONG'" in p for p in prompts[1:])
    assert all("- All tests pass" in p for p in prompts)
    assert not marker.exists()


def test_a_fix_on_the_second_try_passes_the_gate_and_only_the_fixed_change_merges(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "agent.json", calls=[_write(WRONG), _write(RIGHT)])
    _setup(project, script)
    log = _log(project)
    workstream = _workstream(project, acceptance=[GATE], fix_loop={"max_attempts": 3})

    code, out = _run(workstream, "fixed", capsys)

    assert code == 0, out
    assert len(script_calls(script)) == 2
    assert git(project, "show", "main:src/hello.py") == RIGHT.strip()
    assert git(project, "log", "--format=%H %s", "main~1") == log  # one new commit on top
    assert "HELLO WRONG" not in git(project, "log", "-p", "main", "--", "src/hello.py")
    steps = _decisions(project, "fixed", "fix_loop")
    assert [(d.data["step"], d.chosen) for d in steps] == [(1, "again"), (2, "passed")]
    [merge] = _decisions(project, "fixed", "merge")
    assert merge.chosen.startswith("merged")


def test_the_fix_loop_stops_when_the_same_error_repeats(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "agent.json", _write(WRONG))
    before = _setup(project, script)
    loop = {"max_attempts": 5, "max_error_repeats": 2}
    workstream = _workstream(project, acceptance=[GATE], fix_loop=loop)

    code, out = _run(workstream, "stuck", capsys)

    assert code == 1, out
    assert len(script_calls(script)) == 2  # not 5: the second identical failure ends it
    steps = _decisions(project, "stuck", "fix_loop")
    assert [d.chosen for d in steps] == ["again", "stop"]
    assert steps[-1].data["stopped_by"] == "max_error_repeats"
    assert steps[0].data["signature"] == steps[1].data["signature"]
    assert git(project, "rev-parse", "main") == before


def test_the_fix_loop_stops_when_the_errors_oscillate(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(
        tmp_path / "agent.json", calls=[_write(WRONG), _write(OTHER_WRONG)], then="cycle"
    )
    before = _setup(project, script)
    loop = {"max_attempts": 8, "max_error_repeats": 5, "oscillation_threshold": 2}
    workstream = _workstream(project, acceptance=[GATE], fix_loop=loop)

    code, out = _run(workstream, "osc", capsys)

    assert code == 1, out
    assert len(script_calls(script)) == 4  # A, B, A, B
    steps = _decisions(project, "osc", "fix_loop")
    assert steps[-1].data["stopped_by"] == "oscillation"
    signatures = [d.data["signature"] for d in steps]
    assert signatures[0] == signatures[2] != signatures[1] == signatures[3]
    assert git(project, "rev-parse", "main") == before


def test_an_agent_without_files_scope_may_not_touch_uet_toml_or_ci_workflows(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's case: no files_scope, the agent rewrites uet.toml and adds a workflow."""
    evil = [
        *_write(RIGHT),
        {"action": "append", "path": "uet.toml", "content": "\n[tools.evil]\nargv = ['sh']\n"},
        *_write("on: push\njobs: {}\n", ".github/workflows/x.yml"),
    ]
    script = write_script(tmp_path / "agent.json", evil)
    before = _setup(project, script)
    log = _log(project)
    workstream = _workstream(project, acceptance=[GATE])

    code, out = _run(workstream, "evil", capsys)

    assert code == 1, out
    assert _log(project) == log
    assert git(project, "rev-parse", "main") == before
    assert "tools.evil" not in git(project, "show", "main:uet.toml")
    assert git(project, "ls-tree", "-r", "--name-only", "main", ".github") == ""
    [scope] = _decisions(project, "evil", "scope")
    assert scope.chosen == "rejected"
    assert scope.data["protected"] == [".github/workflows/x.yml", "uet.toml"]
    assert scope.data["protected_by"] == {
        ".github/workflows/x.yml": ".github/**",
        "uet.toml": "uet.toml",
    }
    assert "uet.toml" in scope.reason
    assert ".github/workflows/x.yml" in scope.reason
    assert scope.data["outside"] == []  # no files_scope: everything else was allowed
    # The work is archived, not lost, and the clone is clean again.
    archive = scope.data["archive"]
    assert "tools.evil" in git(project, "show", f"{archive}:uet.toml")
    assert git(project, "show", f"{archive}:.github/workflows/x.yml") == "on: push\njobs: {}"
    assert git(project, "for-each-ref", "--format=%(refname)", "refs/uet/archive/") != ""
    assert _decisions(project, "evil", "merge") == []
    assert main(["decisions", "--run", "evil", "--category", "scope"]) == 0
    shown = capsys.readouterr().out
    assert "uet.toml" in shown
    assert ".github/workflows/x.yml" in shown


def test_a_catch_all_scope_does_not_open_protected_paths_but_naming_them_does(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change = [*_write(RIGHT), *_write("on: push\n", ".github/workflows/ci.yml")]
    script = write_script(tmp_path / "agent.json", change)
    before = _setup(project, script)

    workstream = _workstream(project, files_scope=["**"])
    code, out = _run(workstream, "all", capsys)
    assert code == 1, out
    assert git(project, "rev-parse", "main") == before
    [scope] = _decisions(project, "all", "scope")
    assert scope.data["protected"] == [".github/workflows/ci.yml"]

    workstream = _workstream(
        project, id="named", files_scope=["src/**", ".github/workflows/ci.yml"]
    )
    code, out = _run(workstream, "named", capsys)
    assert code == 0, out
    assert git(project, "show", "main:.github/workflows/ci.yml") == "on: push"
    assert _decisions(project, "named", "scope") == []


def test_pyproject_may_change_but_not_its_tool_uet_table(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dependency = '[project]\nname = "demo"\ndependencies = ["attrs"]\n'
    script = write_script(tmp_path / "agent.json", _write(dependency, "pyproject.toml"))
    _setup(project, script)
    code, out = _run(_workstream(project), "deps", capsys)
    assert code == 0, out
    assert "attrs" in git(project, "show", "main:pyproject.toml")

    tip = git(project, "rev-parse", "main")
    takeover = dependency + '\n[tool.uet]\ndb = "sqlite:////tmp/elsewhere.db"\n'
    write_script(script, _write(takeover, "pyproject.toml"))
    code, out = _run(_workstream(project, id="takeover"), "uet-table", capsys)
    assert code == 1, out
    assert git(project, "rev-parse", "main") == tip
    [scope] = _decisions(project, "uet-table", "scope")
    assert scope.data["protected_by"] == {"pyproject.toml": "pyproject.toml[tool.uet]"}


def test_the_configured_protected_paths_are_added_to_the_defaults(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "agent.json", _write("x\n", "deploy/prod.env"))
    before = _setup(project, script, '[agents]\nprotected_paths = ["deploy/"]\n')
    code, out = _run(_workstream(project), "configured", capsys)
    assert code == 1, out
    assert git(project, "rev-parse", "main") == before
    [scope] = _decisions(project, "configured", "scope")
    assert scope.data["protected_by"] == {"deploy/prod.env": "deploy/"}


def test_a_bad_protected_path_in_the_config_is_a_clear_error_before_anything_runs(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "agent.json", _write(RIGHT))
    _setup(project, script, '[agents]\nprotected_paths = ["../outside"]\n')
    code = main(["run", str(_workstream(project)), "--run-id", "bad"])
    err = capsys.readouterr().err
    assert code == 2
    assert "agents.protected_paths" in err
    assert "../outside" in err
    assert "Traceback" not in err
    assert script_calls(script) == []


def test_a_protected_change_during_the_fix_loop_ends_it_and_keeps_all_the_work_archived(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sneaky = [*_write(RIGHT), *_write("on: push\n", ".github/workflows/x.yml")]
    script = write_script(tmp_path / "agent.json", calls=[_write(WRONG), sneaky])
    before = _setup(project, script)
    workstream = _workstream(project, acceptance=[GATE], fix_loop={"max_attempts": 3})

    code, out = _run(workstream, "sneaky", capsys)

    assert code == 1, out
    assert len(script_calls(script)) == 2  # no third try after a rejection
    assert git(project, "rev-parse", "main") == before
    [step] = _decisions(project, "sneaky", "fix_loop")
    assert step.chosen == "again"
    [scope] = _decisions(project, "sneaky", "scope")
    assert scope.data["protected"] == [".github/workflows/x.yml"]
    assert git(project, "show", f"{scope.data['archive']}:src/hello.py") == RIGHT.strip()
    store = Store.open(f"sqlite:///{project / '.uet' / 'state.db'}")
    with store.reader() as tx:
        [attempt] = tx.get_attempts("sneaky")
    store.close()
    assert attempt.exit_code == 65


def test_engine_retries_start_a_new_fix_loop_in_the_same_clone(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "agent.json", _write(WRONG))
    before = _setup(project, script)
    workstream = _workstream(
        project, acceptance=[GATE], fix_loop={"max_attempts": 2}, retries=1, retry_delay=0
    )

    code, out = _run(workstream, "retried", capsys)

    assert code == 1, out
    calls = script_calls(script)
    assert len(calls) == 4  # (retries + 1) x max_attempts
    assert len({call["cwd"] for call in calls}) == 1
    steps = _decisions(project, "retried", "fix_loop")
    assert [(d.data["attempt"], d.data["step"], d.chosen) for d in steps] == [
        (1, 1, "again"),
        (1, 2, "stop"),
        (2, 1, "again"),
        (2, 2, "stop"),
    ]
    assert git(project, "rev-parse", "main") == before


def test_a_gate_that_hangs_is_killed_by_the_task_timeout_and_nothing_merges(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = write_script(tmp_path / "agent.json", _write(RIGHT))
    before = _setup(project, script)
    workstream = _workstream(
        project, acceptance=["sleep 120"], fix_loop={"max_attempts": 3}, timeout=3
    )

    code, out = _run(workstream, "hung", capsys)

    assert code == 1, out
    store = Store.open(f"sqlite:///{project / '.uet' / 'state.db'}")
    with store.reader() as tx:
        [attempt] = tx.get_attempts("hung")
    store.close()
    assert attempt.state.value == "timed_out"
    assert git(project, "rev-parse", "main") == before
    assert _decisions(project, "hung", "merge") == []
