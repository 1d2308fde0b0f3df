"""`uet init`, `validate`, `run`, `status` and `logs` through the real command line.

Each test runs ``uet`` in-process in an empty project folder (``tests/cli/conftest.py``),
with real task processes and the project's own SQLite database.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.cli.conftest import Uet


def write(project: Path, name: str, text: str) -> str:
    """Write a workstream file; returns its path relative to the project."""
    path = project / "workstreams" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return f"workstreams/{name}"


def run_ids(uet: Uet) -> list[str]:
    listed = uet("runs", "--json")
    assert listed.code == 0, listed.err
    return [run["id"] for run in json.loads(listed.out)]


_GOOD = """
id: good
tasks:
  - {id: hello, run: echo hello from good}
  - {id: bye, argv: [echo, bye], depends_on: [hello]}
"""

_BAD = """
id: bad
colour: blue
tasks:
  - {id: a, run: echo a, depends_on: [b]}
  - {id: b, run: echo b, depends_on: [a]}
  - {id: a, run: echo again}
"""


# -- init -----------------------------------------------------------------------------------


def test_init_scaffolds_config_home_and_an_example(uet: Uet, project: Path) -> None:
    """`uet init` writes uet.toml, .uet/.gitignore ignoring everything and an example
    workstream that validates."""
    result = uet("init", "--non-interactive")  # SPEC.md: `uet init [--non-interactive]`
    assert result.code == 0, result.err
    assert (project / "uet.toml").is_file()
    assert (project / ".uet" / ".gitignore").read_text(encoding="utf-8") == "*\n"
    assert (project / "workstreams" / "example.yaml").is_file()
    assert uet("validate", "workstreams/example.yaml").code == 0


def test_init_leaves_existing_files_alone(uet: Uet, project: Path) -> None:
    """Files that exist are kept byte for byte; only the missing ones are created."""
    (project / "uet.toml").write_text("# mine\n", encoding="utf-8")
    write(project, "example.yaml", "id: mine\ntasks: [{id: x, run: 'true'}]\n")
    result = uet("init")
    assert result.code == 0, result.err
    assert (project / "uet.toml").read_text(encoding="utf-8") == "# mine\n"
    example = (project / "workstreams" / "example.yaml").read_text(encoding="utf-8")
    assert example == "id: mine\ntasks: [{id: x, run: 'true'}]\n"
    assert (project / ".uet" / ".gitignore").read_text(encoding="utf-8") == "*\n"
    assert "kept" in result.out
    assert uet("init").code == 0  # twice is harmless


def test_the_example_runs_after_init(uet: Uet) -> None:
    """The first thing a user does: `uet init && uet run workstreams/example.yaml` exits 0
    and prints the run id."""
    assert uet("init").code == 0
    result = uet("run", "workstreams/example.yaml")
    assert result.code == 0, result.err
    (run_id,) = run_ids(uet)
    assert run_id in result.out
    assert "succeeded" in result.out


# -- validate -------------------------------------------------------------------------------


def test_validate_prints_every_problem_and_exits_2(uet: Uet, project: Path) -> None:
    """One line per problem, each naming file and key path: the unknown key, the duplicate
    id and the cycle (shown as `a -> b -> a`)."""
    bad = write(project, "bad.yaml", _BAD)
    result = uet("validate", bad)
    assert result.code == 2
    lines = result.err.splitlines()
    assert any("colour" in line and "unknown key" in line for line in lines)
    assert any("tasks[2].id" in line and "duplicate" in line for line in lines)
    assert any("a -> b -> a" in line for line in lines)
    assert all(line.startswith(bad) for line in lines)


def test_validate_reports_problems_of_every_file(uet: Uet, project: Path) -> None:
    """Problems of several files come out together, not only the first file's."""
    bad = write(project, "bad.yaml", _BAD)
    other = write(project, "other.yaml", "id: other\ntasks: [{id: x, run: a, argv: [b]}]\n")
    result = uet("validate", bad, other)
    assert result.code == 2
    assert bad in result.err
    assert other in result.err


def test_validate_json_lists_problems_with_file_path_and_message(uet: Uet, project: Path) -> None:
    """`--json`: {"ok": false, "problems": [{file, path, message}…]} on stdout, exit 2."""
    bad = write(project, "bad.yaml", _BAD)
    result = uet("validate", bad, "--json")
    assert result.code == 2
    report = json.loads(result.out)
    assert report["ok"] is False
    problems = report["problems"]
    assert {tuple(sorted(p)) for p in problems} == {("file", "message", "path")}
    assert {p["file"] for p in problems} == {bad}
    assert any(p["path"] == "colour" for p in problems)
    assert any("a -> b -> a" in p["message"] for p in problems)


