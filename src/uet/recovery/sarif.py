"""SARIF 2.1.0 export of a scan (``uet scan --sarif FILE``); JSONL stays the canonical format.

What uet adds to what the tools' own SARIF has (research/anchors.md §3c):

* ``partialFingerprints["uet/v1"]``: the finding's stable fingerprint, for dedup across scans;
* ``baselineState``: new, unchanged, or absent (a baseline finding gone now, reported once);
* relative URIs against ``originalUriBaseIds["%SRCROOT%"]`` (the scanned root);
* ``properties.applicability`` (ruff's own SARIF loses it), severity and category, and the
  tool's fix as ``fixes[].artifactChanges[].replacements[]`` where it has edits.

One run per checker that took part (an empty run tells a consumer such as GitHub code
scanning that the checker found nothing, so it closes old alerts); a checker that failed
has ``invocations[0].executionSuccessful`` false with the reason. GitHub's limits are kept:
at most :data:`MAX_RESULTS_PER_RUN` results per run (a checker with more is split into
several runs) and :data:`MAX_RUNS` runs per file.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from uet import __version__
from uet.recovery.findings import FINGERPRINT_VERSION, BaselineState, Finding, Severity

if TYPE_CHECKING:
    from uet.recovery.scan import ScanResult

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
MAX_RESULTS_PER_RUN = 25_000
"""GitHub code scanning accepts at most this many results per run."""
MAX_RUNS = 20
"""GitHub code scanning accepts at most this many runs per file."""
MAX_GZIPPED_BYTES = 10 * 1024 * 1024
"""GitHub code scanning refuses a SARIF file larger than this once gzipped (10 MiB)."""

_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.ERROR: "error",
    Severity.WARNING: "warning",
    Severity.INFO: "note",
}


class TooManyRuns(ValueError):
    """The scan would need more SARIF runs than a consumer accepts in one file."""


def to_sarif(result: ScanResult) -> dict[str, Any]:
    """The SARIF log of ``result`` (a plain dict, ready for ``json.dump``)."""
    by_tool: dict[str, list[tuple[Finding, BaselineState]]] = {r.name: [] for r in result.reports}
    for finding in result.findings:
        by_tool.setdefault(finding.tool, []).append((finding, result.state_of(finding)))
    for finding in result.absent:
        by_tool.setdefault(finding.tool, []).append((finding, BaselineState.ABSENT))
    reports = {report.name: report for report in result.reports}
    runs = []
    for tool in sorted(by_tool):
        report = reports.get(tool)
        if report is not None and report.status.value in ("no_files", "skipped"):
            continue
        items = by_tool[tool]
        chunks = [
            items[i : i + MAX_RESULTS_PER_RUN] for i in range(0, len(items), MAX_RESULTS_PER_RUN)
        ]
        for chunk in chunks or [[]]:
            failed = report is not None and report.status.value == "failed"
            runs.append(_run(tool, chunk, result.root, failed, report.reason if report else None))
    if len(runs) > MAX_RUNS:
        raise TooManyRuns(f"{len(runs)} SARIF runs: more than the {MAX_RUNS} one file may hold")
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": runs}


def _run(
    tool: str,
    items: Sequence[tuple[Finding, BaselineState]],
    root: Path,
    failed: bool,
    reason: str | None,
) -> dict[str, Any]:
    rules = sorted({finding.rule for finding, _ in items})
    index = {rule: i for i, rule in enumerate(rules)}
    urls = {finding.rule: finding.url for finding, _ in items if finding.url}
    invocation: dict[str, Any] = {"executionSuccessful": not failed}
    if failed:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": reason or f"{tool} failed"}}
        ]
    return {
        "tool": {
            "driver": {
                "name": tool,
                "version": __version__,
                "rules": [_rule(rule, urls.get(rule)) for rule in rules],
            }
        },
        "automationDetails": {"id": f"uet-scan/{tool}/"},
        "originalUriBaseIds": {SRCROOT: {"uri": root.resolve().as_uri() + "/"}},
        "invocations": [invocation],
        "results": [_result(f, state, index[f.rule]) for f, state in items],
        "columnKind": "unicodeCodePoints",
    }


def _rule(rule: str, url: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": rule}
    if url:
        entry["helpUri"] = url
    return entry


def _result(finding: Finding, state: BaselineState, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": finding.message or finding.rule},
        "partialFingerprints": {FINGERPRINT_VERSION: finding.fingerprint},
        "baselineState": state.value,
        "properties": {
            "severity": finding.severity.value,
            "category": finding.category.value,
            "applicability": finding.applicability.value,
        },
    }
    if finding.path:
        result["locations"] = [{"physicalLocation": _physical(finding)}]
    fixes = _fixes(finding)
    if fixes:
        result["fixes"] = fixes
    return result


def _artifact(path: str) -> dict[str, Any]:
    return {"uri": quote(path), "uriBaseId": SRCROOT}


def _physical(finding: Finding) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": _artifact(finding.path)}
    if finding.line is not None and finding.line >= 1:
        region: dict[str, Any] = {"startLine": finding.line}
        if finding.column:
            region["startColumn"] = finding.column
        if finding.end_line and finding.end_line >= finding.line:
            region["endLine"] = finding.end_line
            if finding.end_column and (finding.end_line > finding.line or
                                       finding.end_column >= (finding.column or 1)):  # fmt: skip
                region["endColumn"] = finding.end_column
        physical["region"] = region
    return physical


def _fixes(finding: Finding) -> list[dict[str, Any]]:
    if finding.fix is None or not finding.fix.edits or not finding.path:
        return []
    replacements = [
        {
            "deletedRegion": _region(edit.start, edit.end),
            "insertedContent": {"text": edit.content},
        }
        for edit in finding.fix.edits
    ]
    return [
        {
            "description": {"text": finding.fix.message or f"fix {finding.rule}"},
            "artifactChanges": [
                {"artifactLocation": _artifact(finding.path), "replacements": replacements}
            ],
            "properties": {"applicability": finding.fix.applicability.value},
        }
    ]


def _region(start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {"startLine": start[0], "startColumn": start[1], "endLine": end[0],
            "endColumn": end[1]}  # fmt: skip


def size_problem(text: str, limit: int = MAX_GZIPPED_BYTES) -> str | None:
    """What is wrong with a SARIF file's size for an upload (None: it fits)."""
    size = len(gzip.compress(text.encode("utf-8"), compresslevel=6))
    if size <= limit:
        return None
    return f"{size / 2**20:.1f} MiB gzipped: more than code scanning's {limit / 2**20:.0f} MiB"
