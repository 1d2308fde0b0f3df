"""Test-failure triage: classify JUnit failures, rerun them through uet, quarantine flaky tests.

::

    from uet.triage import Rerunner, read_reports, triage

    results = read_reports([Path("report.xml")], root=Path("."))
    report = triage(results, rerunner=Rerunner(settings=s, store=store, root=Path(".")),
                    store=store, commit=current_commit(Path(".")))

See ``docs/recovery.md`` (Triage) and the modules: ``model`` (classes, actions, verdicts),
``classify`` (the static rules), ``junit`` (reading, the merged report), ``rerun`` (reruns as
recorded runs), ``session`` (the steps), ``report`` (what a triage says), ``history`` (the
store's side: rows, quarantine, events), ``commit`` (what was tested).
"""

from uet.triage.classify import classify, last_exception
from uet.triage.commit import current_commit
from uet.triage.junit import ReportError, read_report, read_reports, write_merged
from uet.triage.model import (
    ACTIONS,
    Action,
    Attempt,
    FailureClass,
    Outcome,
    Phase,
    TestResult,
    Verdict,
)
from uet.triage.report import InfraItem, TriagePolicy, TriageReport
from uet.triage.rerun import Rerunner
from uet.triage.session import triage

__all__ = [
    # classes and verdicts
    "ACTIONS",
    "Action",
    "Attempt",
    "FailureClass",
    "InfraItem",
    "Outcome",
    "Phase",
    # reading and writing JUnit
    "ReportError",
    "Rerunner",
    "TestResult",
    "TriagePolicy",
    "TriageReport",
    "Verdict",
    # classifying and triaging
    "classify",
    "current_commit",
    "last_exception",
    "read_report",
    "read_reports",
    "triage",
    "write_merged",
]
