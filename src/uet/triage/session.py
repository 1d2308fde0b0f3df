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
6. **History and quarantine** (:mod:`uet.triage.history`): every outcome (the report's and
   each rerun's) is a row of ``triage_results``. A test is quarantined only with two
   different outcomes on the same commit (a broken test never has them); quarantined tests
   keep running, their failures do not count, and ``release_after`` clean runs in a row (or
   a clean run ``release_days`` after its last failure) release them. A quarantined test
   that now fails every rerun is broken: released, and its failure counts.

An interrupted triage (``RerunsInterrupted``, exit 130) records nothing but its rerun runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from uet.ids import RandomIds
from uet.state.store import Store
from uet.triage.classify import classify, last_exception
from uet.triage.history import record
from uet.triage.model import Attempt, FailureClass, Outcome, Phase, TestResult, Verdict
from uet.triage.report import InfraItem, TriagePolicy, TriageReport
from uet.triage.rerun import Rerunner

__all__ = ["InfraItem", "TriagePolicy", "TriageReport", "storm_of", "triage", "verdicts_of"]


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
        record(store, report, results, policy, time.time() if now is None else now)
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
