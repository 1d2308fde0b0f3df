"""The native workstream format (SPEC.md), in YAML and JSON, and ``${VAR}`` substitution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.spec.helpers import find, problems_of, write
from uet.spec import Defaults, OnFailure, load_file, load_files

SPEC_EXAMPLE = """
    id: ws-build                 # ^[a-z0-9][a-z0-9._-]*$ ; unique
    name: Build and test         # optional
    concurrency: 4               # max tasks of this workstream running at once
    env: {PYTHONUNBUFFERED: "1"} # ${VAR} and ${VAR:-default} are substituted
    defaults: {timeout: 600, retries: 1, retry_delay: 2}
    tasks:
      - id: lint
        run: ruff check .        # shell string, run by /bin/sh -c
      - id: unit
        argv: [pytest, -q]       # exec form, no shell
        depends_on: [lint]
        timeout: 900
        retries: 2
        on_failure: abort
        cwd: .
        env: {CI: "1"}
      - id: implement
        tool: auto
        kind: code_edit
        prompt: "Add input validation to src/app/io.py"
        files_scope: [src/app/io.py]
        isolation: clone
        acceptance: [pytest -q tests/test_io.py]
"""


def test_the_spec_example_loads_field_for_field(tmp_path: Path) -> None:
    (ws,) = load_file(write(tmp_path, "build.yaml", SPEC_EXAMPLE), env={})
    assert (ws.id, ws.name, ws.concurrency) == ("ws-build", "Build and test", 4)
    assert ws.env == {"PYTHONUNBUFFERED": "1"}
    assert ws.defaults == Defaults(timeout=600, retries=1, retry_delay=2)
    lint, unit, implement = ws.tasks
    assert lint.run == "ruff check ."
    assert unit.argv == ["pytest", "-q"]
    assert (unit.depends_on, unit.timeout, unit.retries) == (["lint"], 900, 2)
    assert (unit.on_failure, unit.cwd, unit.env) == (OnFailure.ABORT, ".", {"CI": "1"})
    assert (implement.tool, implement.kind, implement.isolation) == ("auto", "code_edit", "clone")
    assert implement.files_scope == ["src/app/io.py"]
    assert implement.acceptance == ["pytest -q tests/test_io.py"]


def test_json_with_id_and_tasks_is_the_native_format(tmp_path: Path) -> None:
    data = {"id": "ws-j", "tasks": [{"id": "a", "run": "true"}, {"id": "b", "argv": ["x"]}]}
    (ws,) = load_file(write(tmp_path, "ws.json", json.dumps(data)), env={})
    assert [task.id for task in ws.tasks] == ["a", "b"]


def test_a_json_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text('\ufeff{"id": "ws-b", "tasks": [{"id": "a", "run": "true"}]}', "utf-8")
    assert load_file(path, env={})[0].id == "ws-b"


def test_a_file_may_hold_a_list_of_workstreams(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "two.yaml",
        """
        - {id: ws-a, tasks: [{id: t, run: "true"}]}
        - {id: ws-b, depends_on: [ws-a], tasks: [{id: t, run: "true"}]}
        """,
    )
    assert [ws.id for ws in load_file(path, env={})] == ["ws-a", "ws-b"]


def test_effective_settings_task_then_workstream_defaults_then_uet(tmp_path: Path) -> None:
    """Each setting comes from the task, else the workstream's defaults, else Defaults()."""
    plan = load_files([write(tmp_path, "build.yaml", SPEC_EXAMPLE)], env={})
    by_id = {task.id: task for task in plan.tasks}
    assert (by_id["unit"].timeout, by_id["unit"].retries, by_id["unit"].max_attempts) == (900, 2, 3)
    assert by_id["unit"].on_failure is OnFailure.ABORT
    assert (by_id["lint"].timeout, by_id["lint"].retries, by_id["lint"].retry_delay) == (600, 1, 2)
    assert by_id["lint"].on_failure is Defaults().on_failure
    bare = load_files([write(tmp_path, "bare.yaml", "id: w\ntasks: [{id: t, run: x}]")], env={})
    (task,) = bare.tasks
    expected = Defaults()
    assert (task.timeout, task.retries) == (expected.timeout, expected.retries)
    assert (task.retry_delay, task.on_failure) == (expected.retry_delay, expected.on_failure)


def test_task_env_overlays_workstream_env(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "env.yaml",
        """
        id: w
        env: {A: ws, B: ws}
        tasks: [{id: t, run: x, cwd: sub, env: {B: task, C: task}}]
        """,
    )
    (task,) = load_files([path], env={}).tasks
    assert dict(task.env) == {"A": "ws", "B": "task", "C": "task"}
    assert task.cwd == "sub"


