"""The originals' formats: legacy bundles and plans load as ordinary workstreams."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.spec.helpers import find, problems_of, triples, write
from uet.spec import FixLoop, OnFailure, load_file, load_files

BUNDLE: dict[str, Any] = {
    "id": "ws-add-eslint",
    "openspec_change": "add-eslint",
    "ccpm_issue": 0,
    "gate": 1,
    "files_scope": ["src/plugins/eslint/", "tests/plugins/test_js.py"],
    "files_create": ["src/plugins/eslint/plugin.py", "src/plugins/eslint/"],
    "tasks": ["Create the plugin directory", "Implement parse() and fix()"],
    "acceptance_tests": ["pytest -q tests/plugins/test_js.py", "ruff check src/plugins"],
    "depends_on": [],
    "tool": "aider",
    "circuit_breaker": {"max_attempts": 5, "max_error_repeats": 3},
    "metadata": {"owner": "generated-from-openspec"},
}


def bundle_file(tmp_path: Path, data: object, name: str = "bundle.json") -> Path:
    return write(tmp_path, name, json.dumps(data))


def test_a_bundle_becomes_one_tool_task_gated_by_its_acceptance_commands(
    tmp_path: Path,
) -> None:
    """One task: instructions in the prompt, commands as its gate in the clone (no separate
    acceptance tasks that would run after the change is merged), the breaker as its fix loop."""
    (ws,) = load_file(bundle_file(tmp_path, BUNDLE), env={})
    assert ws.id == "ws-add-eslint"
    (implement,) = ws.tasks
    assert (implement.id, implement.tool, implement.kind) == ("implement", "aider", "code_edit")
    assert implement.prompt == "1. Create the plugin directory\n2. Implement parse() and fix()"
    assert implement.files_scope == [
        "src/plugins/eslint/",
        "tests/plugins/test_js.py",
        "src/plugins/eslint/plugin.py",
    ]
    assert implement.isolation == "clone"
    assert implement.acceptance == ["pytest -q tests/plugins/test_js.py", "ruff check src/plugins"]
    assert implement.acceptance_instructions == []
    assert implement.fix_loop == FixLoop(max_attempts=5, max_error_repeats=3)


def test_bundle_fields_without_a_native_home_are_kept_in_metadata(tmp_path: Path) -> None:
    (ws,) = load_file(bundle_file(tmp_path, BUNDLE), env={})
    assert ws.metadata == {
        "gate": 1,
        "openspec_change": "add-eslint",
        "ccpm_issue": 0,
        "circuit_breaker": {"max_attempts": 5, "max_error_repeats": 3},
        "files_create": ["src/plugins/eslint/plugin.py", "src/plugins/eslint/"],
        "metadata": {"owner": "generated-from-openspec"},
    }


def test_a_minimal_bundle_lets_the_router_choose_the_tool(tmp_path: Path) -> None:
    data = {"id": "ws-min", "tasks": ["Do it"], "files_scope": ["src/"]}
    (ws,) = load_file(bundle_file(tmp_path, data), env={})
    (implement,) = ws.tasks
    assert (implement.tool, implement.prompt, ws.metadata) == ("auto", "1. Do it", {})


def test_a_bundle_without_files_scope_is_refused(tmp_path: Path) -> None:
    """The originals required a scope; without one an agent could change anything."""
    problems = problems_of(load_file, bundle_file(tmp_path, {"id": "ws-x", "tasks": ["a"]}))
    assert triples(problems) == [("bundle.json", "files_scope", "required key is missing")]


def test_a_list_of_bundles_is_one_dag_through_their_depends_on(tmp_path: Path) -> None:
    """Bundle B depending on bundle A: B's agent starts after A's task (gate included)."""
    bundles = [
        {"id": "ws-a", "tasks": ["a"], "files_scope": ["a"], "acceptance_tests": ["test -f a"]},
        {"id": "ws-b", "tasks": ["b"], "files_scope": ["b"], "depends_on": ["ws-a"]},
    ]
    plan = load_files([bundle_file(tmp_path, bundles)], env={})
    assert plan.workstreams[1].depends_on == ["ws-a"]
    by_key = {task.key: task for task in plan.tasks}
    assert by_key["ws-b/implement"].depends_on == ("ws-a/implement",)
    assert [task.key for task in plan.tasks] == ["ws-a/implement", "ws-b/implement"]


def test_bundle_instructions_and_tests_take_variables(tmp_path: Path) -> None:
    data = {
        "id": "ws-v",
        "tasks": ["Edit ${TARGET}"],
        "files_scope": ["${TARGET}"],
        "acceptance_tests": ["pytest ${TARGET}"],
    }
    (ws,) = load_file(bundle_file(tmp_path, data), env={"TARGET": "app.py"})
    assert (ws.tasks[0].prompt, ws.tasks[0].acceptance) == ("1. Edit app.py", ["pytest app.py"])


def test_bundle_errors_name_their_place_in_a_list(tmp_path: Path) -> None:
    bundles = [
        {"id": "ws-ok", "tasks": ["fine"], "files_scope": ["a"]},
        {"id": "not-ws", "tasks": ["x", 3], "owner": "me", "files_scope": "src/"},
    ]
    problems = problems_of(load_file, bundle_file(tmp_path, bundles), env={})
    assert sorted(triples(problems)) == [
        ("bundle.json", "[1].files_scope", "expected a list, got a string 'src/'"),
        (
            "bundle.json",
            "[1].id",
            "'not-ws' is not a valid id: "
            "use 'ws-' followed by lowercase letters, digits, '.', '_' and '-'",
        ),
        ("bundle.json", "[1].owner", _unknown_bundle_key("owner")),
        ("bundle.json", "[1].tasks[1]", "expected a string, got a whole number 3"),
    ]


def _unknown_bundle_key(key: str) -> str:
    known = (
        "acceptance_tests, capability, capability_payload, ccpm_issue, circuit_breaker, "
        "compensation_actions, conflict_group, depends_on, doc_id, estimated_context_tokens, "
        "file_id, files_create, files_scope, gate, id, kind, max_cost_usd, metadata, "
        "openspec_change, parallel_ok, priority, tasks, test_gates, tool"
    )
    return f"unknown key {key!r} (known: {known})"


PLAN: dict[str, Any] = {
    "plan_id": "nightly",
    "globals": {
        "max_concurrency": 3,
        "default_timeout_sec": 120,
        "default_retries": 1,
        "env": {"STAGE": "${STAGE:-nightly}"},
    },
    "steps": [
        {"id": "fetch", "command": "git", "args": ["fetch", "--all"], "cwd": "repo"},
        {
            "id": "build",
            "command": "make",
            "args": ["-j", "${JOBS:-2}"],
            "depends_on": ["fetch"],
            "env": {"CC": "clang"},
            "timeout_sec": 900,
            "retries": 3,
            "retry_delay_sec": 5,
            "on_failure": "abort",
        },
    ],
}


def test_a_plan_is_one_workstream_of_commands(tmp_path: Path) -> None:
    (ws,) = load_file(write(tmp_path, "plan.json", json.dumps(PLAN)), env={"JOBS": "8"})
    assert (ws.id, ws.concurrency, ws.env) == ("nightly", 3, {"STAGE": "nightly"})
    assert (ws.defaults.timeout, ws.defaults.retries) == (120, 1)
    fetch, build = ws.tasks
    assert (fetch.argv, fetch.cwd, fetch.depends_on) == (["git", "fetch", "--all"], "repo", [])
    assert build.argv == ["make", "-j", "8"]
    assert (build.timeout, build.retries, build.retry_delay) == (900, 3, 5)
    assert (build.on_failure, build.env, build.depends_on) == (
        OnFailure.ABORT,
        {"CC": "clang"},
        ["fetch"],
    )


def test_plan_globals_become_the_defaults_of_its_steps(tmp_path: Path) -> None:
    plan = load_files([write(tmp_path, "plan.json", json.dumps(PLAN))], env={})
    fetch, build = plan.tasks
    assert (fetch.key, fetch.timeout, fetch.retries) == ("nightly/fetch", 120, 1)
    assert dict(build.env) == {"STAGE": "nightly", "CC": "clang"}
    assert build.depends_on == ("nightly/fetch",)


def test_a_plan_in_yaml_is_detected_too(tmp_path: Path) -> None:
    path = write(tmp_path, "plan.yaml", "plan_id: p\nsteps: [{id: s, command: 'true'}]")
    assert load_file(path, env={})[0].tasks[0].argv == ["true"]


def test_plan_errors_use_the_plan_key_names(tmp_path: Path) -> None:
    """Errors in the plan's own key names; keys the originals ignored are warnings."""
    data = {
        "plan_id": "p",
        "globals": {"max_parallel": 2},
        "steps": [
            {"id": "a", "command": "x", "depends_on": ["b"]},
            {"id": "b", "comand": "y", "depends_on": ["a", "zz"]},
            {"id": "c", "command": "z", "args": ["${NOPE}"], "timeout_sec": -1},
        ],
    }
    problems = problems_of(load_file, write(tmp_path, "p.json", json.dumps(data)), env={})
    assert find(problems, "steps[1].command").message == "required key is missing"
    assert find(problems, "steps[1].depends_on[1]").message == "unknown task 'zz'"
    assert find(problems, "steps[2].args[0]").message.startswith("environment variable NOPE")
    assert find(problems, "steps[2].timeout_sec").message == "must be at least 0, got -1"
    assert find(problems, "steps[0].depends_on").message == "dependency cycle: a -> b -> a"
    assert len(problems) == 5
