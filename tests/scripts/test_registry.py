"""The registry's loading: uet.toml [scripts.NAME] and config/scripts.yaml, merged field by
field, every bad entry an exit-2 line naming file, key and problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.scripts.conftest import Uet, Write
from uet.config import load_settings
from uet.errors import ConfigError
from uet.spec.scripts import ParamType, load_scripts


def _scripts(project: Path) -> dict[str, object]:
    return dict(load_scripts(load_settings(cwd=project)))


def test_toml_and_yaml_define_scripts_and_the_yaml_changes_fields_one_by_one(
    project: Path, write: Write
) -> None:
    """A YAML entry for a uet.toml script changes only the keys it gives (env and params key
    by key); a new command (argv) replaces the old one (run); the source names both files."""
    write(
        "uet.toml",
        """
        [scripts.lint]
        run = "ruff check ."
        description = "Lint"
        timeout = 60
        env = {A = "1", B = "2"}
        params.path = {type = "path", default = "."}

        [scripts.only-toml]
        argv = ["true"]
        """,
    )
    write(
        "config/scripts.yaml",
        """
        lint:
          argv: [ruff, check, "${params.path}"]
          env: {B: "3"}
          params:
            path: {default: src}
            fix: {type: bool, default: false}
        only-yaml:
          run: "true"
        """,
    )
    found = load_scripts(load_settings(cwd=project))
    assert list(found) == ["lint", "only-toml", "only-yaml"]
    lint = found["lint"]
    assert lint.run is None
    assert lint.argv == ["ruff", "check", "${params.path}"]
    assert lint.description == "Lint"
    assert lint.timeout == 60
    assert lint.env == {"A": "1", "B": "3"}
    assert lint.params["path"].type is ParamType.PATH
    assert lint.params["path"].default == "src"
    assert lint.params["fix"].default is False
    assert lint.source == "uet.toml + config/scripts.yaml"
    assert found["only-toml"].source == "uet.toml"
    assert found["only-yaml"].source == "config/scripts.yaml"


def test_pyproject_tool_uet_scripts_and_a_yaml_file_under_a_scripts_key(
    project: Path, write: Write
) -> None:
    """[tool.uet.scripts] in pyproject.toml counts as uet.toml; config/scripts.yaml may hold
    the section's body or the section under `scripts:`."""
    write("pyproject.toml", '[tool.uet.scripts.hello]\nrun = "echo hi"\n')
    write("config/scripts.yaml", "scripts:\n  bye: {argv: [echo, bye]}\n")
    found = load_scripts(load_settings(cwd=project))
    assert found["hello"].source == "pyproject.toml"
    assert found["bye"].argv == ["echo", "bye"]


def test_no_registry_lists_nothing_and_says_where_scripts_go(uet: Uet) -> None:
    result = uet("scripts", "list")
    assert result.code == 0
    assert result.out == ""
    assert "no scripts: define them in uet.toml ([scripts.NAME]) or config/scripts.yaml" in (
        result.err
    )
    assert json.loads(uet("scripts", "list", "--json").out) == []


