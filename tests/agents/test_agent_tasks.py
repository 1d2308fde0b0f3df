"""Tool tasks end to end: routing, fallback on a rate limit, breakers, scope, the merge queue.

Real processes all the way: `uet run` in-process, the agent runner as each attempt's
process, the fake agent CLI as the tool, real git clones, a real SQLite store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.isolation.gitrepo import git, make_repo
from uet.cli import main
from uet.config import load_settings
from uet.events.catalog import problems
from uet.routing import Router, load_routing
from uet.state.store import Store
from uet.testing import write_script

TASKS = 12


def _tool(name: str, script: Path) -> str:
    argv = ["python", "-m", "uet.testing.fake_agent", "--script", str(script)]
    argv += ["--prompt-file", "{prompt_file}", "{files}"]
    return (
        f'[tools.{name}]\nargv = {json.dumps(argv)}\ncapabilities = ["code_edit"]\n'
        f'rate_limit_patterns = ["rate limit", "429"]\n'
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    files = {f"work/t{n:02d}.txt": f"task {n}\n" for n in range(1, TASKS + 1)}
    repo = make_repo(tmp_path / "repo", {"README.md": "# demo\n", **files})
    monkeypatch.chdir(repo)
    return repo


def _write_config(repo: Path, scripts: dict[str, Path], *, cooldown: float) -> None:
    text = "".join(_tool(name, script) for name, script in scripts.items())
    text += (
        "[routing]\n"
        f"breaker = {{failure_threshold = 3, cooldown = {cooldown}, half_open_probes = 1}}\n"
        '[[routing.rules]]\nname = "edits"\nmatch = {kind = "code_edit"}\n'
        f'tools = {json.dumps(sorted(scripts))}\nstrategy = "round_robin"\n'
    )
    (repo / "uet.toml").write_text(text, encoding="utf-8")


def _workstream(repo: Path, tasks: list[dict[str, object]]) -> Path:
    path = repo.parent / "agents.json"
    path.write_text(json.dumps({"id": "agents", "tasks": tasks}), encoding="utf-8")
    return path


def _edit_task(n: int, **extra: object) -> dict[str, object]:
    return {
        "id": f"t{n:02d}",
        "tool": "auto",
        "kind": "code_edit",
        "prompt": f"edit task {n}",
        "files_scope": [f"work/t{n:02d}.txt"],
        **extra,
    }


def test_twelve_agent_tasks_succeed_through_fallback_when_a_tool_starts_rate_limiting(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit = [{"action": "write", "path": "{files}", "content": "done: {prompt}\n"}]
    scripts = {
        "alpha": write_script(tmp_path / "alpha.json", edit),
        "beta": write_script(  # one good call, then rate-limited for good
            tmp_path / "beta.json", calls=[edit, [{"action": "rate_limit"}]]
        ),
        "gamma": write_script(tmp_path / "gamma.json", edit),
    }
    _write_config(project, scripts, cooldown=0.3)
    tasks = [_edit_task(n) for n in range(1, TASKS + 1)]
    for n in range(2, TASKS + 1):  # a chain, so that the breaker's cooldown passes mid-run
        tasks[n - 1]["depends_on"] = [f"t{n - 1:02d}"]
    workstream = _workstream(project, tasks)

    code = main(["run", str(workstream), "--run-id", "r1", "-j", "2"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err

    # Every task's change reached main, each once, from the agent that made it.
    for n in range(1, TASKS + 1):
        content = git(project, "show", f"main:work/t{n:02d}.txt")
        assert content.startswith(f"done: edit task {n}\n")  # then the rest of the prompt
    assert git(project, "rev-list", "--count", "main") == str(1 + TASKS)
    assert git(project, "status", "--porcelain", "--untracked-files=no") == ""

    store = Store.open(f"sqlite:///{project / '.uet' / 'state.db'}")
    with store.reader() as tx:
        events = tx.get_events("r1")
        decisions = tx.get_decisions(run_id="r1")
        tasks_done = tx.get_tasks("r1")
    store.close()
    assert {t.status.value for t in tasks_done} == {"succeeded"}
    types = [e.type for e in events]
    assert "breaker.opened" in types
    off_catalog = [
        p for e in events for p in problems(e.type, e.payload, run_id=e.run_id, task_id=e.task_id)
    ]
    assert not off_catalog, off_catalog  # route.decided, breaker.*, agent.* included
    agent_events = [e for e in events if e.type.startswith("agent.")]
    assert {"agent.created", "agent.merged"} <= {e.type for e in agent_events}
    assert all(e.task_id for e in agent_events)  # they came from tasks of run r1, and say so
    assert "breaker.half_open" in types  # the cooldown passed and a probe went to beta
    categories = {d.category for d in decisions}
    assert {"routing", "fallback", "breaker", "merge"} <= categories
    fallbacks = [d for d in decisions if d.category == "fallback" and d.chosen == "next tool"]
    assert fallbacks
    assert all("beta" in d.reason for d in fallbacks)
    opened = [d for d in decisions if d.category == "breaker" and d.chosen == "open"]
    assert opened[0].data["tool"] == "beta"
    # No retry budget was spent on the rate limit: each task succeeded within one attempt
    # of its own (retries default to 0).
    assert all(t.attempts_used <= 1 for t in tasks_done)

    shown = main(["decisions", "--run", "r1", "--category", "fallback"])
    assert shown == 0
    assert "rate-limited" in capsys.readouterr().out


def test_a_task_that_edits_outside_its_scope_is_rejected_and_nothing_reaches_main(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sneaky = [
        {"action": "write", "path": "{files}", "content": "fine\n"},
        {"action": "write", "path": "README.md", "content": "# hijacked\n"},
    ]
    _write_config(project, {"alpha": write_script(tmp_path / "alpha.json", sneaky)}, cooldown=60)
    before = git(project, "rev-parse", "main")
    workstream = _workstream(project, [_edit_task(1)])

    code = main(["run", str(workstream), "--run-id", "r2"])
    out = capsys.readouterr()
    assert code == 1
    assert git(project, "rev-parse", "main") == before
    assert git(project, "show", "main:README.md") == "# demo"
    store = Store.open(f"sqlite:///{project / '.uet' / 'state.db'}")
    with store.reader() as tx:
        [scope] = tx.get_decisions(run_id="r2", category="scope")
    store.close()
    assert scope.chosen == "rejected"
    assert scope.data["outside"] == ["README.md"]
    # The rejected change is kept, not lost.
    assert git(project, "show", f"{scope.data['archive']}:README.md") == "# hijacked"
    assert main(["logs", "r2", "t01"]) == 0
    assert "outside files_scope" in capsys.readouterr().out
    assert "README.md" not in out.err


def test_an_unknown_tool_is_refused_before_anything_starts(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workstream = _workstream(project, [{"id": "x", "tool": "no-such-tool", "prompt": "hi"}])
    assert main(["run", str(workstream)]) == 2
    assert "unknown tools" in capsys.readouterr().err
    assert main(["runs", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_legacy_bundle_runs_for_real_as_one_task_gated_by_its_acceptance_tests(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = [{"action": "write", "path": "src/feature.py", "content": "FEATURE = 1\n"}]
    _write_config(project, {"alpha": write_script(tmp_path / "alpha.json", script)}, cooldown=60)
    bundle = {
        "id": "ws-feature",
        "tasks": ["Add src/feature.py with FEATURE = 1"],
        "tool": "alpha",
        "files_scope": ["src/feature.py"],
        "acceptance_tests": ["grep -q 'FEATURE = 1' src/feature.py"],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")

    code = main(["run", str(path), "--run-id", "r3"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert git(project, "show", "main:src/feature.py") == "FEATURE = 1"
    store = Store.open(f"sqlite:///{project / '.uet' / 'state.db'}")
    with store.reader() as tx:
        statuses = {t.id: t.status.value for t in tx.get_tasks("r3")}
        [routed] = tx.get_decisions(run_id="r3", category="routing")
    store.close()
    assert statuses == {"ws-feature/implement": "succeeded"}  # the gate ran in its clone
    assert (routed.chosen, routed.reason) == ("alpha", "named by the task")


def test_a_legacy_bundles_change_goes_through_the_content_checker(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 18: a bundle's agent that plants a symlink out of the repository inside its
    scope is refused by the same checker as every agent change: nothing reaches main."""
    agent = tmp_path / "agent.sh"
    agent.write_text("#!/bin/sh\nmkdir -p docs && ln -s /etc/passwd docs/pw\n", encoding="utf-8")
    agent.chmod(0o755)
    (project / "uet.toml").write_text(
        f'[tools.alpha]\nargv = ["{agent}"]\ncapabilities = ["code_edit"]\n', encoding="utf-8"
    )
    bundle = {"id": "ws-docs", "tasks": ["Link the password file"], "tool": "alpha",
              "files_scope": ["docs/**"]}  # fmt: skip
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    before = git(project, "rev-parse", "main")

    code = main(["run", str(path), "--run-id", "r4"])
    out = capsys.readouterr()
    assert code == 1, out.out + out.err
    assert git(project, "rev-parse", "main") == before
    store = Store.open(f"sqlite:///{project / '.uet' / 'state.db'}")
    with store.reader() as tx:
        scope = tx.get_decisions(run_id="r4", category="scope")
    store.close()
    assert any("symlink" in json.dumps(d.data) and "docs/pw" in json.dumps(d.data) for d in scope)


