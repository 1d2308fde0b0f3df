"""`script: NAME` tasks in workstream files: resolved at load, run and recorded like any
task; a missing script or a bad param stops the file at load (file, task, key, problem)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.scripts.conftest import Uet, Write
from uet.spec import SpecError, load_files
from uet.spec.scripts import ScriptSpec

PY = sys.executable
REGISTRY = f"""
greet:
  run: echo "$GREETING" ${{who}} >> out.txt
  params:
    who: {{type: str, default: world}}
  env: {{GREETING: hello, SCRIPT_ONLY: s}}
  timeout: 30
  retries: 2
  retry_on: [75]
argv-echo:
  argv: [{PY}, -c, "import sys; open('argv.txt', 'w').write(repr(sys.argv[1:]))", "${{params.n}}"]
  params:
    n: {{type: int}}
  cwd: sub
"""


@pytest.fixture
def registry(write: Write, project: Path) -> Path:
    (project / "sub").mkdir()
    return write("config/scripts.yaml", REGISTRY)


def test_a_workstream_of_script_tasks_runs_and_records_the_resolved_commands(
    uet: Uet, registry: Path, write: Write, project: Path
) -> None:
    write(
        "ws.yaml",
        """
        id: ci
        env: {GREETING: from-workstream}
        tasks:
          - {id: first, script: greet, params: {who: "a; rm -rf sub"}}
          - id: second
            script: greet
            args: [again]
            env: {GREETING: from-task}
            depends_on: [first]
          - {id: third, script: argv-echo, params: {n: "7"}, args: ["x y"], depends_on: [second]}
        """,
    )
    result = uet("run", "ws.yaml", "--json")
    assert result.code == 0, result.err
    # the script's env lies over the workstream's, the task's over both; values are quoted
    assert (project / "out.txt").read_text().splitlines() == [
        "hello a; rm -rf sub",
        "from-task world again",
    ]
    assert (project / "sub").is_dir()
    assert (project / "sub" / "argv.txt").read_text() == "['7', 'x y']"  # the script's cwd
    run_id = json.loads(result.out)["run_id"]
    status = json.loads(uet("status", run_id, "--json", "--state", "succeeded").out)
    assert [task["id"] for task in status["tasks"]] == ["ci/first", "ci/second", "ci/third"]


def test_the_task_may_override_the_scripts_settings(registry: Path, write: Write) -> None:
    """timeout/retries/retry_on/cwd come from the script unless the task gives its own."""
    path = write(
        "ws.yaml",
        """
        id: ci
        defaults: {timeout: 5, retries: 0}
        tasks:
          - {id: a, script: greet}
          - {id: b, script: greet, timeout: 9, retries: 0, retry_on: "flaky", cwd: sub}
        """,
    )
    plan = load_files([path])
    a, b = (next(t for t in plan.tasks if t.id == name) for name in ("a", "b"))
    assert a.spec.run == 'echo "$GREETING" world >> out.txt'
    assert (a.timeout, a.retries, a.spec.retry_on, a.cwd) == (30, 2, [75], None)
    assert a.env == {"GREETING": "hello", "SCRIPT_ONLY": "s"}
    assert (b.timeout, b.retries, b.spec.retry_on, b.cwd) == (9, 0, "flaky", "sub")
    assert a.spec.script == "greet"
    assert a.spec.params == {"who": "world"}


def test_validate_shows_the_command_each_script_task_resolved_to(
    uet: Uet, registry: Path, write: Write
) -> None:
    write("ws.yaml", "id: ci\ntasks:\n  - {id: t, script: argv-echo, params: {n: 3}}\n")
    result = uet("validate", "ws.yaml")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == (
        f"ci/t: script argv-echo: {PY} -c "
        "'import sys; open('\"'\"'argv.txt'\"'\"', '\"'\"'w'\"'\"').write(repr(sys.argv[1:]))' 3"
    )
    record = json.loads(uet("validate", "ws.yaml", "--json").out)
    assert record["scripts"][0]["task"] == "ci/t"
    assert record["scripts"][0]["script"] == "argv-echo"


BAD_TASKS = [
    (
        "{id: t, script: gret}",
        "tasks[0].script: task 't': no script 'gret' (did you mean 'greet'?)",
    ),
    (
        "{id: t, script: zzz}",
        "tasks[0].script: task 't': no script 'zzz' (scripts are defined in uet.toml "
        "[scripts.NAME] or config/scripts.yaml; see `uet scripts list`)",
    ),
    (
        "{id: t, script: argv-echo, params: {n: many}}",
        "tasks[0].params.n: task 't': script 'argv-echo': param 'n': expected a whole number, "
        "got 'many'",
    ),
    (
        "{id: t, script: argv-echo, params: {n: true}}",
        "tasks[0].params.n: task 't': script 'argv-echo': param 'n': expected a whole number, "
        "got True",
    ),
    (
        "{id: t, script: argv-echo}",
        "tasks[0].params: task 't': script 'argv-echo': param 'n' is required (int (required)): "
        "give n=VALUE",
    ),
    (
        "{id: t, script: greet, params: {whom: x}}",
        "tasks[0].params.whom: task 't': script 'greet': param 'whom': no such parameter "
        "(params: who)",
    ),
    (
        "{id: t, script: greet, params: {who: 1.5}}",
        "tasks[0].params.who: task 't': script 'greet': param 'who': expected a string, got 1.5 "
        "(quote it)",
    ),
    (
        "{id: t, script: greet, run: echo}",
        "tasks[0]: a task needs exactly one of run, argv, tool, script (has run and script)",
    ),
    ("{id: t, run: echo, params: {a: 1}}",
     "tasks[0].params: task 't': only a script task takes params"),
    ("{id: t, argv: [echo], args: [x]}", "tasks[0].args: task 't': only a script task takes args"),
    ("{id: t, script: Greet}", "tasks[0].script: 'Greet' is not a valid id"),
]  # fmt: skip


@pytest.mark.parametrize(("task", "problem"), BAD_TASKS, ids=[t for t, _ in BAD_TASKS])
def test_a_bad_script_task_stops_the_file_at_load_and_nothing_starts(
    uet: Uet, registry: Path, write: Write, project: Path, task: str, problem: str
) -> None:
    write("ws.yaml", f"id: ci\ntasks:\n  - {task}\n")
    for command in ("validate", "run"):
        result = uet(command, "ws.yaml")
        assert result.code == 2, result
        assert result.err.strip().splitlines()[0].startswith(f"ws.yaml: {problem}"), result.err
    assert not (project / ".uet" / "state.db").exists()


def test_a_broken_registry_is_an_exit_2_error_of_its_file(
    uet: Uet, write: Write, project: Path
) -> None:
    write("config/scripts.yaml", "greet: {run: x, argv: [y]}\n")
    write("ws.yaml", "id: ci\ntasks:\n  - {id: t, script: greet}\n")
    result = uet("run", "ws.yaml")
    assert result.code == 2
    assert result.err.strip() == (
        f"uet: error: {project / 'config/scripts.yaml'}: greet: "
        "a script needs exactly one of run, argv (has run and argv)"
    )


def test_a_file_without_script_tasks_does_not_read_the_registry(uet: Uet, write: Write) -> None:
    """The registry loads only for a file that needs it: a broken one does not stop others."""
    write("config/scripts.yaml", "greet: {run: x, argv: [y]}\n")
    write("ws.yaml", "id: ci\ntasks:\n  - {id: t, run: 'true'}\n")
    assert uet("validate", "ws.yaml").code == 0


def test_library_callers_can_pass_their_own_registry(tmp_path: Path) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text("id: w\ntasks:\n  - {id: t, script: hi, params: {x: '${WHO}'}}\n")
    registry = {
        "hi": ScriptSpec.model_validate(
            {"name": "hi", "argv": ["echo", "${x}"], "params": {"x": {}}}
        )
    }
    plan = load_files([path], env={"WHO": "me"}, scripts=registry)
    assert plan.tasks[0].spec.argv == ["echo", "me"]  # ${WHO} substituted in the file first
    with pytest.raises(SpecError) as caught:
        load_files([path], env={"WHO": "me"}, scripts={})
    assert "no script 'hi'" in str(caught.value)
