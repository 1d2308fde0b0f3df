"""The static rules, on the kept corpus fixture (a real pytest run's JUnit) and on a real
pytest run made here with the signals of every class."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from uet.triage import (
    ACTIONS,
    Action,
    FailureClass,
    Outcome,
    Phase,
    TestResult,
    classify,
    last_exception,
    read_report,
)
from uet.triage.session import verdicts_of

FIXTURES = Path(__file__).parent / "fixtures"


def test_the_kept_corpus_report_is_classified_as_labelled() -> None:
    """Every deterministic failure of the kept report gets its label from the static rules;
    flaky and order-dependent ones get the class of how they failed (reruns tell the rest)."""
    data = json.loads((FIXTURES / "corpus-labels.json").read_text())
    labels: dict[str, str] = data["labels"]
    results = read_report(FIXTURES / "corpus-report.xml", root=FIXTURES)
    assert len({r.test_id for r in results}) == len(labels) + data["passing"]
    verdicts = {v.test_id: v for v in verdicts_of(results)}
    assert set(verdicts) == set(labels)
    for test_id, label in labels.items():
        got = verdicts[test_id].static_class
        if label in ("flaky", "order_dependent"):
            assert got in (FailureClass.ASSERTION, FailureClass.INFRA), test_id
        else:
            assert got.value == label, test_id


_PROBE = """
import socket, subprocess, time
import pytest

@pytest.fixture
def db():
    raise RuntimeError("db down")

def test_setup(db):
    pass

def test_assert():
    assert 1 + 1 == 3

@pytest.mark.timeout(0.3)
def test_timeout():
    time.sleep(5)

def test_refused():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    socket.create_connection(("127.0.0.1", port), timeout=2)

def test_disk_full():
    with open("/dev/full", "w") as f:
        f.write("x"); f.flush()

def test_oom():
    bytearray(1 << 60)

def test_type():
    None + 1

def test_chained():
    try:
        {}["k"]
    except KeyError:
        raise ConnectionResetError(104, "Connection reset by peer")

class TestGroup:
    @pytest.mark.parametrize("x", [1, 2])
    def test_param(self, x):
        assert x == 1
"""

_EXPECTED = {
    "test_imp.py": FailureClass.IMPORT,
    "test_syn.py": FailureClass.SYNTAX,
    "test_col.py": FailureClass.COLLECTION,
    "tests/test_probe.py::test_setup": FailureClass.SETUP,
    "tests/test_probe.py::test_assert": FailureClass.ASSERTION,
    "tests/test_probe.py::test_timeout": FailureClass.TIMEOUT,
    "tests/test_probe.py::test_refused": FailureClass.INFRA,
    "tests/test_probe.py::test_disk_full": FailureClass.INFRA,
    "tests/test_probe.py::test_oom": FailureClass.INFRA,
    "tests/test_probe.py::test_type": FailureClass.UNKNOWN,
    "tests/test_probe.py::test_chained": FailureClass.INFRA,
    "tests/test_probe.py::TestGroup::test_param[2]": FailureClass.ASSERTION,
}


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real pytest run (xunit2, the default: no file names in the report)."""
    root = tmp_path_factory.mktemp("probe")
    (root / "tests").mkdir()
    (root / "tests" / "test_probe.py").write_text(_PROBE)
    (root / "test_imp.py").write_text("import no_such_module_here\n")
    (root / "test_syn.py").write_text("def f(:\n")
    (root / "test_col.py").write_text("raise ValueError('at import')\n")
    (root / "pytest.ini").write_text("[pytest]\n")
    report = root / "report.xml"
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "pytest_timeout",
        "-p",
        "no:cacheprovider",
        "--continue-on-collection-errors",
        f"--junitxml={report}",
        "-q",
    ]
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(argv, cwd=root, env=env, capture_output=True, check=False, timeout=120)
    return root, report


def test_a_real_run_with_every_static_signal_is_classified(probe: tuple[Path, Path]) -> None:
    """Node ids are rebuilt from classname (modules found on disk, classes kept), and each
    failure gets the class of its signal: phase, message, last exception."""
    root, report = probe
    results = read_report(report, root=root)
    got = {v.test_id: v.static_class for v in verdicts_of(results)}
    assert got == _EXPECTED
    passed = {r.test_id for r in results if r.outcome is Outcome.PASSED}
    assert passed == {"tests/test_probe.py::TestGroup::test_param[1]"}


def test_phases_and_last_exceptions_come_from_the_report(probe: tuple[Path, Path]) -> None:
    root, report = probe
    by_id = {r.test_id: r for r in read_report(report, root=root)}
    assert by_id["test_imp.py"].phase is Phase.COLLECTION
    assert by_id["tests/test_probe.py::test_setup"].phase is Phase.SETUP
    assert by_id["tests/test_probe.py::test_assert"].phase is Phase.CALL
    assert last_exception(by_id["test_imp.py"]) == "ModuleNotFoundError"
    assert last_exception(by_id["tests/test_probe.py::test_chained"]) == "ConnectionResetError"
    assert last_exception(by_id["tests/test_probe.py::test_type"]) == "TypeError"


@pytest.mark.parametrize(
    ("message", "text", "phase", "expected"),
    [
        ("assert 1 == 2", "", Phase.CALL, FailureClass.ASSERTION),
        ("Failed: Timeout (>1.0s) from pytest-timeout.", "", Phase.CALL, FailureClass.TIMEOUT),
        (
            'failed on setup with "ConnectionRefusedError: [Errno 111] Connection refused"',
            "",
            Phase.SETUP,
            FailureClass.INFRA,
        ),
        ('failed on setup with "KeyError: x"', "", Phase.SETUP, FailureClass.SETUP),
        (
            "socket.gaierror: [Errno -2] Name or service not known",
            "",
            Phase.CALL,
            FailureClass.INFRA,
        ),
        (
            "subprocess.TimeoutExpired: Command '['sleep']' timed out after 1 seconds",
            "",
            Phase.CALL,
            FailureClass.TIMEOUT,
        ),
        ("RuntimeError: boom", "", Phase.CALL, FailureClass.UNKNOWN),
        (
            "collection failure",
            "E   IndentationError: unexpected indent",
            Phase.COLLECTION,
            FailureClass.SYNTAX,
        ),
        (
            "collection failure",
            "E   ImportError: cannot import name 'x' from 'y'",
            Phase.COLLECTION,
            FailureClass.IMPORT,
        ),
    ],
)
def test_messages_alone_are_enough(
    message: str, text: str, phase: Phase, expected: FailureClass
) -> None:
    """Reports from other writers carry only a message: the rules still apply."""
    result = TestResult("t.py::t", Outcome.FAILED, phase, message, text)
    assert classify(result) is expected


def test_every_class_has_an_action() -> None:
    assert set(ACTIONS) == set(FailureClass)
    assert ACTIONS[FailureClass.FLAKY] is Action.QUARANTINE
    assert ACTIONS[FailureClass.INFRA] is Action.ALERT
    assert ACTIONS[FailureClass.IMPORT] is Action.DEPENDENCY_FIX
    assert ACTIONS[FailureClass.SYNTAX] is Action.UET_FIX
    assert ACTIONS[FailureClass.ASSERTION] is Action.RECOVERY_TASK
    assert ACTIONS[FailureClass.TIMEOUT] is Action.RAISE_TIMEOUT
