"""Bounded inputs through the command line (issue 9, findings 6, 7 and 8).

Odd numbers, odd files, a ``--run-id`` that climbs out of ``.uet/`` and bad ``--db`` URLs
were tracebacks, "internal error" (exit 3), hangs or gigabytes of memory. Each is now one
line naming the file or option, the key and the problem, exit 2, and nothing is started.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import Result, Uet


def write(project: Path, name: str, text: str) -> str:
    path = project / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return name


def assert_usage_error(result: Result, *expected: str) -> None:
    """Exit 2, each expected text on stderr, and no traceback or internal error."""
    assert result.code == 2, (result.out, result.err)
    for text in expected:
        assert text in result.err, result.err
    assert "Traceback" not in result.err
    assert "internal error" not in result.err


def no_run_recorded(project: Path) -> bool:
    """Nothing started: no database, no logs."""
    return not (project / ".uet" / "state.db").exists() and not (project / ".uet" / "logs").exists()


_ONE_TASK = """
id: ws
tasks:
  - {{id: a, run: "true"{task}}}
"""


# -- finding 6: odd values pass validation, then crash the run ------------------------------


@pytest.mark.parametrize(
    ("task", "line"),
    [
        (", timeout: 1e300", "ws.yaml: tasks[0].timeout: must be at most 604800 (7 days)"),
        (", timeout: .inf", "ws.yaml: tasks[0].timeout: expected a finite number"),
        (", timeout: .nan", "ws.yaml: tasks[0].timeout: expected a finite number"),
        (", retries: 9223372036854775808", "ws.yaml: tasks[0].retries: must be at most 100"),
        (", retries: true", "ws.yaml: tasks[0].retries: expected a number, got a boolean true"),
        (", retry_delay: 1e300", "ws.yaml: tasks[0].retry_delay: must be at most 86400 (1 day)"),
        (', env: {"A=B": x}', "ws.yaml: tasks[0].env['A=B']: 'A=B' is not a valid environment"),
        (', env: {OK: "a\\0b"}', "ws.yaml: tasks[0].env.OK: must not contain a NUL character"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_odd_task_values_are_usage_errors(
    uet: Uet, project: Path, command: str, task: str, line: str
) -> None:
    """`uet validate` and `uet run` say what is wrong, exit 2, and no run starts."""
    name = write(project, "ws.yaml", _ONE_TASK.format(task=task))
    assert_usage_error(uet(command, name), line)
    assert no_run_recorded(project)


def test_a_23_digit_concurrency_is_a_usage_error(uet: Uet, project: Path) -> None:
    """It was "internal error", exit 3 (SQLite cannot hold the integer)."""
    text = "concurrency: " + "1" * 23 + "\n" + _ONE_TASK.format(task="")
    result = uet("run", write(project, "ws.yaml", text))
    assert_usage_error(result, "ws.yaml: concurrency: must be at most 10000")
    assert no_run_recorded(project)


def test_a_json_integer_of_5000_digits_is_one_line(uet: Uet, project: Path) -> None:
    """It was a traceback of Python's 4,300-digit limit in `uet validate`."""
    text = '{"id": "ws", "tasks": [{"id": "a", "run": "true", "retries": ' + "7" * 5000 + "}]}"
    result = uet("validate", write(project, "ws.json", text))
    assert_usage_error(
        result, "ws.json: tasks[0].retries: a whole number of 5000 digits is out of range"
    )
    assert len(result.err.splitlines()) == 1


def test_a_plan_with_odd_numbers_is_refused_by_run(uet: Uet, project: Path) -> None:
    text = (
        '{"plan_id": "p", "globals": {"max_concurrency": 99999999999999999999999},'
        ' "steps": [{"id": "s", "command": "true", "timeout_sec": Infinity, "retries": true}]}'
    )
    result = uet("run", write(project, "plan.json", text))
    assert_usage_error(
        result,
        "plan.json: globals.max_concurrency: must be at most 10000",
        "plan.json: steps[0].timeout_sec: expected a finite number",
        "plan.json: steps[0].retries: expected a number, got a boolean true",
    )
    assert no_run_recorded(project)


@pytest.mark.parametrize("flag", [["-j", "1" * 23], ["--concurrency", "10001"], ["-j", "0"]])
def test_concurrency_flag_is_bounded(uet: Uet, project: Path, flag: list[str]) -> None:
    name = write(project, "ws.yaml", _ONE_TASK.format(task=""))
    assert_usage_error(uet("run", name, *flag), "1<=x<=10000")
    assert no_run_recorded(project)


def test_the_limits_themselves_run(uet: Uet, project: Path) -> None:
    """At the bounds, a run goes ahead: the bounds are not off by one."""
    task = ", timeout: 604800, retries: 100, retry_delay: 86400"
    name = write(project, "ws.yaml", "concurrency: 10000\n" + _ONE_TASK.format(task=task))
    result = uet("run", name, "-j", "10000", "--json")
    assert result.code == 0, result.err


def _uet_process(
    project: Path, *args: str, memory: int = 1 << 30
) -> subprocess.CompletedProcess[str]:
    """``python -m uet ARGS`` in the project, its memory capped (a runaway read fails, not the
    machine), with a timeout (a hang fails the test instead of hanging it)."""

    def cap() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [sys.executable, "-m", "uet", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=cap,  # setrlimit only, before exec
        check=False,
    )


@pytest.mark.slow
def test_validate_dev_zero_is_refused_before_reading(project: Path) -> None:
    """It grew to 3.2 GB; now the device is refused before one byte is read."""
    done = _uet_process(project, "validate", "/dev/zero")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "/dev/zero: is a character device, not a workstream file"


