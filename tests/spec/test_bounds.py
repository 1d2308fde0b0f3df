"""Bounded inputs (issue 9, finding 6): every number a workstream file gives is one a run can
live with, in every format, and odd values are located problems, never tracebacks.

Timeouts are finite and at most 7 days, retries at most 100, concurrency at most 10,000,
retry delays at most a day; NaN, infinities and booleans are not numbers; integers of any
length are problems; environment names are what a shell exports and no command holds a NUL.
A file that is no regular file or is larger than the limit is refused before it is read.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from tests.spec.helpers import find, problems_of, write
from uet import defaults
from uet.spec import load_file, load_files


def native(task: str = "", *, top: str = "", defaults_: str = "") -> str:
    """A native workstream (flow style, so YAML and JSON read it alike)."""
    fields = f", {task}" if task else ""
    extra = f"{top}, " if top else ""
    given = f'"defaults": {{{defaults_}}}, ' if defaults_ else ""
    return f'{{"id": "ws", {extra}{given}"tasks": [{{"id": "a", "run": "true"{fields}}}]}}'


def plan(step: str = "", *, globals_: str = "") -> str:
    fields = f", {step}" if step else ""
    return (
        f'{{"plan_id": "p", "globals": {{{globals_}}}, '
        f'"steps": [{{"id": "s", "command": "true"{fields}}}]}}'
    )


# -- numbers, in the native format (YAML and JSON) ------------------------------------------


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (native('"timeout": 1e300'), "tasks[0].timeout", "must be at most 604800 (7 days)"),
        (native('"timeout": 604801'), "tasks[0].timeout", "must be at most 604800 (7 days)"),
        (native('"timeout": 1e999'), "tasks[0].timeout", "expected a finite number"),
        (native('"retries": 101'), "tasks[0].retries", "must be at most 100"),
        (
            native('"retries": 9223372036854775808'),
            "tasks[0].retries",
            "must be at most 100, got 9223372036854775808",
        ),
        (native('"retries": true'), "tasks[0].retries", "expected a number, got a boolean true"),
        (native('"timeout": false'), "tasks[0].timeout", "expected a number, got a boolean"),
        (native('"retry_delay": 86401'), "tasks[0].retry_delay", "at most 86400 (1 day)"),
        (native('"retry_delay": -1'), "tasks[0].retry_delay", "must be at least 0"),
        (native(top='"concurrency": ' + "1" * 23), "concurrency", "must be at most 10000"),
        (native(top='"concurrency": 10001'), "concurrency", "must be at most 10000"),
        (native(top='"concurrency": true'), "concurrency", "expected a number"),
        (native(defaults_='"timeout": 1e300'), "defaults.timeout", "must be at most 604800"),
        (native(defaults_='"retries": 1000'), "defaults.retries", "must be at most 100"),
        (native(defaults_='"retry_delay": 1e99'), "defaults.retry_delay", "at most 86400"),
        (native('"timeout": "inf"'), "tasks[0].timeout", "expected a finite number"),
        (native('"timeout": "nan"'), "tasks[0].timeout", "expected a finite number"),
        (native('"timeout": ' + "9" * 60), "tasks[0].timeout", "must be at most 604800"),
        (native('"retries": ' + "9" * 5000), "tasks[0].retries", "5000 digits is out of range"),
        (native(top='"concurrency": ' + "9" * 5000), "concurrency", "5000 digits"),
    ],
)
def test_numbers_out_of_bounds_are_located_problems(
    tmp_path: Path, suffix: str, text: str, path: str, message: str
) -> None:
    """Each odd number is one problem at its key path, in YAML as in JSON."""
    file = write(tmp_path, f"ws{suffix}", text)
    assert message in find(problems_of(load_file, file, env={}), path).message


@pytest.mark.parametrize(
    ("scalar", "message"),
    [
        (".inf", "expected a finite number, got a number inf"),
        ("-.inf", "expected a finite number, got a number -inf"),
        (".nan", "expected a finite number, got a number nan"),
        (".NaN", "expected a finite number"),
        ("1e999", "expected a finite number"),  # YAML 1.1: a string (no sign), still checked
        ("1.0e999", "expected a finite number"),  # a string too (YAML 1.1 wants e+999)
        ("1.0e+999", "expected a finite number, got a number inf"),
        ("0x" + "f" * 200, "out of range"),
        ("!!float 1e999", "expected a finite number"),
    ],
)
def test_yaml_only_spellings_of_odd_numbers(tmp_path: Path, scalar: str, message: str) -> None:
    """YAML's own infinities and NaN (``.inf``, ``.nan``) are refused like JSON's."""
    file = write(
        tmp_path, "ws.yaml", f"id: ws\ntasks:\n  - {{id: a, run: 'true', timeout: {scalar}}}\n"
    )
    assert message in find(problems_of(load_file, file, env={}), "tasks[0].timeout").message


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_nan_and_infinity_are_refused(tmp_path: Path, constant: str) -> None:
    file = write(tmp_path, "ws.json", native(f'"retry_delay": {constant}'))
    found = find(problems_of(load_file, file, env={}), "tasks[0].retry_delay")
    assert "expected a finite number" in found.message


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_odd_numbers_anywhere_are_refused_even_in_metadata(tmp_path: Path, suffix: str) -> None:
    """No NaN, infinity or endless integer anywhere: metadata is stored as JSON."""
    text = native(top='"metadata": {"ratio": 1.0e+999, "big": ' + "7" * 200 + "}")
    problems = problems_of(load_file, write(tmp_path, f"ws{suffix}", text), env={})
    assert "expected a finite number" in find(problems, "metadata.ratio").message
    assert "200 digits is out of range" in find(problems, "metadata.big").message


def test_a_json_integer_of_5000_digits_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    """Python refuses to parse integers of more than 4,300 digits (ValueError in json.loads)."""
    file = write(tmp_path, "ws.json", native(f'"timeout": {"1" * 5000}'))
    found = find(problems_of(load_file, file, env={}), "tasks[0].timeout")
    assert found.message == "a whole number of 5000 digits is out of range (at most 100 digits)"


def test_every_problem_is_reported_with_the_odd_numbers(tmp_path: Path) -> None:
    """An unusable number does not hide the file's other problems, and is said once."""
    text = native('"timeout": 1e999, "retries": true', top='"colour": "blue"')
    problems = problems_of(load_file, write(tmp_path, "ws.json", text), env={})
    assert sorted(p.path for p in problems) == ["colour", "tasks[0].retries", "tasks[0].timeout"]