def test_validate_of_a_missing_file_names_it(uet: Uet) -> None:
    """A file that does not exist is a problem of that file (no key path), exit 2."""
    result = uet("validate", "workstreams/missing.yaml")
    assert result.code == 2
    assert result.err.strip() == "workstreams/missing.yaml: file not found"


def test_validate_accepts_a_good_file(uet: Uet, project: Path) -> None:
    """A valid file: exit 0, a one-line summary; `--json` says ok with the counts."""
    good = write(project, "good.yaml", _GOOD)
    result = uet("validate", good)
    assert result.code == 0
    assert "1 workstreams, 2 tasks" in result.out
    assert json.loads(uet("validate", good, "--json").out) == {
        "ok": True,
        "workstreams": 1,
        "tasks": 2,
        "warnings": [],
        "acceptance": [],
        "scripts": [],
    }


# -- run ------------------------------------------------------------------------------------


def test_run_of_an_invalid_file_exits_2_and_starts_no_run(uet: Uet, project: Path) -> None:
    """An invalid file never half-starts a run, even next to a valid one."""
    good = write(project, "good.yaml", _GOOD)
    bad = write(project, "bad.yaml", _BAD)
    result = uet("run", good, bad)
    assert result.code == 2
    assert "a -> b -> a" in result.err
    assert run_ids(uet) == []


def test_run_exits_1_when_a_task_fails(uet: Uet, project: Path) -> None:
    """Exit 1 means the work failed; the run is recorded failed."""
    broken = write(project, "broken.yaml", "id: broken\ntasks: [{id: x, run: exit 5}]\n")
    result = uet("run", broken)
    assert result.code == 1
    (run_id,) = run_ids(uet)
    status = json.loads(uet("status", run_id, "--json").out)
    assert status["status"] == "failed"
    assert status["tasks"][0]["exit_code"] == 5


def test_run_prints_no_line_per_task_off_a_terminal_unless_verbose(uet: Uet, project: Path) -> None:
    """Off a terminal: no live bar and no line per succeeded task (printing costs more than a
    trivial task), the run's result line on stdout; -v prints one plain line per task."""
    good = write(project, "good.yaml", _GOOD)
    result = uet("run", good, "--run-id", "plain")
    assert result.code == 0
    assert "good/hello" not in result.err
    assert "\x1b[" not in result.err  # no cursor movement or colour codes
    assert result.out.startswith("run plain: succeeded")
    verbose = uet("run", good, "--run-id", "plain-v", "-v")
    assert verbose.code == 0
    assert "ok good/hello" in verbose.err
    assert "ok good/bye" in verbose.err
    assert "\x1b[" not in verbose.err


def test_a_program_that_cannot_start_is_an_error_outcome(uet: Uet, project: Path) -> None:
    """From the project folder (uet's own working directory and PATH, the fast spawn path):
    a missing program ends as outcome `error`, the run exits 1, and the log of the
    attempt names the program."""
    ghost = write(project, "ghost.yaml", "id: g\ntasks: [{id: x, argv: [no-such-binary-xyz]}]\n")
    result = uet("run", ghost, "--run-id", "ghost")
    assert result.code == 1
    (task,) = json.loads(uet("status", "ghost", "--json").out)["tasks"]
    assert (task["status"], task["outcome"], task["exit_code"]) == ("failed", "error", None)
    failed = uet("events", "ghost", "--type", "task.failed", "--json").out.splitlines()
    (event,) = [json.loads(line) for line in failed]
    assert "no-such-binary-xyz" in event["payload"]["error"]


