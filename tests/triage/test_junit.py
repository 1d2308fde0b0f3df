"""Reading JUnit safely (hostile XML refused, exit 2) and writing the merged report."""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import xunit2

from uet.errors import ExitCode
from uet.triage import Attempt, Outcome, ReportError, read_report, write_merged
from uet.triage.session import verdicts_of

_BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<testsuites><testsuite name="x"><testcase classname="a" name="t">
<failure message="&lol4;"/></testcase></testsuite></testsuites>
"""

_XXE = """<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<testsuites><testsuite name="x"><testcase classname="a" name="t">
<failure message="&xxe;"/></testcase></testsuite></testsuites>
"""

_TWO = """<?xml version="1.0"?>
<testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.test_a" name="test_ok" time="0.1"/>
<testcase classname="tests.test_a.TestK" name="test_flip[1]" time="0.1">
<failure message="assert 1 == 2">E   assert 1 == 2</failure></testcase>
<testcase classname="tests.test_a" name="test_broken" time="0.1">
<failure message="assert False">E   assert False</failure></testcase>
<testcase classname="tests.test_a" name="test_skip"><skipped message="later"/></testcase>
</testsuite></testsuites>
"""


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (_BILLION_LAUGHS, "declares entities"),
        (_XXE, "declares entities"),
        ("<testsuites><testsuite>", "not well-formed"),
        ("<html><body/></html>", "not JUnit XML"),
    ],
)
def test_hostile_or_broken_xml_is_refused_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    """Entity expansion and external entities are refused before any is expanded."""
    path = tmp_path / "report.xml"
    path.write_text(text)
    with pytest.raises(ReportError) as caught:
        read_report(path, root=tmp_path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)
    assert caught.value.exit_code is ExitCode.USAGE


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such file"):
        read_report(tmp_path / "nope.xml", root=tmp_path)


def test_node_ids_use_the_modules_found_under_root(tmp_path: Path) -> None:
    """classname's dotted prefix that is a file under root is the module; the rest classes."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("")
    path = tmp_path / "report.xml"
    path.write_text(_TWO)
    results = read_report(path, root=tmp_path)
    assert [r.test_id for r in results] == [
        "tests/test_a.py::test_ok",
        "tests/test_a.py::TestK::test_flip[1]",
        "tests/test_a.py::test_broken",
        "tests/test_a.py::test_skip",
    ]
    assert [r.outcome for r in results] == [
        Outcome.PASSED,
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.SKIPPED,
    ]
    assert [r.position for r in results] == [0, 1, 2, 3]


def test_the_merged_report_carries_flaky_and_rerun_failures(tmp_path: Path) -> None:
    """A test that passed on a rerun: no failure, a <flakyFailure> per failed attempt; one
    that failed every rerun: its failure and a <rerunFailure> per rerun (Surefire's way),
    read back by junitparser.xunit2."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("")
    source = tmp_path / "report.xml"
    source.write_text(_TWO)
    verdicts = verdicts_of(read_report(source, root=tmp_path))
    flip, broken = verdicts
    flip.attempts += [
        Attempt("alone", Outcome.FAILED, "run-1", "triage/alone-0001", 1, "no"),
        Attempt("alone", Outcome.PASSED, "run-2", "triage/alone-0001"),
    ]
    broken.attempts += [
        Attempt("alone", Outcome.FAILED, "run-1", "triage/alone-0002", 1, "x"),
        Attempt("alone", Outcome.FAILED, "run-2", "triage/alone-0002", 1, "x"),
    ]
    merged = tmp_path / "merged.xml"
    write_merged([source], verdicts, merged, root=tmp_path)
    cases = {case.name: case for suite in xunit2.JUnitXml.fromfile(str(merged)) for case in suite}
    assert cases["test_flip[1]"].is_flaky
    assert cases["test_flip[1]"].result == []
    assert len(cases["test_flip[1]"].flaky_failures()) == 2  # the first run's, and a rerun's
    assert (
        "uet logs run-1 triage/alone-0001" in cases["test_flip[1]"].flaky_failures()[1].stack_trace
    )
    assert cases["test_broken"].is_rerun
    assert len(cases["test_broken"].rerun_failures()) == 2
    assert cases["test_broken"].result[0].message == "assert False"
    assert not cases["test_ok"].is_flaky
    assert not cases["test_ok"].is_rerun


@pytest.mark.parametrize(
    ("argv", "program"),
    [
        (["pytest", "-q", "tests"], ("pytest",)),
        (["python3", "-m", "pytest", "-x"], ("python3", "-m", "pytest")),
        (["uv", "run", "pytest", "-q"], ("uv", "run", "pytest")),
        (["/venv/bin/pytest"], ("/venv/bin/pytest",)),
        (["tox", "-e", "py311"], ("tox",)),
    ],
)
def test_reruns_start_pytest_the_way_the_command_did(
    argv: list[str], program: tuple[str, ...]
) -> None:
    from uet.triage.running import pytest_program  # noqa: PLC0415

    assert pytest_program(argv) == program


def test_a_file_holding_one_testsuite_is_read(tmp_path: Path) -> None:
    """Some writers put a single <testsuite> at the root."""
    path = tmp_path / "one.xml"
    path.write_text(
        '<testsuite name="x"><testcase classname="test_m" name="test_a"/>'
        '<testcase classname="test_m" name="test_b"><error message="boom"/>'
        "</testcase></testsuite>"
    )
    results = read_report(path, root=tmp_path)
    assert [(r.test_id, r.outcome) for r in results] == [
        ("test_m.py::test_a", Outcome.PASSED),
        ("test_m.py::test_b", Outcome.ERROR),
    ]
