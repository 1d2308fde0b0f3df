"""``uet triage`` through the real entry point: reports, `-- pytest ARGS`, exit codes, --json."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from junitparser import xunit2

from tests.triage.conftest import Result, Uet

_FLAKY_PROJECT = """
import pathlib

def _runs():
    state = pathlib.Path(__file__).with_suffix(".count")
    count = int(state.read_text()) if state.exists() else 0
    state.write_text(str(count + 1))
    return count

def test_ok():
    assert True

def test_flaky():
    assert _runs() > 0, "fails on its first run only"

def test_broken():
    assert 1 + 1 == 3
"""

_REPORT = """<testsuites><testsuite name="pytest">
<testcase classname="test_m" name="test_ok"/>
<testcase classname="" name="test_gone"><error message="collection failure">
E   ModuleNotFoundError: No module named 'gone'</error></testcase>
</testsuite></testsuites>"""


@pytest.fixture
def uet_triage(uet: Uet, project: Path) -> Uet:
    """`uet` with a SQLite database in the project (made by the first command)."""
    (project / "pytest.ini").write_text("[pytest]\n")

    def run(*args: str) -> Result:
        return uet("--db", f"sqlite:///{project / 'state.db'}", *args)

    return run


def test_a_report_is_classified_with_json_and_exit_1(uet_triage: Uet, project: Path) -> None:
    (project / "report.xml").write_text(_REPORT)
    result = uet_triage("triage", "--rerun", "0", "--json", "report.xml")
    assert result.code == 1, result.err
    data = json.loads(result.out)
    assert data["classes"] == {"import": 1}
    (verdict,) = data["verdicts"]
    assert (verdict["test_id"], verdict["action"]) == ("test_gone.py", "dependency_fix")
    text = uet_triage("triage", "--rerun", "0", "report.xml")
    assert "import           test_gone.py" in text.out
    assert "action: dependency_fix" in text.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.xml"], "missing.xml: no such file"),
        ([], "give JUnit files, or a pytest command"),
        (["report.xml", "--", "pytest"], "not both"),
    ],
)
def test_bad_input_is_exit_2_naming_the_problem(
    uet_triage: Uet, project: Path, args: list[str], message: str
) -> None:
    (project / "report.xml").write_text(_REPORT)
    result = uet_triage("triage", *args)
    assert result.code == 2
    assert message in result.err


def test_a_hostile_report_is_exit_2(uet_triage: Uet, project: Path) -> None:
    (project / "evil.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><testsuites>&a;</testsuites>'
    )
    result = uet_triage("triage", "evil.xml")
    assert result.code == 2
    assert "evil.xml: refused: the XML declares entities" in result.err


@pytest.mark.slow
def test_running_pytest_then_triaging_tells_flaky_from_broken(
    uet_triage: Uet, project: Path
) -> None:
    """`uet triage -- python -m pytest`: the run and each rerun are recorded runs; the
    flaky test is quarantined (its failure stops counting), the broken one counts."""
    (project / "test_m.py").write_text(_FLAKY_PROJECT)
    result = uet_triage(
        "triage",
        "--rerun",
        "2",
        "--json",
        "--merged",
        "merged.xml",
        "--",
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
    )
    assert result.code == 1, result.err
    data = json.loads(result.out)
    classes = {v["test_id"]: v["class"] for v in data["verdicts"]}
    assert classes == {"test_m.py::test_flaky": "flaky", "test_m.py::test_broken": "assertion"}
    assert data["quarantined"] == ["test_m.py::test_flaky"]
    broken = next(v for v in data["verdicts"] if v["class"] == "assertion")
    assert [a["outcome"] for a in broken["attempts"]] == ["failed", "failed"]
    cases = {c.name: c for s in xunit2.JUnitXml.fromfile(str(project / "merged.xml")) for c in s}
    assert cases["test_flaky"].is_flaky
    assert cases["test_broken"].is_rerun
    listed = json.loads(uet_triage("triage", "--quarantined", "--json").out)
    assert [(q["test_id"], q["status"]) for q in listed] == [
        ("test_m.py::test_flaky", "quarantined")
    ]
    runs = json.loads(uet_triage("runs", "--json").out)
    assert {r["name"] for r in runs} >= {"pytest", "triage alone"}


_SLOW_RERUN = """
import pathlib, time

def test_slow_on_rerun():
    state = pathlib.Path(__file__).with_suffix(".count")
    count = int(state.read_text()) if state.exists() else 0
    state.write_text(str(count + 1))
    if count:
        time.sleep(60)
    assert False
"""


@pytest.mark.slow
def test_ctrl_c_during_the_reruns_is_exit_130_and_records_no_triage(project: Path) -> None:
    """SIGINT while a rerun runs: exit 130 within seconds, the rerun run left interrupted
    (resumable), no history row written."""
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_s.py").write_text(_SLOW_RERUN)
    env = {
        **os.environ,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "UET_DB": f"sqlite:///{project / 'state.db'}",
    }
    argv = [sys.executable, "-m", "uet", "triage", "--", sys.executable, "-m", "pytest", "-q"]
    proc = subprocess.Popen(
        argv, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((project / ".uet" / "triage").glob("*"))) < 2:
        time.sleep(0.2)
    time.sleep(1.5)  # the rerun's pytest is asleep
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted during the reruns" in err
    with sqlite3.connect(project / "state.db") as db:
        assert db.execute("select count(*) from triage_results").fetchone() == (0,)
        statuses = [row[0] for row in db.execute("select status from runs order by created_at")]
    assert statuses == ["failed", "interrupted"]
