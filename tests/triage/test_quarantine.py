"""History and quarantine in a real store: two outcomes on one commit quarantine a test,
broken tests never are, clean runs release, infra storms label nothing; events and
decisions are written with the rows."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from uet.events.catalog import problems
from uet.state.store import Store
from uet.state.triage import QuarantineStatus, history, quarantine
from uet.triage import FailureClass, TriagePolicy, TriageReport, current_commit, read_report, triage

_CASE_OK = '<testcase classname="test_m" name="{name}" time="0.01"/>'
_CASE_FAIL = (
    '<testcase classname="test_m" name="{name}" time="0.01">'
    '<failure message="assert 1 == 2">E   assert 1 == 2\n\ntest_m.py:3: AssertionError'
    "</failure></testcase>"
)
_CASE_REFUSED = (
    '<testcase classname="test_m" name="{name}" time="0.01">'
    '<failure message="ConnectionRefusedError: [Errno 111] Connection refused">'
    "E   ConnectionRefusedError: [Errno 111] Connection refused</failure></testcase>"
)


def _report(folder: Path, cases: dict[str, str]) -> Path:
    """A JUnit file as pytest writes it: ``cases`` maps a test name to ok | fail | refused."""
    kinds = {"ok": _CASE_OK, "fail": _CASE_FAIL, "refused": _CASE_REFUSED}
    body = "".join(kinds[kind].format(name=name) for name, kind in cases.items())
    path = folder / f"report-{len(list(folder.glob('report-*.xml')))}.xml"
    path.write_text(f'<testsuites><testsuite name="pytest">{body}</testsuite></testsuites>')
    return path


@pytest.fixture
def store(db_url: str) -> Store:
    """A real store on SQLite and on PostgreSQL."""
    return Store.open(db_url)


def _triage(
    store: Store, tmp_path: Path, cases: dict[str, str], commit: str = "aaa", **policy: int
) -> TriageReport:
    results = read_report(_report(tmp_path, cases), root=tmp_path)
    return triage(results, store=store, commit=commit, policy=TriagePolicy(reruns=0, **policy))


def _others(count: int) -> dict[str, str]:
    return {f"test_other_{i}": "ok" for i in range(count)}


def test_two_outcomes_on_one_commit_quarantine_and_its_failures_stop_counting(
    store: Store, tmp_path: Path
) -> None:
    first = _triage(store, tmp_path, {"test_flip": "fail", **_others(5)})
    assert first.exit_code == 1  # one outcome so far: it counts
    assert first.quarantined == []
    second = _triage(store, tmp_path, {"test_flip": "ok", **_others(5)})
    assert second.quarantined == ["test_m.py::test_flip"]  # passed after failing on aaa
    third = _triage(store, tmp_path, {"test_flip": "fail", **_others(5)})
    (verdict,) = third.verdicts
    assert verdict.quarantined
    assert third.exit_code == 0  # it still ran; its failure no longer fails the build
    with store.reader() as tx:
        record = quarantine(tx)["test_m.py::test_flip"]
        rows = history(tx, "test_m.py::test_flip")
    assert record.status is QuarantineStatus.QUARANTINED
    assert [row.outcome for row in rows] == ["failed", "passed", "failed"]


def test_a_broken_test_is_never_quarantined(store: Store, tmp_path: Path) -> None:
    """Failing on every run of a commit, then passing on the next commit: never quarantined."""
    for _ in range(4):
        report = _triage(store, tmp_path, {"test_broken": "fail", **_others(5)})
        assert report.exit_code == 1
        assert report.verdicts[0].failure_class is FailureClass.ASSERTION
    fixed = _triage(store, tmp_path, {"test_broken": "ok", **_others(5)}, commit="bbb")
    assert fixed.quarantined == []
    with store.reader() as tx:
        assert quarantine(tx) == {}


def test_clean_runs_release_a_quarantined_test(store: Store, tmp_path: Path) -> None:
    _triage(store, tmp_path, {"test_flip": "fail", **_others(5)})
    _triage(store, tmp_path, {"test_flip": "ok", **_others(5)})  # quarantined
    released = []
    for _ in range(3):
        released.append(
            _triage(store, tmp_path, {"test_flip": "ok", **_others(5)}, release_after=3).released
        )
    assert released == [[], [], ["test_m.py::test_flip"]]
    with store.reader() as tx:
        record = quarantine(tx)["test_m.py::test_flip"]
        released_events = tx.get_events(None, types="test.released")
    assert record.status is QuarantineStatus.RELEASED
    assert record.clean_runs == 3
    assert [e.payload for e in released_events] == [{"test": "test_m.py::test_flip"}]


def test_an_infra_storm_files_one_item_and_labels_no_test_flaky(
    store: Store, tmp_path: Path
) -> None:
    """More than 80 % failing: one infra item; the storm's rows never count as evidence."""
    cases = {f"test_net_{i}": "refused" for i in range(9)} | {"test_local": "ok"}
    storm = _triage(store, tmp_path, cases)
    assert storm.storm is not None
    assert (storm.storm.failing, storm.storm.ran) == (9, 10)
    assert storm.exit_code == 1
    assert all(v.failure_class is FailureClass.INFRA for v in storm.verdicts)
    after = _triage(
        store, tmp_path, {f"test_net_{i}": "ok" for i in range(9)} | {"test_local": "ok"}
    )
    assert after.quarantined == []  # passing after a storm on the same commit: not flaky
    below = _triage(store, tmp_path, {"test_net_0": "refused", **_others(5)})
    assert below.storm is None


