"""Each checker against its real tool: the command it builds runs, its parser reads the
machine output (never the human text); the ``checkers`` section loads or says what is wrong."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from uet.config import load_settings
from uet.errors import ConfigError
from uet.recovery.checkers import CommandChecker, Invocation, builtin_checkers, load_checkers
from uet.recovery.checkers.base import Checker, CheckerFailed, compile_glob
from uet.recovery.checkers.command import errorformat_regex, severity_word
from uet.recovery.findings import Applicability, Category, Severity


def _run(checker: Checker, root: Path, files: list[str]) -> tuple[str, int, str]:
    """The checker's command, run for real in ``root``: its stdout (or report file)."""
    inv = Invocation(root, tuple(files), root / ".cache", output=root / "report.out")
    program = checker.program()
    assert program is not None, f"{checker.tool} must be installed for the tests"
    proc = subprocess.run(checker.command(program, inv), cwd=root, capture_output=True,
                          text=True, check=False)  # fmt: skip
    output = (root / "report.out").read_text() if checker.writes_file else proc.stdout
    return output, proc.returncode, proc.stderr


def _parse(checker: Checker, root: Path, files: list[str]) -> list:  # type: ignore[type-arg]
    output, code, stderr = _run(checker, root, files)
    assert code in checker.ok_exit, stderr
    inv = Invocation(root, tuple(files), root / ".cache", exit_code=code, stderr=stderr)
    return checker.parse(output, inv)


def test_ruff_findings_keep_fix_applicability(tmp_path: Path) -> None:
    """ruff's JSON: rule, 1-based position, relative path, and safe/unsafe/none fixes."""
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["F", "E", "B"]\n')
    (tmp_path / "a.py").write_text("import os\n\n\ndef f(x=[]):\n    if x == None:\n"
                                   "        return undefined\n    return x\n")  # fmt: skip
    found = {f.rule: f for f in _parse(builtin_checkers()["ruff"], tmp_path, ["a.py"])}
    assert found["F401"].path == "a.py"
    assert (found["F401"].line, found["F401"].column) == (1, 8)
    assert found["F401"].applicability is Applicability.SAFE
    assert found["F401"].fix is not None
    assert found["F401"].fix.edits
    assert found["E711"].applicability is Applicability.UNSAFE
    assert found["B006"].applicability is Applicability.UNSAFE
    assert found["F821"].applicability is Applicability.NONE
    assert found["F821"].severity is Severity.ERROR
    assert found["F401"].category is Category.LINT
    assert found["E711"].category is Category.STYLE


def test_ruff_reports_a_syntax_error_as_a_finding(tmp_path: Path) -> None:
    """A file ruff cannot parse is a syntax finding, not a checker failure."""
    (tmp_path / "bad.py").write_text("def f(:\n")
    found = _parse(builtin_checkers()["ruff"], tmp_path, ["bad.py"])
    assert found
    assert found[0].rule == "invalid-syntax"
    assert found[0].category is Category.SYNTAX
    assert found[0].severity is Severity.ERROR


def test_mypy_json_columns_become_one_based(tmp_path: Path) -> None:
    """mypy -O json: code, line, and its 0-based column made 1-based like ruff's."""
    (tmp_path / "b.py").write_text('def g(x: int) -> str:\n    return x\n\n\ny: int = "s"\n')
    found = _parse(builtin_checkers()["mypy"], tmp_path, ["b.py"])
    by_rule = {f.rule: f for f in found}
    assert (by_rule["return-value"].line, by_rule["return-value"].column) == (2, 12)
    assert by_rule["assignment"].line == 5
    assert all(f.category is Category.TYPE and f.path == "b.py" for f in found)


def test_mypy_that_cannot_run_is_a_checker_failure(tmp_path: Path) -> None:
    """mypy exiting 2 with no JSON (a file it cannot read) cannot pass for "no findings"."""
    checker = builtin_checkers()["mypy"]
    output, code, stderr = _run(checker, tmp_path, ["gone.py"])
    assert code == 2
    with pytest.raises(CheckerFailed, match="mypy exited 2"):
        checker.parse(output, Invocation(tmp_path, ("gone.py",), tmp_path, exit_code=code,
                                         stderr=stderr))  # fmt: skip