def test_tool_tasks_are_isolated_in_a_clone_unless_told_otherwise(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "iso.yaml",
        """
        id: w
        tasks:
          - {id: agent, tool: aider}
          - {id: shared, tool: aider, isolation: none}
          - {id: cmd, run: "true"}
        """,
    )
    isolation = {task.id: task.isolation for task in load_files([path], env={}).tasks}
    assert isolation == {"agent": "clone", "shared": "none", "cmd": "none"}


def test_dates_stay_text(tmp_path: Path) -> None:
    """`2024-05-01` in YAML is a tag or a version here, not a datetime."""
    path = write(tmp_path, "d.yaml", "id: w\nenv: {RELEASE: 2024-05-01}\ntasks: [{id: t, run: x}]")
    assert load_file(path, env={})[0].env == {"RELEASE": "2024-05-01"}


SUBSTITUTED = """
    id: w
    env: {HOME_DIR: "${HOME}", MODE: "${MODE:-dev}", EMPTY: "${EMPTY:-fallback}", KEEP: "$${HOME}"}
    tasks:
      - id: shell
        run: "echo ${GREETING} $$HOME $${LATER} ${#NOT_OURS}"
        cwd: "${ROOT:-.}/sub"
        env: {LEVEL: "${LEVEL:-3}"}
      - id: exec
        argv: ["${PY}", "-c", "print('${GREETING}')"]
      - id: agent
        name: "${NOT_SUBSTITUTED_IN_NAMES}"
        tool: auto
        prompt: "Greet with ${GREETING}"
        acceptance: ["test ${GREETING} = hi"]
"""


def test_variables_are_substituted_where_the_spec_allows(tmp_path: Path) -> None:
    env = {"HOME": "/home/u", "EMPTY": "", "GREETING": "hi", "PY": "python3"}
    (ws,) = load_file(write(tmp_path, "sub.yaml", SUBSTITUTED), env=env)
    assert ws.env == {"HOME_DIR": "/home/u", "MODE": "dev", "EMPTY": "fallback", "KEEP": "${HOME}"}
    shell, exec_, agent = ws.tasks
    assert shell.run == "echo hi $$HOME ${LATER} ${#NOT_OURS}"
    assert (shell.cwd, shell.env) == ("./sub", {"LEVEL": "3"})
    assert exec_.argv == ["python3", "-c", "print('hi')"]
    assert (agent.prompt, agent.acceptance) == ("Greet with hi", ["test hi = hi"])
    assert agent.name == "${NOT_SUBSTITUTED_IN_NAMES}"


def test_a_set_but_empty_variable_without_default_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "e.yaml", 'id: w\ntasks: [{id: t, run: "x${E}y"}]')
    assert load_file(path, env={"E": ""})[0].tasks[0].run == "xy"


def test_substitution_reads_the_process_environment_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UET_TEST_GREETING", "hello")
    path = write(tmp_path, "e.yaml", 'id: w\ntasks: [{id: t, run: "echo ${UET_TEST_GREETING}"}]')
    assert load_file(path)[0].tasks[0].run == "echo hello"


def test_an_unset_variable_is_an_error_naming_its_key_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "unset.yaml",
        """
        id: w
        env: {A: "${MISSING_A}"}
        tasks:
          - {id: t, argv: [echo, "${MISSING_B} ${MISSING_B} ${MISSING_C:-ok}"]}
        """,
    )
    problems = problems_of(load_file, path, env={})
    assert len(problems) == 2
    assert find(problems, "env.A").message.startswith("environment variable MISSING_A is not set")
    message = find(problems, "tasks[0].argv[1]").message
    assert message == (
        "environment variable MISSING_B is not set (pass --var MISSING_B=VALUE or export it; "
        "write ${MISSING_B:-default} to give a default, $${MISSING_B} for a literal ${MISSING_B})"
    )


def test_yaml_anchors_and_merge_keys_share_settings(tmp_path: Path) -> None:
    """A merged mapping's keys may be overridden; only keys written twice are errors."""
    path = write(
        tmp_path,
        "anchors.yaml",
        """
        id: w
        tasks:
          - &base {id: a, run: make, timeout: 5, env: {MODE: fast}}
          - <<: *base
            id: b
            timeout: 9
        """,
    )
    a, b = load_file(path, env={})[0].tasks
    assert (b.id, b.run, b.timeout, b.env) == ("b", "make", 9, {"MODE": "fast"})
    assert a.timeout == 5


def test_an_empty_default_is_a_value(tmp_path: Path) -> None:
    path = write(tmp_path, "e.yaml", 'id: w\ntasks: [{id: t, run: "x${OPT:-}y"}]')
    assert load_file(path, env={})[0].tasks[0].run == "xy"
