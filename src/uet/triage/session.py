"""One triage: classify each failure, rerun to separate flaky from broken, find polluters,
guard against infra storms, and keep the history and the quarantine in the store.

::

    report = triage(results, rerunner=Rerunner(...), store=store, commit="3f2a…")
    report.exit_code   # 1 while a failure that counts is left, else 0

The steps, for the failures of one report (``TestResult`` list in run order):

1. **Static class** of each failure (:mod:`uet.triage.classify`).
2. **Infra storm**: when more than ``storm_ratio`` (80 %) of the tests that ran failed, and
   at least ``storm_min_tests`` ran, one ``infra`` item is filed for the cluster; nothing is
   rerun, no test is labelled flaky, the quarantine is not touched.
3. **Alone reruns** (``reruns`` rounds, collection errors excepted, the first
   ``rerun_limit`` failures only): a test that fails every
   rerun is broken and keeps its static class; one that passes some and fails some is
   ``flaky``; one that passes every time is flaky or order-dependent:
4. **Ordered reruns**: the tests that ran before it, then it, ``ordered_checks`` times. It
   fails every time: ``order_dependent``; otherwise ``flaky``.
5. **Bisection** of those preceding tests (one rerun per halving, then one to confirm) names
   the polluter: ≤ log2(N) + 1 reruns.
6. **History and quarantine**: every outcome (the report's and each rerun's) is a row of
   ``triage_results``. A test is quarantined only with two different outcomes on the same
   commit (a broken test never has them); quarantined tests keep running, their failures do
   not count, and ``release_after`` clean runs in a row release them. A quarantined test that
   now fails every rerun is broken: released, and its failure counts.

An interrupted triage (``RerunsInterrupted``, exit 130) records nothing but its rerun runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from uet.ids import RandomIds
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
from uet.triage.classify import classify, last_exception
from uet.triage.model import (
    NON_DETERMINISTIC,
    Attempt,
    FailureClass,
    Outcome,
    Phase,
    TestResult,
    Verdict,
)
from uet.triage.rerun import Rerunner


@dataclass(frozen=True, slots=True)
class TriagePolicy:
    """The knobs of one triage (defaults: ``uet triage --help``)."""

    reruns: int = 3  # alone reruns of each failure (0: classify only)
    ordered_checks: int = 2  # reruns after the preceding tests, all must fail for OD
    storm_ratio: float = 0.8  # more than this share of the tests that ran failed: a storm
    storm_min_tests: int = 5  # ...among at least this many tests
    release_after: int = 50  # clean runs in a row that release a quarantined test
    release_days: float = 7.0  # ...or days since its last failure, with a clean run now
    rerun_limit: int = 100  # failures rerun at most (the first ones); the rest: static class


@dataclass(frozen=True, slots=True)
class InfraItem:
    """The one item an infra storm files instead of a flaky label per test."""

    failing: int
    ran: int
    tests: tuple[str, ...]

    @property
    def ratio(self) -> float:
        return self.failing / self.ran if self.ran else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": "infra",
            "action": "alert",
            "failing": self.failing,
            "ran": self.ran,
            "ratio": round(self.ratio, 4),
            "tests": list(self.tests),
        }


@dataclass(slots=True)
class TriageReport:
    """What one triage found (``uet triage --json`` prints :meth:`to_dict`)."""

    triage_id: str
    commit: str | None
    tests: int
    verdicts: list[Verdict]
    storm: InfraItem | None = None
    quarantined: list[str] = field(default_factory=list)  # newly quarantined
    released: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # the rerun runs, in order

    @property
    def exit_code(self) -> int:
        """1 while a failure counts (or a storm was filed), else 0."""
        return 1 if self.storm is not None or any(v.counts for v in self.verdicts) else 0

    def counts_by_class(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for verdict in self.verdicts:
            found[verdict.failure_class.value] = found.get(verdict.failure_class.value, 0) + 1
        return dict(sorted(found.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "triage_id": self.triage_id,
            "commit": self.commit,
            "tests": self.tests,
            "failures": len(self.verdicts),
            "classes": self.counts_by_class(),
            "storm": None if self.storm is None else self.storm.to_dict(),
            "quarantined": self.quarantined,
            "released": self.released,
            "runs": self.runs,
            "exit_code": self.exit_code,
            "verdicts": [verdict.to_dict() for verdict in self.verdicts],
        }


def verdicts_of(results: Sequence[TestResult]) -> list[Verdict]:
    """One verdict per failing test id (its first failing result), statically classified."""
    seen: set[str] = set()
    found: list[Verdict] = []
    for result in results:
        if not result.outcome.failing or result.test_id in seen:
            continue
        seen.add(result.test_id)
        exception = last_exception(result)
        static = classify(result, exception)
        found.append(Verdict(result, static, static, exception))
    return found


def storm_of(results: Sequence[TestResult], policy: TriagePolicy) -> InfraItem | None:
    """The infra item when more than ``storm_ratio`` of the tests that ran failed."""
    ran: dict[str, bool] = {}
    for result in results:
        if result.phase is Phase.COLLECTION or result.outcome is Outcome.SKIPPED:
            continue
        ran[result.test_id] = ran.get(result.test_id, False) or result.outcome.failing
    failing = tuple(test for test, failed in ran.items() if failed)
    if len(ran) < policy.storm_min_tests or len(failing) <= policy.storm_ratio * len(ran):
        return None
    return InfraItem(len(failing), len(ran), failing)


def triage(
    results: Sequence[TestResult],
    *,
    rerunner: Rerunner | None = None,
    store: Store | None = None,
    commit: str | None = None,
    policy: TriagePolicy | None = None,
    now: float | None = None,
) -> TriageReport:
    """Triage one report's results (the module docstring's steps)."""
    policy = policy or TriagePolicy()
    verdicts = verdicts_of(results)
    report = TriageReport(
        RandomIds().new("triage"),
        commit,
        len({r.test_id for r in results}),
        verdicts,
        storm_of(results, policy),
    )
    if report.storm is None and rerunner is not None and policy.reruns > 0:
        _rerun(verdicts, results, rerunner, policy)
        report.runs = list(rerunner.runs)
    if store is not None:
        _record(store, report, results, policy, time.time() if now is None else now)
    return report


# -- reruns ------------------------------------------------------------------------------------


def _rerun(
    verdicts: list[Verdict], results: Sequence[TestResult], rerunner: Rerunner, policy: TriagePolicy
) -> None:
    candidates = [v for v in verdicts if v.result.phase is not Phase.COLLECTION]
    for verdict in candidates[policy.rerun_limit :]:
        verdict.reason = f"not rerun: more than {policy.rerun_limit} failures (--rerun-limit)"
    candidates = candidates[: policy.rerun_limit]
    for _round in range(policy.reruns):
        pending = [v for v in candidates if not _mixed(v)]
        if not pending:
            break
        _attach(pending, rerunner.run("alone", [[v.test_id] for v in pending]))
    ordered: list[tuple[Verdict, list[str]]] = []
    for verdict in candidates:
        alone = [a for a in verdict.attempts if a.kind == "alone"]
        failed = sum(a.outcome.failing for a in alone)
        if failed == len(alone):
            verdict.reason = f"failed all {len(alone)} reruns alone: broken"
        elif failed:
            _label(
                verdict,
                FailureClass.FLAKY,
                f"passed {len(alone) - failed} of {len(alone)} reruns alone",
            )
        else:
            before = _preceding(verdict, results)
            if before:
                ordered.append((verdict, before))
            else:
                _label(verdict, FailureClass.FLAKY, "passed every rerun alone; it ran first")
    _ordered(ordered, rerunner, policy)


def _mixed(verdict: Verdict) -> bool:
    alone = [a.outcome.failing for a in verdict.attempts if a.kind == "alone"]
    return any(alone) and not all(alone)


def _attach(verdicts: Sequence[Verdict], attempts: Sequence[Attempt]) -> None:
    for verdict, attempt in zip(verdicts, attempts, strict=True):
        verdict.attempts.append(attempt)


def _label(verdict: Verdict, klass: FailureClass, reason: str) -> None:
    verdict.failure_class = klass
    verdict.reason = reason


def _preceding(verdict: Verdict, results: Sequence[TestResult]) -> list[str]:
    """The tests that ran before the victim, in order (collection errors and skips left out)."""
    seen: dict[str, None] = {}
    for result in results:
        if result.position >= verdict.result.position:
            break
        if result.phase is Phase.COLLECTION or result.outcome is Outcome.SKIPPED:
            continue
        if result.test_id != verdict.test_id:
            seen[result.test_id] = None
    return list(seen)


def _ordered(
    ordered: list[tuple[Verdict, list[str]]], rerunner: Rerunner, policy: TriagePolicy
) -> None:
    """Ordered reruns, then bisection of the order-dependent ones' preceding tests."""
    pending = ordered
    for _check in range(policy.ordered_checks):
        if not pending:
            break
        attempts = rerunner.run("ordered", [[*before, v.test_id] for v, before in pending])
        _attach([v for v, _ in pending], attempts)
        for (verdict, _), attempt in zip(pending, attempts, strict=True):
            if not attempt.outcome.failing:
                _label(
                    verdict,
                    FailureClass.FLAKY,
                    "passed every rerun alone and a rerun after the tests before it",
                )
        pending = [(v, b) for (v, b), a in zip(pending, attempts, strict=True) if a.outcome.failing]
    for verdict, _ in pending:
        _label(
            verdict,
            FailureClass.ORDER_DEPENDENT,
            "passes alone, fails after the tests that ran before it",
        )
    _bisect(pending, rerunner)