def test_bandit_severity_and_confidence_map_to_uet_severities(tmp_path: Path) -> None:
    """B602 (HIGH, HIGH confidence) is critical; B404 (LOW) is info; [tool.bandit] applies."""
    code = "import subprocess\n\n\ndef run(c: str) -> int:\n"
    code += "    return subprocess.call(c, shell=True)\n"
    (tmp_path / "c.py").write_text(code)
    found = {f.rule: f for f in _parse(builtin_checkers()["bandit"], tmp_path, ["c.py"])}
    assert found["B602"].severity is Severity.CRITICAL
    assert found["B602"].line == 5
    assert found["B404"].severity is Severity.INFO
    assert found["B602"].extra["confidence"] == "HIGH"
    (tmp_path / "pyproject.toml").write_text('[tool.bandit]\nskips = ["B404"]\n')
    assert "B404" not in {f.rule for f in _parse(builtin_checkers()["bandit"], tmp_path, ["c.py"])}


def test_pytest_failures_errors_and_collection_errors_from_junit(tmp_path: Path) -> None:
    """JUnit XML: a failed test at its def line, a setup error, an unimportable module."""
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_a.py").write_text(
        "import pytest\n\n\ndef test_ok():\n    assert True\n\n\ndef test_bad():\n"
        "    assert 1 == 2\n\n\n@pytest.fixture\ndef db():\n    raise RuntimeError('down')\n\n\n"
        "def test_db(db):\n    pass\n"
    )
    (tests / "test_b.py").write_text("import nosuchmodule\n")
    checker = builtin_checkers()["pytest"]
    files = list(checker.targets(["tests/test_a.py", "tests/test_b.py", "src/x.py"]))
    assert files == ["tests/test_a.py", "tests/test_b.py"]
    parsed = _parse(checker, tmp_path, files)
    assert {f.extra["nodeid"] for f in parsed} == {
        "tests/test_a.py::test_bad",
        "tests/test_a.py::test_db",
        None,
    }
    found = {(f.rule, f.path, f.line) for f in parsed}
    assert found == {
        ("failed", "tests/test_a.py", 8),
        ("error", "tests/test_a.py", 17),
        ("collection-error", "tests/test_b.py", None),
    }


def test_pytest_junit_that_is_not_xml_is_a_checker_failure(tmp_path: Path) -> None:
    """A truncated report is a failure of the checker, never "no failing test"."""
    checker = builtin_checkers()["pytest"]
    with pytest.raises(CheckerFailed, match="cannot be read"):
        checker.parse("<testsuites><testsuite", Invocation(tmp_path, (), tmp_path, exit_code=1))


def test_errorformat_patterns_become_anchored_regexes() -> None:
    """%f:%l:%c: %t…: %m [%n] reads a gcc-style line; an unknown conversion is refused."""
    import re  # noqa: PLC0415

    regex = re.compile(errorformat_regex("%f:%l:%c: %t%*[^:]: %m [%n]"))
    match = regex.match("src/x.sh:3:7: warning: quote this [SC2086]")
    assert match is not None
    assert match.group("path", "line", "column", "message", "rule") == (
        "src/x.sh", "3", "7", "quote this", "SC2086"
    )  # fmt: skip
    assert severity_word(match.group("severity"), Severity.INFO) is Severity.WARNING
    with pytest.raises(ValueError, match="unknown conversion %q"):
        errorformat_regex("%q")


def test_the_command_checker_reads_lines_or_falls_back_to_the_exit_code(tmp_path: Path) -> None:
    """Lines the pattern matches are findings; with none, a non-zero exit is one finding."""
    checker = CommandChecker(name="lint-sh", tool="sh", argv=("sh",), ok_exit=frozenset({0, 1}),
                             regex=errorformat_regex("%f:%l: %m"))  # fmt: skip
    inv = Invocation(tmp_path, ("a.sh",), tmp_path, exit_code=1)
    found = checker.parse("a.sh:4: bad thing\nnoise\n", inv)
    assert [(f.path, f.line, f.message, f.rule) for f in found] == [
        ("a.sh", 4, "bad thing", "lint-sh")
    ]
    fallback = checker.parse("something broke\n", inv)
    assert [(f.rule, f.path, f.line) for f in fallback] == [("exit-status", "", None)]
    assert checker.parse("", Invocation(tmp_path, (), tmp_path, exit_code=0)) == []
    assert checker.command(["/bin/sh"], inv) == ["/bin/sh", "a.sh"]
    token = CommandChecker(name="t", tool="x", argv=("x", "{files}", "--end"))
    assert token.command(["/x"], inv) == ["/x", "a.sh", "--end"]