def test_run_json_prints_the_result(uet: Uet, project: Path) -> None:
    """`uet run --json` prints only JSON on stdout: run_id, status and task counts."""
    good = write(project, "good.yaml", _GOOD)
    result = uet("run", good, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report == {"run_id": run_ids(uet)[0], "status": "succeeded", "tasks": {"succeeded": 2}}


def test_run_id_names_the_run_and_cannot_be_used_twice(uet: Uet, project: Path) -> None:
    """`--run-id` names the run; reusing it exits 2 and leaves the first run as it was."""
    good = write(project, "good.yaml", _GOOD)
    assert uet("run", good, "--run-id", "nightly-1").code == 0
    again = uet("run", good, "--run-id", "nightly-1")
    assert again.code == 2
    assert "nightly-1" in again.err
    assert run_ids(uet) == ["nightly-1"]
    assert json.loads(uet("status", "nightly-1", "--json").out)["status"] == "succeeded"


def test_the_ray_executor_is_refused_clearly(uet: Uet, project: Path) -> None:
    """`--executor ray` is a usage error (exit 2) that says what to use instead."""
    good = write(project, "good.yaml", _GOOD)
    result = uet("run", good, "--executor", "ray")
    assert result.code == 2
    assert "ray" in result.err
    assert "--executor local" in result.err
    assert run_ids(uet) == []


def test_run_concurrency_option_is_accepted_and_checked(uet: Uet, project: Path) -> None:
    """`-j N` is accepted and a bad value (0) is a usage error."""
    good = write(project, "good.yaml", _GOOD)
    assert uet("run", good, "-j", "1").code == 0
    assert uet("run", good, "-j", "0").code == 2


# -- status ---------------------------------------------------------------------------------


def test_status_without_runs_is_a_usage_error(uet: Uet, project: Path) -> None:
    """No database yet: exit 2 with a message, and no database is created by looking."""
    result = uet("status")
    assert result.code == 2
    assert "no runs" in result.err
    assert not (project / ".uet" / "state.db").exists()


def test_status_shows_the_latest_run_and_a_named_one_as_json(uet: Uet, project: Path) -> None:
    """`uet status` shows the most recent run with each task; `uet status RUN --json`
    gives the run and every task with attempts, exit code and outcome."""
    good = write(project, "good.yaml", _GOOD)
    broken = write(project, "broken.yaml", "id: broken\ntasks: [{id: x, run: exit 5}]\n")
    assert uet("run", good, "--run-id", "first").code == 0
    assert uet("run", broken, "--run-id", "second").code == 1
    text = uet("status")
    assert text.code == 0
    assert "second" in text.out
    assert "broken/x" in text.out
    assert "first" not in text.out
    report = json.loads(uet("status", "first", "--json").out)
    assert (report["id"], report["status"]) == ("first", "succeeded")
    assert report["summary"] == {"succeeded": 2}
    assert report["tasks"] == [
        {
            "id": "good/bye",
            "status": "succeeded",
            "attempts": 1,
            "max_attempts": 1,
            "exit_code": 0,
            "outcome": "succeeded",
            "reason": None,
            "tail": [],
        },
        {
            "id": "good/hello",
            "status": "succeeded",
            "attempts": 1,
            "max_attempts": 1,
            "exit_code": 0,
            "outcome": "succeeded",
            "reason": None,
            "tail": [],
        },
    ]


def test_status_of_an_unknown_run_exits_2(uet: Uet, project: Path) -> None:
    """A run id that does not exist is named in a usage error, not an empty status."""
    good = write(project, "good.yaml", _GOOD)
    assert uet("run", good).code == 0
    result = uet("status", "run-nope")
    assert result.code == 2
    assert "run-nope" in result.err


# -- logs -----------------------------------------------------------------------------------


def test_logs_prints_a_task_output_by_bare_or_qualified_id(uet: Uet, project: Path) -> None:
    """`uet logs RUN TASK` prints the captured output; TASK may omit the workstream."""
    good = write(project, "good.yaml", _GOOD)
    assert uet("run", good, "--run-id", "r1").code == 0
    bare = uet("logs", "r1", "hello")
    assert bare.code == 0
    assert bare.out == "hello from good\n"
    qualified = uet("logs", "r1", "good/bye")
    assert qualified.code == 0
    assert qualified.out == "bye\n"


def test_logs_of_an_unknown_or_ambiguous_task_exits_2(uet: Uet, project: Path) -> None:
    """An unknown task, or a bare id that two workstreams share, is a usage error."""
    one = write(project, "one.yaml", "id: one\ntasks: [{id: same, run: echo 1}]\n")
    two = write(project, "two.yaml", "id: two\ntasks: [{id: same, run: echo 2}]\n")
    assert uet("run", one, two, "--run-id", "r1").code == 0
    unknown = uet("logs", "r1", "nope")
    assert unknown.code == 2
    assert "nope" in unknown.err
    ambiguous = uet("logs", "r1", "same")
    assert ambiguous.code == 2
    assert "one/same" in ambiguous.err or "<workstream>/<task>" in ambiguous.err
    assert uet("logs", "r1", "two/same").out == "2\n"