@pytest.mark.parametrize(
    ("text", "values"),
    [
        (
            native('"timeout": 604800, "retries": 100, "retry_delay": 86400'),
            (604800.0, 100, 86400.0),
        ),
        (native('"timeout": 0.5, "retries": 0, "retry_delay": 0'), (0.5, 0, 0.0)),
        (native('"timeout": "30", "retries": "2"'), (30.0, 2, None)),
    ],
)
def test_the_limits_themselves_are_accepted(
    tmp_path: Path, text: str, values: tuple[float, int, float | None]
) -> None:
    (spec,) = load_file(write(tmp_path, "ws.json", text), env={})
    task = spec.tasks[0]
    assert (task.timeout, task.retries, task.retry_delay) == values


def test_concurrency_at_its_limit_is_accepted(tmp_path: Path) -> None:
    (spec,) = load_file(write(tmp_path, "ws.json", native(top='"concurrency": 10000')), env={})
    assert spec.concurrency == defaults.MAX_CONCURRENCY


# -- the same bounds in the plan and legacy bundle formats ----------------------------------


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        (plan('"timeout_sec": 1e300'), "steps[0].timeout_sec", "must be at most 604800"),
        (plan('"timeout_sec": NaN'), "steps[0].timeout_sec", "expected a finite number"),
        (plan('"retries": true'), "steps[0].retries", "expected a number, got a boolean"),
        (plan('"retries": 101'), "steps[0].retries", "must be at most 100"),
        (plan('"retry_delay_sec": 86401'), "steps[0].retry_delay_sec", "at most 86400"),
        (plan('"retry_delay_sec": Infinity'), "steps[0].retry_delay_sec", "finite number"),
        (plan(globals_='"max_concurrency": ' + "1" * 23), "globals.max_concurrency", "10000"),
        (plan(globals_='"max_concurrency": true'), "globals.max_concurrency", "a boolean"),
        (plan(globals_='"default_timeout_sec": 1e300'), "globals.default_timeout_sec", "604800"),
        (plan(globals_='"default_retries": 1000'), "globals.default_retries", "at most 100"),
        (plan(globals_='"default_retries": false'), "globals.default_retries", "a boolean"),
        (plan('"env": {"A=B": "x"}'), "steps[0].env['A=B']", "not a valid environment variable"),
        (plan('"env": {"OK": "a\\u0000b"}'), "steps[0].env.OK", "NUL"),
        (plan(globals_='"env": {"1X": "y"}'), "globals.env['1X']", "environment variable"),
        (plan('"args": ["a\\u0000"]'), "steps[0].args[0]", "NUL"),
        (plan('"timeout_sec": ' + "2" * 5000), "steps[0].timeout_sec", "5000 digits"),
    ],
)
def test_plan_fields_have_the_same_bounds(
    tmp_path: Path, text: str, path: str, message: str
) -> None:
    file = write(tmp_path, "plan.json", text)
    assert message in find(problems_of(load_file, file, env={}), path).message


