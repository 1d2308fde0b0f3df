"""The store's side of a triage: history rows, the quarantine's rules, events, decisions.

One transaction per triage writes every row (the report's results, one per test id, and each
rerun's), moves the quarantine, and writes ``triage.completed`` / ``test.quarantined`` /
``test.released`` and the ``triage`` decisions, so the rows and what describes them cannot
part. The rules are those of :mod:`uet.triage.session`'s step 6.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from uet.state.records import DecisionRecord
from uet.state.store import Store, Transaction
from uet.state.triage import (
    QuarantineRecord,
    QuarantineStatus,
    ResultRow,
    add_results,
    outcomes_on_commit,
    put_quarantine,
    quarantine,
)
from uet.triage.model import NON_DETERMINISTIC, FailureClass, Outcome, TestResult, Verdict
from uet.triage.report import InfraItem, TriagePolicy, TriageReport


def record(
    store: Store,
    report: TriageReport,
    results: Sequence[TestResult],
    policy: TriagePolicy,
    now: float,
) -> None:
    """Write one triage in one transaction: its rows, the quarantine's moves (none in a
    storm: the storm's decision instead), its events. Updates ``report`` (quarantined,
    released) and its verdicts (``quarantined``; flaky when history shows a flip)."""
    storm = report.storm is not None
    with store.transaction() as tx:
        add_results(tx, _rows(report, results, now, storm=storm))
        if report.storm is None:
            _quarantine(tx, report, results, policy, now)
        else:
            tx.record_decisions([_storm_decision(report.storm, policy, now)])
        events: list[tuple[str, float, str | None, str | None, int | None, dict[str, Any]]] = [
            ("triage.completed", now, None, None, None, _summary(report)),
        ]
        events += [
            ("test.quarantined", now, None, None, None, {"test": test, "commit": report.commit})
            for test in report.quarantined
        ]
        events += [
            ("test.released", now, None, None, None, {"test": test}) for test in report.released
        ]
        tx.insert_events(events)


def _summary(report: TriageReport) -> dict[str, Any]:
    return {
        "triage_id": report.triage_id,
        "commit": report.commit,
        "tests": report.tests,
        "failures": len(report.verdicts),
        "classes": report.counts_by_class(),
        "storm": report.storm is not None,
    }


def _by_test(results: Sequence[TestResult]) -> dict[str, TestResult]:
    """One result per test id: its first failing one, else its first (a test that passed its
    call and failed its teardown failed)."""
    found: dict[str, TestResult] = {}
    for result in results:
        held = found.get(result.test_id)
        if held is None or (result.outcome.failing and not held.outcome.failing):
            found[result.test_id] = result
    return found


def _rows(
    report: TriageReport, results: Sequence[TestResult], now: float, *, storm: bool
) -> list[ResultRow]:
    by_id = {v.test_id: v for v in report.verdicts}
    rows: list[ResultRow] = []
    for test_id, result in _by_test(results).items():
        verdict = by_id.get(test_id)
        detail: dict[str, Any] | None = None
        if verdict is not None:
            detail = {"message": result.message[:2000], "exception": verdict.exception}
        klass = None if verdict is None else verdict.failure_class.value
        rows.append(
            ResultRow(
                report.triage_id,
                test_id,
                "report",
                result.outcome.value,
                now,
                report.commit,
                klass,
                storm,
                detail=detail,
            )
        )
    for verdict in report.verdicts:
        for attempt in verdict.attempts:
            evidence = {"message": attempt.message[:2000], "tests": attempt.tests}
            rows.append(
                ResultRow(
                    report.triage_id,
                    verdict.test_id,
                    attempt.kind,
                    attempt.outcome.value,
                    now,
                    report.commit,
                    None,
                    storm,
                    attempt.run_id,
                    attempt.task_id,
                    evidence,
                )
            )
    return rows


def _flipped(verdict: Verdict, on_commit: dict[str, set[str]]) -> bool:
    """Two outcomes on the same commit: a pass and a failure (reruns or history)."""
    seen = set(on_commit.get(verdict.test_id, set()))
    seen |= {verdict.result.outcome.value} | {a.outcome.value for a in verdict.attempts}
    return "passed" in seen and bool(seen & {"failed", "error"})


def _quarantine(
    tx: Transaction,
    report: TriageReport,
    results: Sequence[TestResult],
    policy: TriagePolicy,
    now: float,
) -> None:
    ids = {r.test_id for r in results}
    current = quarantine(tx, ids)
    on_commit = {} if report.commit is None else outcomes_on_commit(tx, ids, report.commit)
    decisions: list[DecisionRecord] = []
    failing = {v.test_id: v for v in report.verdicts}
    for verdict in report.verdicts:
        record = current.get(verdict.test_id)
        active = record is not None and record.status is QuarantineStatus.QUARANTINED
        broken = bool(verdict.attempts) and all(
            a.outcome.failing for a in verdict.attempts if a.kind == "alone"
        )
        if active and broken:
            assert record is not None  # noqa: S101 - active implies a record
            put_quarantine(tx, _released(record, now, "fails every rerun alone: broken"))
            report.released.append(verdict.test_id)
            decisions.append(
                _decision(
                    verdict.test_id, "release", "fails every rerun alone: broken, not flaky", now
                )
            )
            continue
        if active:
            assert record is not None  # noqa: S101
            verdict.quarantined = True
            put_quarantine(tx, _with(record, clean_runs=0, updated_at=now, failed_at=now))
            continue
        # A released test's history before its release is not evidence again: only this run.
        if not _flipped(verdict, on_commit if record is None else {}):
            continue
        if verdict.failure_class not in NON_DETERMINISTIC:
            verdict.failure_class = FailureClass.FLAKY
            verdict.reason = f"passed and failed on commit {report.commit}"
        reason = verdict.reason or "passed and failed on the same commit"
        put_quarantine(
            tx,
            QuarantineRecord(
                verdict.test_id,
                QuarantineStatus.QUARANTINED,
                reason,
                now,
                0,
                now,
                report.commit,
                failed_at=now,
            ),
        )
        verdict.quarantined = True
        report.quarantined.append(verdict.test_id)
        decisions.append(_decision(verdict.test_id, "quarantine", reason, now))
    passed = {t for t, r in _by_test(results).items() if r.outcome is Outcome.PASSED}
    for test_id in sorted(passed - set(current)):  # never quarantined (nor released) before
        if {"failed", "error"} & on_commit.get(test_id, set()):
            reason = f"passed and failed on commit {report.commit}"
            put_quarantine(
                tx,
                QuarantineRecord(
                    test_id,
                    QuarantineStatus.QUARANTINED,
                    reason,
                    now,
                    0,
                    now,
                    report.commit,
                    failed_at=now,
                ),
            )
            report.quarantined.append(test_id)
            decisions.append(_decision(test_id, "quarantine", reason, now))
    for test_id, record in current.items():
        if test_id in failing or test_id not in passed:
            continue
        if record.status is not QuarantineStatus.QUARANTINED:
            continue
        clean = record.clean_runs + 1
        why = _release_reason(record, clean, policy, now)
        if why is not None:
            put_quarantine(tx, _released(_with(record, clean_runs=clean), now, why))
            report.released.append(test_id)
            decisions.append(_decision(test_id, "release", why, now))
        else:
            put_quarantine(tx, _with(record, clean_runs=clean, updated_at=now))
    tx.record_decisions(decisions)


def _release_reason(
    record: QuarantineRecord, clean: int, policy: TriagePolicy, now: float
) -> str | None:
    """Why a quarantined test that passed now is released (None: it is not, yet)."""
    if clean >= policy.release_after:
        return f"{clean} clean runs in a row"
    last = record.failed_at if record.failed_at is not None else record.since
    days = (now - last) / 86400
    if days >= policy.release_days:
        return f"no failure in {days:.1f} days"
    return None


def _with(record: QuarantineRecord, **changes: Any) -> QuarantineRecord:
    values = record.to_dict()
    values["status"] = record.status
    values.update(changes)
    return QuarantineRecord(**values)


def _released(record: QuarantineRecord, now: float, reason: str) -> QuarantineRecord:
    return _with(
        record, status=QuarantineStatus.RELEASED, reason=reason, updated_at=now, released_at=now
    )


def _storm_decision(storm: InfraItem, policy: TriagePolicy, now: float) -> DecisionRecord:
    reason = (
        f"{storm.failing} of {storm.ran} tests failed ({storm.ratio:.0%} > "
        f"{policy.storm_ratio:.0%}): one infra item, no test labelled flaky"
    )
    return DecisionRecord(
        category="triage",
        chosen="infra",
        reason=reason,
        ts=now,
        alternatives=["rerun and label each failure"],
        data={"tests": list(storm.tests[:100]), "failing": storm.failing, "ran": storm.ran},
    )


def _decision(test_id: str, chosen: str, reason: str, now: float) -> DecisionRecord:
    other = "release" if chosen == "quarantine" else "keep quarantined"
    return DecisionRecord(
        category="triage",
        chosen=chosen,
        reason=reason,
        ts=now,
        alternatives=[other],
        data={"test": test_id},
    )