@pytest.mark.slow
def test_validate_a_fifo_does_not_hang(project: Path) -> None:
    """Opening a FIFO waited for a writer forever."""
    os.mkfifo(project / "ws.yaml")
    done = _uet_process(project, "validate", "ws.yaml")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "ws.yaml: is a named pipe (FIFO), not a workstream file"


def test_a_file_over_the_limit_is_refused(uet: Uet, project: Path) -> None:
    with (project / "big.yaml").open("wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)
    result = uet("run", "big.yaml")
    assert_usage_error(result, "big.yaml: is larger than 16 MiB")
    assert no_run_recorded(project)


@pytest.mark.parametrize("how", ["uet.toml", "environment"])
def test_the_size_limit_is_a_setting(
    uet: Uet, project: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    name = write(project, "ws.yaml", _ONE_TASK.format(task=""))
    if how == "uet.toml":
        (project / "uet.toml").write_text("max_spec_bytes = 20\n", encoding="utf-8")
    else:
        monkeypatch.setenv("UET_MAX_SPEC_BYTES", "20")
    assert_usage_error(uet("validate", name), "ws.yaml: is larger than 20 bytes")
    monkeypatch.setenv("UET_MAX_SPEC_BYTES", "100000")
    assert uet("validate", name).code == 0


# -- finding 7: --run-id ../../../x wrote logs outside .uet/ --------------------------------


@pytest.mark.parametrize(
    "run_id", ["../../../x", "..", ".hidden", "a/b", "ABSOLUTE", "", "a" * 129]
)
def test_a_run_id_that_is_no_id_is_refused_before_anything_starts(
    uet: Uet, project: Path, tmp_path: Path, run_id: str
) -> None:
    name = write(project, "ws.yaml", _ONE_TASK.format(task=""))
    run_id = str(tmp_path / "abs") if run_id == "ABSOLUTE" else run_id
    before = sorted(tmp_path.rglob("*"))
    result = uet("run", name, "--run-id", run_id)
    assert_usage_error(result, "Invalid value for '--run-id'", "is not a valid run id")
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere


def test_a_good_run_id_names_the_logs_folder_inside_uet(uet: Uet, project: Path) -> None:
    name = write(project, "ws.yaml", _ONE_TASK.format(task="").replace('"true"', "echo hi"))
    result = uet("run", name, "--run-id", "Nightly-2026.12_04")
    assert result.code == 0, result.err
    assert (project / ".uet" / "logs" / "Nightly-2026.12_04" / "ws" / "a.log").read_text() == "hi\n"


def test_the_library_refuses_a_bad_run_id_too(tmp_path: Path) -> None:
    """Every place a run id becomes a path checks it: the run options and the logs folder."""
    from uet.engine.logpaths import logs_dir  # noqa: PLC0415
    from uet.engine.model import RunOptions  # noqa: PLC0415
    from uet.errors import UsageError  # noqa: PLC0415

    with pytest.raises(UsageError, match="not a valid run id"):
        RunOptions.make(concurrency=1, deterministic=False, run_id="../x")
    with pytest.raises(UsageError, match="not a valid run id"):
        logs_dir(tmp_path, "../../etc")
    with pytest.raises(UsageError, match="concurrency must be 1 to 10000"):
        RunOptions.make(concurrency=10**22, deterministic=False)


# -- finding 8: bad --db URLs printed a traceback and exit 3 --------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("bogus", "'bogus' is not a database URL (expected sqlite:///PATH or postgresql+psycopg"),
        ("mysql://u:secret@h/db", "unknown database 'mysql'"),
        ("oracle+cx://h/db", "unknown database 'oracle'"),
        ("postgresql+asyncpg://h/db", "unknown driver 'asyncpg' for postgresql"),
        ("sqlite+nosuch:///x.db", "unknown driver 'nosuch' for sqlite"),
    ],
)
@pytest.mark.parametrize("command", [["runs"], ["status"], ["db", "upgrade"]])
def test_a_bad_db_url_is_a_usage_error(
    uet: Uet, url: str, expected: str, command: list[str]
) -> None:
    result = uet("--db", url, *command)
    assert_usage_error(result, "uet: error: --db: ", expected)
    assert "secret" not in result.err
    assert len(result.err.splitlines()) == 1


def test_a_bad_uet_db_names_the_variable(uet: Uet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UET_DB", "mysql://root:hunter2@db/uet")
    result = uet("runs")
    assert_usage_error(result, "environment variable UET_DB: unknown database 'mysql'")
    assert "hunter2" not in result.err


def test_a_bad_db_in_uet_toml_names_the_file_and_key(uet: Uet, project: Path) -> None:
    (project / "uet.toml").write_text('db = "bogus://x"\n', encoding="utf-8")
    result = uet("runs")
    assert_usage_error(result, "uet.toml: db: unknown database 'bogus'")


def test_a_bad_db_url_stops_run_before_it_starts(uet: Uet, project: Path) -> None:
    name = write(project, "ws.yaml", _ONE_TASK.format(task=""))
    assert_usage_error(uet("--db", "bogus", "run", name), "'bogus' is not a database URL")
    assert no_run_recorded(project)


_WITHOUT_PSYCOPG = """
import sys
sys.modules["psycopg"] = None  # as if uet[postgres] were not installed: importing it fails
from uet.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", [["runs"], ["db", "upgrade"], ["status"]])
def test_postgresql_without_the_driver_names_the_fix(project: Path, command: list[str]) -> None:
    """Run in a process of its own where psycopg cannot be imported."""
    url = "postgresql+psycopg://uet:pw@127.0.0.1:1/uet"
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PSYCOPG, "--db", url, *command],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "pip install 'uet[postgres]'" in done.stderr
    assert "postgresql+psycopg://uet:***@127.0.0.1:1/uet" in done.stderr
    assert ":pw@" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