def test_events_and_decisions_are_written_with_the_rows(store: Store, tmp_path: Path) -> None:
    _triage(store, tmp_path, {"test_flip": "fail", **_others(5)})
    _triage(store, tmp_path, {"test_flip": "ok", **_others(5)})
    with store.reader() as tx:
        events = [e for e in tx.get_events(None) if e.type.startswith(("triage.", "test."))]
        decisions = tx.get_decisions(category="triage")
    assert [e.type for e in events] == ["triage.completed", "triage.completed", "test.quarantined"]
    for event in events:
        assert problems(event.type, event.payload, run_id=None, task_id=None) == []
    assert [(d.category, d.chosen) for d in decisions] == [("triage", "quarantine")]


def test_the_commit_names_a_dirty_tree_apart(tmp_path: Path) -> None:
    """Quarantine compares outcomes on the same commit: an uncommitted fix is not it."""
    assert current_commit(tmp_path) is None
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "test_a.py").write_text("def test_a(): pass\n")
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    subprocess.run(["git", "commit", "-qm", "one"], cwd=tmp_path, check=True)
    clean = current_commit(tmp_path)
    assert clean is not None
    assert len(clean) == 40
    (tmp_path / "test_a.py").write_text("def test_a(): assert 0\n")
    dirty = current_commit(tmp_path)
    assert dirty is not None
    assert dirty.startswith(f"{clean}-dirty-")


def test_a_week_without_a_failure_releases_and_old_history_is_not_evidence_again(
    store: Store, tmp_path: Path
) -> None:
    """Released after --release-days with a clean run (a fake clock: ``now``); its failure
    before the release does not quarantine it again when it passes on the same commit."""
    day = 86400.0
    start = 1_000_000.0
    cases = {"test_flip": "fail", **_others(5)}
    results = read_report(_report(tmp_path, cases), root=tmp_path)
    triage(results, store=store, commit="aaa", policy=TriagePolicy(reruns=0), now=start)
    passing = read_report(_report(tmp_path, {"test_flip": "ok", **_others(5)}), root=tmp_path)
    quarantined = triage(
        passing, store=store, commit="aaa", policy=TriagePolicy(reruns=0), now=start + day
    )
    assert quarantined.quarantined == ["test_m.py::test_flip"]
    early = triage(
        passing, store=store, commit="aaa", policy=TriagePolicy(reruns=0), now=start + 3 * day
    )
    assert early.released == []
    late = triage(
        passing, store=store, commit="aaa", policy=TriagePolicy(reruns=0), now=start + 9 * day
    )
    assert late.released == ["test_m.py::test_flip"]
    again = triage(
        passing, store=store, commit="aaa", policy=TriagePolicy(reruns=0), now=start + 10 * day
    )
    assert again.quarantined == []
    with store.reader() as tx:
        record = quarantine(tx)["test_m.py::test_flip"]
    assert record.status is QuarantineStatus.RELEASED
    assert record.reason == "no failure in 8.0 days"