BAD_YAML = [
    ("lint: {run: x, colour: red}", "lint.colour", "unknown key 'colour'"),
    (
        "lint: {run: x, argv: [y]}",
        "lint",
        "a script needs exactly one of run, argv (has run and argv)",
    ),
    ("lint: {description: d}", "lint", "a script needs exactly one of run, argv (has none)"),
    ("lint: {run: x, timeout: soon}", "lint.timeout", "expected a number, got a string 'soon'"),
    ("lint: {run: x, retries: true}", "lint.retries", "expected a number"),
    ("lint: {argv: []}", "lint.argv", "must not be empty"),
    ("lint: {run: x, interactive: maybe}", "lint.interactive", "expected true or false"),
    ("lint: {run: x, retry_on: '(unclosed'}", "lint.retry_on", "not a valid regular expression"),
    (
        "lint: {run: x, retry_on: [300]}",
        "lint.retry_on",
        "exit codes are whole numbers 1 to 255, not 300",
    ),
    (
        "lint: {run: x, retry_on: {a: 1}}",
        "lint.retry_on",
        "expected a list of exit codes or a regex",
    ),
    ("lint: {run: x, env: {1BAD: v}}", "lint.env['1BAD']", "not a valid environment variable"),
    (
        "lint: {run: x, params: {n: {type: int, default: three}}}",
        "lint.params.n",
        "default must be a whole number, got 'three'",
    ),
    (
        "lint: {run: x, params: {n: {type: int, default: true}}}",
        "lint.params.n",
        "default must be a whole number, got True",
    ),
    (
        "lint: {run: x, params: {enabled: {type: bool, default: 'yes'}}}",
        "lint.params.enabled",
        "default must be true or false, got 'yes'",
    ),
    (
        "lint: {run: x, params: {e: {type: choice, choices: [a, b], default: c}}}",
        "lint.params.e",
        "default must be one of a, b, got 'c'",
    ),
    (
        "lint: {run: x, params: {e: {type: choice}}}",
        "lint.params.e",
        "a choice parameter needs choices: [a, b, ...]",
    ),
    (
        "lint: {run: x, params: {e: {type: str, choices: [a]}}}",
        "lint.params.e",
        "choices are for type: choice (this one is str)",
    ),
    (
        "lint: {run: x, params: {e: {type: text}}}",
        "lint.params.e.type",
        "must be 'str', 'int', 'float', 'bool', 'choice' or 'path', got 'text'",
    ),
    (
        "lint: {run: x, params: {e: {required: true, default: a}}}",
        "lint.params.e",
        "a required parameter has no default (drop one of them)",
    ),
    (
        "lint: {run: x, params: {bad-name: {}}}",
        "lint.params.bad-name",
        "'bad-name' is not a valid param name: use letters, digits and '_', not starting",
    ),
    (
        "lint: {run: 'echo ${params.nope}', params: {path: {}}}",
        "lint",
        "${params.nope} names no parameter (params: path); declare it under params.nope",
    ),
    ("Lint: {run: x}", "Lint", "'Lint' is not a valid script name"),
    (
        "lint: [ruff, check]",
        "lint",
        "expected a mapping of script keys (run or argv, ...), got a list",
    ),
    ("lint: {run: x, name: other}", "lint.name", "'name' is set by uet"),
    ("- lint", "", "expected a mapping of script names to scripts, got a list"),
    ("lint: {run: x}\nlint: {run: y}", "", ": not valid YAML: found the key 'lint' twice"),
]


@pytest.mark.parametrize(("text", "key", "problem"), BAD_YAML, ids=[k or t for t, k, _ in BAD_YAML])
def test_a_bad_entry_is_one_exit_2_line_naming_file_key_and_problem(
    uet: Uet, write: Write, project: Path, text: str, key: str, problem: str
) -> None:
    """`uet scripts list` (and every command reading the registry) refuses a bad file with
    one line: the file, the key path, what is wrong; no traceback."""
    path = write("config/scripts.yaml", text + "\n")
    result = uet("scripts", "list")
    assert result.code == 2, result
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    where = f"{path}: {key}: " if key else f"{path}"
    assert lines[0].startswith(f"uet: error: {where}"), lines[0]
    assert problem in lines[0]
    assert "Traceback" not in result.err


def test_a_bad_toml_entry_names_uet_toml_and_the_key_path(
    uet: Uet, write: Write, project: Path
) -> None:
    write("uet.toml", '[scripts.lint]\nrun = "x"\ntimeout = -1\n')
    result = uet("scripts", "list")
    assert result.code == 2
    assert result.err.strip() == (
        f"uet: error: {project / 'uet.toml'}: scripts.lint.timeout: must be greater than 0, got -1"
    )


def test_a_yaml_change_that_breaks_a_toml_script_is_blamed_on_the_yaml_file(
    uet: Uet, write: Write, project: Path
) -> None:
    """Each layer is validated as it is applied: the file that introduced the problem is
    the one named."""
    write("uet.toml", '[scripts.deploy]\nargv = ["deploy", "${params.env}"]\nparams.env = {}\n')
    write("config/scripts.yaml", "deploy:\n  params:\n    env: {type: int, default: prod}\n")
    result = uet("scripts", "list")
    assert result.code == 2
    assert result.err.strip() == (
        f"uet: error: {project / 'config/scripts.yaml'}: deploy.params.env: "
        "default must be a whole number, got 'prod'"
    )


def test_the_scripts_section_must_be_a_table(uet: Uet, write: Write, project: Path) -> None:
    write("uet.toml", 'scripts = "lint"\n')
    result = uet("scripts", "list")
    assert result.code == 2
    assert result.err.strip() == (
        f"uet: error: {project / 'uet.toml'}: scripts: "
        "expected a table of scripts ([scripts.NAME]), got a string"
    )


def test_a_comment_only_yaml_file_is_an_empty_registry(project: Path, write: Write) -> None:
    write("config/scripts.yaml", "# nothing yet\n")
    assert _scripts(project) == {}


def test_load_scripts_raises_a_config_error_for_library_callers(
    project: Path, write: Write
) -> None:
    write("config/scripts.yaml", "lint: {run: x, argv: [y]}\n")
    with pytest.raises(ConfigError) as caught:
        load_scripts(load_settings(cwd=project))
    assert caught.value.key == "lint"
    assert caught.value.exit_code == 2
