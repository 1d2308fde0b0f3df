"""`uet scripts list|run` through the real command line: recorded runs, the script's own exit
code, typed params, quoting, extra args, confirmation, interactive refusal, --dry-run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.scripts.conftest import Uet, Write

PY = sys.executable
REGISTRY = f"""
hello:
  description: Say hello
  run: echo hello ${{who}}
  params:
    who: {{type: str, default: world, description: whom to greet}}
show-args:
  description: Print its arguments as JSON, one line
  argv: [{PY}, -c, "import json, sys; print(json.dumps(sys.argv[1:]))", "${{params.word}}"]
  params:
    word: {{type: str, default: w}}
shell-args:
  run: {PY} -c 'import json, sys; print(json.dumps(sys.argv[1:]))' ${{word}}
  params:
    word: {{type: str, default: w}}
count:
  argv: [{PY}, -c, "print(int('${{params.n}}') * 2)"]
  params:
    n: {{type: int, default: 1}}
    mode: {{type: choice, choices: [fast, slow], default: fast}}
  timeout: 30
  retries: 1
exit7:
  run: echo about to fail; exit 7
killed:
  run: kill -TERM $$
slow:
  run: sleep 30
  timeout: 0.5
missing:
  argv: [/nonexistent/uet-test-binary]
clean:
  description: Remove build outputs
  run: rm -rf build && echo cleaned
  confirm: "Remove build/?"
prompt:
  argv: [{PY}, -c, "input('name? ')"]
  interactive: true
