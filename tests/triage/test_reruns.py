"""Reruns through the engine on small real pytest projects: an infra storm reruns nothing,
a quarantined test that now fails every rerun is released (broken, it counts), an
order-dependent failure's polluter is named within log2(N) + 1 bisection reruns."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from uet.config import load_settings
from uet.state.store import Store
from uet.state.triage import QuarantineRecord, QuarantineStatus, put_quarantine, quarantine
from uet.triage import FailureClass, Rerunner, TriagePolicy, read_report, triage
from uet.triage.running import run_pytest

PYTEST = (sys.executable, "-m", "pytest")
ENV = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def _project(folder: Path, files: dict[str, str]) -> tuple[Store, Rerunner, Path]:
    folder.mkdir()
    (folder / "pytest.ini").write_text("[pytest]\n")
    for name, text in files.items():
        (folder / name).write_text(text)
    settings = load_settings({"db": f"sqlite:///{folder / 'state.db'}"}, cwd=folder)
    store = Store.open(settings)
    ran = run_pytest([*PYTEST, "-q"], settings=settings, store=store, root=folder, env=ENV)
    rerunner = Rerunner(settings=settings, store=store, root=folder, program=PYTEST, env=ENV)
    return store, rerunner, ran.report


_REFUSED = (
    """
import socket

def _closed():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    return port

"""
    + "".join(
        f"def test_service_{i}():\n    socket.create_connection(('127.0.0.1', _closed()))\n\n"
        for i in range(6)
    )
    + "def test_local():\n    assert True\n"
)


def test_an_infra_storm_reruns_nothing_and_labels_nothing_flaky(tmp_path: Path) -> None:
    """Six of seven tests hit a closed loopback port: one infra item, no rerun."""
    store, rerunner, report_file = _project(tmp_path / "p", {"test_net.py": _REFUSED})
    results = read_report(report_file, root=rerunner.root)
    report = triage(
        results, rerunner=rerunner, store=store, commit="c1", policy=TriagePolicy(reruns=3)
    )
    assert report.storm is not None
    assert (report.storm.failing, report.storm.ran) == (6, 7)
    assert report.runs == []
    assert all(not v.attempts for v in report.verdicts)
    assert {v.failure_class for v in report.verdicts} == {FailureClass.INFRA}
    with store.reader() as tx:
        assert quarantine(tx) == {}
        (decision,) = tx.get_decisions(category="triage")
    assert decision.chosen == "infra"


def test_a_quarantined_test_that_now_fails_every_rerun_is_released(tmp_path: Path) -> None:
    files = {
        "test_m.py": "def test_now_broken():\n    assert 1 == 2\n\n"
        + "".join(f"def test_ok_{i}():\n    pass\n\n" for i in range(5))
    }
    store, rerunner, report_file = _project(tmp_path / "p", files)
    with store.transaction() as tx:
        put_quarantine(
            tx,
            QuarantineRecord(
                "test_m.py::test_now_broken", QuarantineStatus.QUARANTINED, "flipped", 1.0, 4, 1.0
            ),
        )
    results = read_report(report_file, root=rerunner.root)
    report = triage(
        results, rerunner=rerunner, store=store, commit="c2", policy=TriagePolicy(reruns=2)
    )
    (verdict,) = report.verdicts
    assert verdict.failure_class is FailureClass.ASSERTION
    assert not verdict.quarantined
    assert report.released == ["test_m.py::test_now_broken"]
    assert report.exit_code == 1


@pytest.mark.slow
def test_the_polluter_is_named_within_log2_n_plus_one_bisection_reruns(tmp_path: Path) -> None:
    before = "".join(f"def test_a{i:02d}():\n    pass\n\n" for i in range(20))
    files = {
        "state.py": "FLAGS = {}\n",
        "test_a.py": "import state\n\n"
        + before
        + "def test_a13_polluter():\n    state.FLAGS['debug'] = True\n\n"
        + before.replace("test_a", "test_b"),
        "test_z.py": "import state\n\ndef test_victim():\n    assert not state.FLAGS\n",
    }
    store, rerunner, report_file = _project(tmp_path / "p", files)
    results = read_report(report_file, root=rerunner.root)
    report = triage(
        results, rerunner=rerunner, store=store, commit="c3", policy=TriagePolicy(reruns=1)
    )
    (verdict,) = report.verdicts
    assert verdict.failure_class is FailureClass.ORDER_DEPENDENT
    assert verdict.polluter == "test_a.py::test_a13_polluter"
    preceding = 41
    bisect = [a for a in verdict.attempts if a.kind in ("bisect", "confirm")]
    assert len(bisect) <= math.ceil(math.log2(preceding)) + 1
    assert verdict.quarantined  # it passes alone: two outcomes on c3


def test_only_the_first_failures_up_to_the_limit_are_rerun(tmp_path: Path) -> None:
    files = {
        "test_m.py": "".join(f"def test_bad_{i}():\n    assert {i} < 0\n\n" for i in range(3))
        + "".join(f"def test_ok_{i}():\n    pass\n\n" for i in range(5))
    }
    store, rerunner, report_file = _project(tmp_path / "p", files)
    results = read_report(report_file, root=rerunner.root)
    report = triage(
        results,
        rerunner=rerunner,
        store=store,
        commit="c4",
        policy=TriagePolicy(reruns=1, rerun_limit=1),
    )
    assert [len(v.attempts) for v in report.verdicts] == [1, 0, 0]
    assert "not rerun: more than 1 failures" in report.verdicts[2].reason
    assert len(report.runs) == 1