def test_path_globs_match_as_gitignore_does() -> None:
    """*.py at any depth; anchored with a slash; ** spans folders; .. is refused."""
    assert compile_glob("*.py")("a/b/c.py")
    assert compile_glob("src/*.py")("src/a.py")
    assert not compile_glob("src/*.py")("src/x/a.py")
    assert compile_glob("src/**/*.py")("src/x/y/a.py")
    assert compile_glob("src/**/*.py")("src/a.py")
    assert compile_glob("docs/")("docs/x/y.md")
    with pytest.raises(ValueError, match="inside the project"):
        compile_glob("../x.py")


def _project(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "uet.toml").write_text(toml)
    return tmp_path


def test_the_checkers_section_adds_disables_and_retargets(tmp_path: Path) -> None:
    """[checkers.NAME]: a command checker joins, a built-in is disabled or given files."""
    root = _project(tmp_path, (
        '[checkers.shellcheck]\nargv = ["shellcheck", "-f", "gcc"]\nfiles = ["*.sh"]\n'
        'pattern = "%f:%l:%c: %t%*[^:]: %m"\nseverity = "warning"\n\n'
        "[checkers.mypy]\nenabled = false\n\n[checkers.ruff]\nfiles = [\"src/**/*.py\"]\n"
    ))  # fmt: skip
    checkers = load_checkers(load_settings(cwd=root))
    assert sorted(checkers) == ["bandit", "pytest", "ruff", "shellcheck"]
    shellcheck = checkers["shellcheck"]
    assert isinstance(shellcheck, CommandChecker)
    assert shellcheck.applies_to("x/run.sh")
    assert not shellcheck.applies_to("x.py")
    assert checkers["ruff"].patterns == ("src/**/*.py",)


def test_config_checkers_yaml_layers_over_the_toml(tmp_path: Path) -> None:
    """config/checkers.yaml changes the toml's entry key by key."""
    root = _project(tmp_path, '[checkers.own]\nargv = ["own-lint"]\nseverity = "info"\n')
    (root / "config").mkdir()
    (root / "config" / "checkers.yaml").write_text("checkers:\n  own:\n    severity: critical\n")
    own = load_checkers(load_settings(cwd=root))["own"]
    assert isinstance(own, CommandChecker)
    assert own.severity is Severity.CRITICAL
    assert own.argv == ("own-lint",)


@pytest.mark.parametrize(
    ("toml", "key", "problem"),
    [
        ("[checkers.own]\nseverity = 'info'\n", "checkers.own.argv", "required"),
        ("[checkers.own]\nargv = ['x']\nseverity = 'huge'\n", "checkers.own.severity", ""),
        ("[checkers.own]\nargv = ['x']\npattern = '%q'\n", "checkers.own.pattern", "%q"),
        ("[checkers.ruff]\nargv = ['x']\n", "checkers.ruff.argv", "built-in"),
        ("[checkers.own]\nargv = ['x']\nfiles = ['../x']\n", "checkers.own.files", "inside"),
        ("[checkers.Bad]\nargv = ['x']\n", "checkers.Bad", "lowercase"),
    ],
)
def test_a_bad_checker_entry_names_file_key_and_problem(
    tmp_path: Path, toml: str, key: str, problem: str
) -> None:
    """Each mistake is a ConfigError (exit 2) at its key path in uet.toml."""
    root = _project(tmp_path, toml)
    with pytest.raises(ConfigError) as caught:
        load_checkers(load_settings(cwd=root))
    assert caught.value.source.endswith("uet.toml")
    assert caught.value.key == key
    assert problem in caught.value.problem