def test_route_shows_a_dry_decision_and_passes_over_an_open_breaker(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit = [{"action": "write", "path": "{files}", "content": "x\n"}]
    scripts = {name: write_script(tmp_path / f"{name}.json", edit) for name in ("alpha", "beta")}
    _write_config(project, scripts, cooldown=600)
    assert main(["route", "--kind", "code_edit", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["tool"] in {"alpha", "beta"}
    assert first["strategy"] == "round_robin"
    store = Store.open(f"sqlite:///{project / '.uet' / 'state.db'}")
    with Router(load_routing(load_settings()), store=store) as router:
        router.trip("beta", "quota exceeded")
    store.close()
    for _ in range(3):  # wherever the rotation starts, the open breaker is passed over
        assert main(["route", "--kind", "code_edit", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["tool"] == "alpha"
    assert main(["route", "--kind", "code_edit", "--exclude", "alpha", "--json"]) == 1
    shown = json.loads(capsys.readouterr().out)
    assert shown["tool"] is None
    assert set(shown["skipped"]) == {"alpha", "beta"}
    assert "open" in shown["skipped"]["beta"]
    assert main(["route", "--kind", "code_edit", "--exclude", "alpha"]) == 1
    assert "no tool" in capsys.readouterr().out
    assert main(["route", "--kind", "docs"]) == 1  # no rule for it
    store = Store.open(f"sqlite:///{project / '.uet' / 'state.db'}")
    with store.reader() as tx:  # dry runs recorded nothing: only the trip's decision
        assert [d.category for d in tx.get_decisions()] == ["breaker"]
    store.close()


def test_the_shell_tool_runs_the_task_s_prompt_and_never_an_earlier_attempt_s_output(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """{prompt} is the task's prompt: the previous attempt's output (here a `$(…)` text)
    only reaches the prompt file, never a command line."""
    marker = tmp_path / "INJECTED"
    flag = tmp_path / "first-attempt-done"
    prompt = (
        f"echo '$(touch {marker})'; "
        f"test -e {flag} || {{ touch {flag}; exit 1; }}; "
        "printf 'done\\n' > work/t01.txt"
    )
    task = {"id": "t01", "tool": "shell", "prompt": prompt, "files_scope": ["work/t01.txt"]}
    workstream = _workstream(project, [{**task, "retries": 1, "retry_delay": 0}])

    code = main(["run", str(workstream), "--run-id", "r4"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert not marker.exists()
    assert git(project, "show", "main:work/t01.txt") == "done"
    prompts = sorted((project / ".uet" / "prompts" / "r4").iterdir())
    assert "$(touch" in prompts[-1].read_text()  # the retry's prompt file tells the error


def test_a_named_tool_that_is_rate_limited_is_retried_once_its_breaker_lets_it(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit = [{"action": "write", "path": "{files}", "content": "done\n"}]
    script = write_script(tmp_path / "flaky.json", calls=[[{"action": "rate_limit"}], edit])
    _write_config(project, {"flaky": script}, cooldown=1.0)
    task = {**_edit_task(1), "tool": "flaky", "retries": 1, "retry_delay": 0}
    workstream = _workstream(project, [task])

    code = main(["run", str(workstream), "--run-id", "r5"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    store = Store.open(f"sqlite:///{project / '.uet' / 'state.db'}")
    with store.reader() as tx:
        first, second = tx.get_attempts("r5")
        [retry] = tx.get_decisions(run_id="r5", category="retry")
    store.close()
    assert first.exit_code == 75
    assert retry.data["delay"] >= 0.9  # not at once (retry_delay 0): the breaker's cooldown
    assert first.ended_at is not None
    assert second.dispatched_at - first.ended_at >= 0.9