"""


@pytest.fixture
def registry(write: Write) -> Path:
    return write("config/scripts.yaml", REGISTRY)


def _json(text: str) -> dict[str, object]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def test_list_shows_each_script_with_params_settings_and_source(uet: Uet, registry: Path) -> None:
    result = uet("scripts", "list")
    assert result.code == 0, result.err
    assert "hello  Say hello  [config/scripts.yaml]" in result.out
    assert "  run: echo hello ${who}" in result.out
    assert "  --param who: str = world - whom to greet" in result.out
    assert "  --param mode: choice(fast|slow) = fast" in result.out
    assert "  timeout 30 s, retries 1" in result.out
    assert "  asks: Remove build/?" in result.out
    listed = json.loads(uet("scripts", "list", "--json").out)
    by_name = {item["name"]: item for item in listed}
    names = [
        "hello",
        "show-args",
        "shell-args",
        "count",
        "exit7",
        "killed",
        "slow",
        "missing",
        "clean",
        "prompt",
    ]
    assert sorted(by_name) == sorted(names)
    assert by_name["count"]["params"]["n"] == {
        "type": "int",
        "default": 1,
        "choices": None,
        "required": False,
        "description": None,
    }
    assert by_name["count"]["timeout"] == 30
    assert by_name["count"]["retries"] == 1
    assert by_name["clean"]["confirm"] == "Remove build/?"
    assert by_name["prompt"]["interactive"] is True
    assert by_name["hello"]["source"] == "config/scripts.yaml"


def test_run_records_a_one_task_run_that_status_and_logs_show(uet: Uet, registry: Path) -> None:
    result = uet("scripts", "run", "hello", "--param", "who=there")
    assert result.code == 0, result.err
    assert result.out == "hello there\n"
    assert result.err.startswith("uet: script hello: succeeded (run run-")
    run_id = result.err.split("(run ")[1].split(")")[0]
    status = _json(uet("status", run_id, "--json").out)
    assert status["status"] == "succeeded"
    assert status["name"] == "script hello"
    (task,) = status["tasks"]  # type: ignore[misc]
    assert task["id"] == "scripts/hello"
    assert uet("logs", run_id, "hello").out == "hello there\n"


def test_the_json_record_has_the_run_the_command_and_the_exit_code(
    uet: Uet, registry: Path
) -> None:
    result = uet("scripts", "run", "count", "-p", "n=21", "--json")
    assert result.code == 0, result.err
    record = _json(result.out)  # the script's own output is in the log, not in the JSON
    assert record["status"] == "succeeded"
    assert record["exit_code"] == 0
    assert record["params"] == {"n": 21, "mode": "fast"}
    assert record["script"] == "count"
    assert uet("logs", str(record["run_id"]), "count").out == "42\n"


@pytest.mark.parametrize(
    ("name", "code", "says"),
    [
        ("exit7", 7, "failed"),
        ("killed", 128 + 15, "failed"),
        ("slow", 124, "failed"),
        ("missing", 127, "failed"),
    ],
)
def test_run_exits_with_the_scripts_own_code(
    uet: Uet, registry: Path, name: str, code: int, says: str
) -> None:
    """Its exit code; 128+N killed by signal N; 124 stopped at its timeout; 127 could not
    start. The last line says where its output is."""
    result = uet("scripts", "run", name)
    assert result.code == code, result.err
    last = result.err.strip().splitlines()[-1]
    assert last.startswith(f"uet: script {name}: {says} (run run-")
    assert last.endswith(
        f", exit {code}; output: uet logs {last.split('(run ')[1].split(')')[0]} {name}"
    )


def test_a_hostile_param_value_stays_one_argument_in_a_shell_string(
    uet: Uet, registry: Path, project: Path
) -> None:
    """`'; rm -rf x'` is quoted into the `run` string: the script sees one argument and
    nothing is removed."""
    (project / "x").mkdir()
    value = "'; rm -rf x; echo pwned"
    result = uet("scripts", "run", "shell-args", "--param", f"word={value}", "--", "a b", "'c'")
    assert result.code == 0, result.err
    assert json.loads(result.out) == [value, "a b", "'c'"]
    assert (project / "x").is_dir()


def test_extra_args_are_appended_to_argv_as_they_are(uet: Uet, registry: Path) -> None:
    result = uet("scripts", "run", "show-args", "-p", "word=$(id)", "--", "--flag", "a b", "")
    assert result.code == 0, result.err
    assert json.loads(result.out) == ["$(id)", "--flag", "a b", ""]


BAD_RUNS = [
    (
        ["count", "-p", "n=two"],
        "script 'count': param 'n': expected a whole number, got 'two'",
    ),
    (
        ["count", "-p", "mode=medium"],
        "script 'count': param 'mode': expected one of fast, slow, got 'medium'",
    ),
    (
        ["count", "-p", "colour=red"],
        "script 'count': --param 'colour': no such parameter (params: n, mode)",
    ),
    (
        ["count", "-p", "n"],
        "script 'count': --param 'n': expected NAME=VALUE (e.g. --param env=staging)",
    ),
    (["helo"], "no script 'helo' (did you mean 'hello'?)"),
    (
        ["zzz"],
        "no script 'zzz' (known: clean, count, exit7, hello, killed, missing, prompt, "
        "shell-args, show-args, slow)",
    ),
    (["clean"], "script 'clean' asks for confirmation: pass --yes"),
    (
        ["prompt"],
        "script 'prompt' is interactive (interactive: true) and uet may not prompt "
        "here (no terminal, --non-interactive, UET_NON_INTERACTIVE=1 or CI=true): run it from a "
        "terminal",
    ),
]


@pytest.mark.parametrize(("args", "line"), BAD_RUNS, ids=[" ".join(a) for a, _ in BAD_RUNS])
def test_bad_input_is_one_exit_2_line_and_nothing_runs(
    uet: Uet, registry: Path, project: Path, args: list[str], line: str
) -> None:
    result = uet("scripts", "run", *args)
    assert result.code == 2
    assert result.out == ""
    assert result.err.strip() == f"uet: error: {line}"
    assert not (project / ".uet" / "state.db").exists()  # no run was recorded


def test_confirm_scripts_run_with_yes(uet: Uet, registry: Path, project: Path) -> None:
    (project / "build").mkdir()
    result = uet("scripts", "run", "clean", "--yes")
    assert result.code == 0, result.err
    assert result.out == "cleaned\n"
    assert not (project / "build").exists()


def test_no_registry_says_where_scripts_are_defined(uet: Uet) -> None:
    result = uet("scripts", "run", "lint")
    assert result.code == 2
    assert result.err.strip() == (
        "uet: error: no script 'lint': no scripts: define them in uet.toml ([scripts.NAME]) or "
        "config/scripts.yaml (see docs/automation.md)"
    )


def test_dry_run_prints_the_command_and_records_nothing(
    uet: Uet, registry: Path, project: Path
) -> None:
    """--dry-run needs no --yes (nothing runs) and writes no database."""
    result = uet("scripts", "run", "clean", "--dry-run")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "would run: rm -rf build && echo cleaned",
        "asks: Remove build/? (--yes answers it)",
    ]
    record = _json(uet("scripts", "run", "count", "-p", "n=4", "--dry-run", "--json").out)
    assert record["dry_run"] is True
    assert record["argv"] == [PY, "-c", "print(int('4') * 2)"]
    assert record["timeout"] == 30
    assert not (project / ".uet" / "state.db").exists()


def test_a_dry_run_of_an_interactive_script_shows_it_and_says_it_would_be_refused(
    uet: Uet, registry: Path
) -> None:
    """--dry-run shows what would run even in non-interactive mode, and says it would be
    refused there; the real run is refused (exit 2)."""
    result = uet("--non-interactive", "scripts", "run", "prompt", "--dry-run")
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == (
        "interactive: needs a terminal; refused here (no terminal, --non-interactive, "
        "UET_NON_INTERACTIVE=1 or CI=true)"
    )
    record = _json(uet("scripts", "run", "prompt", "--dry-run", "--json").out)
    assert record["refused_here"] is True
    assert record["interactive"] is True
    assert uet("--non-interactive", "scripts", "run", "prompt").code == 2