def test_plan_limits_are_accepted(tmp_path: Path) -> None:
    text = plan(
        '"timeout_sec": 604800, "retries": 100, "retry_delay_sec": 86400',
        globals_='"max_concurrency": 10000, "default_timeout_sec": 604800',
    )
    (spec,) = load_file(write(tmp_path, "plan.json", text), env={})
    assert spec.concurrency == 10000
    assert (spec.tasks[0].timeout, spec.tasks[0].retries) == (604800.0, 100)


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        ('"acceptance_tests": ["pytest\\u0000"]', "acceptance_tests[0]", "NUL"),
        ('"metadata": {"x": NaN}', "metadata.x", "expected a finite number"),
        ('"ccpm_issue": ' + "3" * 4400, "ccpm_issue", "4400 digits is out of range"),
    ],
)
def test_legacy_bundle_values_are_bounded(
    tmp_path: Path, extra: str, path: str, message: str
) -> None:
    text = f'{{"id": "ws-a", "tasks": ["do it"], {extra}}}'
    assert message in find(problems_of(load_file, write(tmp_path, "b.json", text)), path).message


# -- environment names and NUL characters ---------------------------------------------------


@pytest.mark.parametrize(
    ("env", "path", "message"),
    [
        ('{"A=B": "x"}', "env['A=B']", "'A=B' is not a valid environment variable name"),
        ('{"1A": "x"}', "env['1A']", "not a valid environment variable name"),
        ('{"": "x"}', "env['']", "not a valid environment variable name"),
        ('{"A\\u0000": "x"}', "env['A\\x00']", "not a valid environment variable name"),
        ('{"A B": "x"}', "env['A B']", "not a valid environment variable name"),
        ('{"OK": "a\\u0000b"}', "env.OK", "must not contain a NUL character"),
    ],
)
def test_environment_names_and_values(tmp_path: Path, env: str, path: str, message: str) -> None:
    problems = problems_of(load_file, write(tmp_path, "ws.json", native(top=f'"env": {env}')))
    assert message in find(problems, path).message


def test_task_env_and_commands_without_nul(tmp_path: Path) -> None:
    text = (
        '{"id": "ws", "tasks": ['
        '{"id": "a", "run": "echo \\u0000", "env": {"B-C": "1"}, "cwd": "x\\u0000"},'
        '{"id": "b", "argv": ["echo", "\\u0000"], "acceptance": ["t\\u0000"]}]}'
    )
    problems = problems_of(load_file, write(tmp_path, "ws.json", text))
    assert "NUL" in find(problems, "tasks[0].run").message
    assert "NUL" in find(problems, "tasks[0].cwd").message
    assert "environment variable" in find(problems, "tasks[0].env.B-C").message
    assert "NUL" in find(problems, "tasks[1].argv[1]").message
    assert "NUL" in find(problems, "tasks[1].acceptance[0]").message