def _bisect(pending: list[tuple[Verdict, list[str]]], rerunner: Rerunner) -> None:
    windows = {v.test_id: before for v, before in pending}
    by_id = {v.test_id: v for v, _ in pending}
    while True:
        step = [
            (test, window[: len(window) // 2])
            for test, window in windows.items()
            if len(window) > 1
        ]
        if not step:
            break
        attempts = rerunner.run("bisect", [[*half, test] for test, half in step])
        for (test, half), attempt in zip(step, attempts, strict=True):
            by_id[test].attempts.append(attempt)
            window = windows[test]
            windows[test] = half if attempt.outcome.failing else window[len(half) :]
    found = [(test, window[0]) for test, window in windows.items() if window]
    attempts = rerunner.run("confirm", [[polluter, test] for test, polluter in found])
    for (test, polluter), attempt in zip(found, attempts, strict=True):
        verdict = by_id[test]
        verdict.attempts.append(attempt)
        if attempt.outcome.failing:
            verdict.polluter = polluter
            verdict.reason = f"passes alone, fails after {polluter} (its polluter)"
        else:
            verdict.reason = "passes alone, fails after the tests before it; no single polluter"


# -- the store ---------------------------------------------------------------------------------


def _record(
    store: Store,
    report: TriageReport,
    results: Sequence[TestResult],
    policy: TriagePolicy,
    now: float,
) -> None:
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
            _label(verdict, FailureClass.FLAKY, f"passed and failed on commit {report.commit}")
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