def test_ordinary_environment_names_are_accepted(tmp_path: Path) -> None:
    text = native('"env": {"_x": "1", "PATH_2": "a=b"}', top='"env": {"PYTHONUNBUFFERED": "1"}')
    (spec,) = load_file(write(tmp_path, "ws.json", text), env={})
    assert spec.tasks[0].env == {"_x": "1", "PATH_2": "a=b"}


# -- files: regular, and not too large ------------------------------------------------------


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """Opening a FIFO waited for a writer forever. A writer is waiting here, so a reader
    that opened it would read an empty file instead of refusing it."""
    fifo = tmp_path / "ws.yaml"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.open("wb").close(), daemon=True)
    writer.start()
    try:
        (problem,) = problems_of(load_file, fifo)
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # lets the writer go
        writer.join(timeout=30)
    assert problem.message == "is a named pipe (FIFO), not a workstream file"


def test_a_device_is_refused_before_reading() -> None:
    """A character device (here /dev/null, which a reader would find empty) is refused by
    its kind; /dev/zero, which never ends, is tried through the CLI with a memory cap."""
    (problem,) = problems_of(load_file, "/dev/null")
    assert (problem.file, problem.message) == (
        "/dev/null",
        "is a character device, not a workstream file",
    )


def test_a_directory_is_refused(tmp_path: Path) -> None:
    (problem,) = problems_of(load_files, [tmp_path])
    assert problem.message == "is a directory, not a workstream file"


def test_a_file_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    """16 MiB by default; a sparse file shows that the content is never read."""
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(defaults.MAX_SPEC_BYTES + 1)
    (problem,) = problems_of(load_file, big)
    assert problem.message.startswith("is larger than 16 MiB, the most a workstream file may have")
    assert "max_spec_bytes" in problem.message


def test_the_limit_is_a_parameter(tmp_path: Path) -> None:
    file = write(tmp_path, "ws.json", native())
    size = file.stat().st_size
    assert load_files([file], env={}, max_bytes=size).tasks
    (problem,) = problems_of(load_files, [file], env={}, max_bytes=size - 1)
    assert problem.message.startswith(f"is larger than {size - 1} bytes")


def test_a_file_whose_size_lies_is_read_only_up_to_the_limit() -> None:
    """/proc files say 0 bytes and then give more: at most limit + 1 bytes are read."""
    (problem,) = problems_of(load_file, "/proc/self/maps", max_bytes=64)
    assert problem.message.startswith("is larger than 64 bytes")


def test_json_text_as_big_as_allowed_still_loads(tmp_path: Path) -> None:
    """The bound is on bytes, not on what the file holds."""
    tasks = [{"id": f"t{i}", "run": "true"} for i in range(2000)]
    file = tmp_path / "many.json"
    file.write_text(json.dumps({"id": "ws", "tasks": tasks}), encoding="utf-8")
    assert len(load_files([file], env={}, max_bytes=file.stat().st_size).tasks) == 2000


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    """Ten levels of ten aliases are 10^10 values once expanded (and stored as metadata)."""
    lines = ["id: ws", "metadata:", "  l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 10)]
    lines.append("tasks: [{id: t, run: 'true'}]")
    (problem,) = problems_of(load_file, write(tmp_path, "bomb.yaml", "\n".join(lines)))
    assert "aliases expand to more than 10,000,000 values" in problem.message


def test_ordinary_aliases_still_load(tmp_path: Path) -> None:
    text = """
    id: ws
    defaults: &d {timeout: 30}
    metadata: {glob: "src/**/*.py", again: *d}
    tasks:
      - {id: a, run: "true", env: &e {A: "1"}}
      - {id: b, run: "true", env: *e}
    """
    (spec,) = load_file(write(tmp_path, "ws.yaml", text), env={})
    assert spec.tasks[1].env == {"A": "1"}
    assert spec.metadata["again"] == {"timeout": 30}
