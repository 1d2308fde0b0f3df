"""The Finding model: fingerprints that survive line moves, JSONL that round-trips."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uet.recovery.findings import (
    Applicability,
    Category,
    Edit,
    Finding,
    Fix,
    Severity,
    at_or_above,
    read_jsonl,
    with_fingerprints,
    write_jsonl,
)
from uet.recovery.sarif import MAX_RESULTS_PER_RUN, TooManyRuns, size_problem, to_sarif
from uet.recovery.scan import CheckerReport, CheckerStatus, ScanResult

_LINE = st.text(alphabet="abcdefxyz_=()+ 0123456789", min_size=1, max_size=30).filter(
    lambda s: s.strip() != ""
)


def _finding(line: int, rule: str = "F401", path: str = "a.py") -> Finding:
    return Finding("ruff", rule, Severity.WARNING, Category.LINT, path, line, 1, "message")


def _fingerprint(tmp_path: Path, lines: list[str], line: int, **kw: str) -> str:
    (tmp_path / "a.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return with_fingerprints([_finding(line, **kw)], tmp_path)[0].fingerprint


@settings(max_examples=60, deadline=None)
@given(
    before=st.lists(_LINE, max_size=8),
    target=_LINE,
    after=st.lists(_LINE, max_size=5),
    inserted=st.lists(_LINE, min_size=1, max_size=6),
)
def test_a_fingerprint_survives_lines_added_above(
    tmp_path_factory: pytest.TempPathFactory,
    before: list[str],
    target: str,
    after: list[str],
    inserted: list[str],
) -> None:
    """Adding lines above a finding moves it, and its fingerprint stays the same (as long
    as the inserted lines do not repeat its own text: then it is another occurrence)."""
    folder = tmp_path_factory.mktemp("fp")
    first = _fingerprint(folder, [*before, target, *after], len(before) + 1)
    moved = [*inserted, *before, target, *after]
    second = _fingerprint(folder, moved, len(inserted) + len(before) + 1)
    repeats = sum(" ".join(line.split()) == " ".join(target.split()) for line in inserted)
    if repeats == 0:
        assert first == second
    else:
        assert first.split(":")[0] == second.split(":")[0]


@settings(max_examples=40, deadline=None)
@given(target=_LINE, indent=st.integers(0, 8), trailing=st.integers(0, 3))
def test_a_fingerprint_ignores_indentation_and_spacing(
    tmp_path_factory: pytest.TempPathFactory, target: str, indent: int, trailing: int
) -> None:
    """Re-indenting a line, or spaces at its end, keep its finding's fingerprint."""
    folder = tmp_path_factory.mktemp("fp")
    plain = _fingerprint(folder, [target.strip()], 1)
    spaced = _fingerprint(folder, [" " * indent + target.strip() + " " * trailing], 1)
    assert plain == spaced


@settings(max_examples=40, deadline=None)
@given(a=_LINE, b=_LINE)
def test_a_fingerprint_tells_rules_paths_and_texts_apart(
    tmp_path_factory: pytest.TempPathFactory, a: str, b: str
) -> None:
    """Another rule, another file or another line text is another fingerprint."""
    folder = tmp_path_factory.mktemp("fp")
    base = _fingerprint(folder, [a], 1)
    assert base != _fingerprint(folder, [a], 1, rule="E711")
    (folder / "b.py").write_text(a + "\n", encoding="utf-8")
    other_path = with_fingerprints([_finding(1, path="b.py")], folder)[0].fingerprint
    assert base != other_path
    if " ".join(a.split()) != " ".join(b.split()):
        assert base != _fingerprint(folder, [b], 1)


def test_identical_lines_of_a_file_are_numbered_occurrences(tmp_path: Path) -> None:
    """Two `import os` lines with the same finding get occurrence 0 and 1, in line order."""
    (tmp_path / "a.py").write_text("import os\nx = 1\nimport os\n", encoding="utf-8")
    found = with_fingerprints([_finding(3), _finding(1)], tmp_path)
    assert [f.line for f in found] == [1, 3]
    assert [f.fingerprint.split(":")[1] for f in found] == ["0", "1"]
    assert found[0].fingerprint.split(":")[0] == found[1].fingerprint.split(":")[0]


def test_a_finding_without_a_line_is_fingerprinted_by_its_message(tmp_path: Path) -> None:
    """A file-level finding uses its message; the same message is the same fingerprint."""
    lone = Finding("pytest", "collection-error", Severity.ERROR, Category.TEST, "t.py", None,
                   None, "tests.t: collection failure")  # fmt: skip
    one = with_fingerprints([lone], tmp_path)[0].fingerprint
    two = with_fingerprints([dataclasses.replace(lone)], tmp_path)[0].fingerprint
    assert one == two
    assert (
        one
        != with_fingerprints([dataclasses.replace(lone, message="other")], tmp_path)[0].fingerprint
    )


def test_jsonl_round_trips_every_field(tmp_path: Path) -> None:
    """write_jsonl then read_jsonl gives back the same findings, fix and edits included."""
    fix = Fix(Applicability.SAFE, "Remove unused import", (Edit((1, 1), (2, 1), ""),))
    finding = Finding("ruff", "F401", Severity.WARNING, Category.LINT, "a.py", 1, 8,
                      "`os` imported but unused", 1, 10, fix, "https://docs.example/F401",
                      "abc:0", {"noqa_row": 1})  # fmt: skip
    path = tmp_path / "f.jsonl"
    write_jsonl(path, [finding.to_dict()])
    (back,) = read_jsonl(path)
    assert back == finding
    assert back.applicability is Applicability.SAFE


def test_a_malformed_jsonl_record_names_its_line(tmp_path: Path) -> None:
    """read_jsonl says which line is not a finding."""
    path = tmp_path / "f.jsonl"
    path.write_text('{"tool": "ruff"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"f\.jsonl:1: not a finding record"):
        list(read_jsonl(path))


def test_severities_are_ordered_for_fail_on() -> None:
    """at_or_above keeps the threshold and worse: error keeps error and critical."""
    found = [dataclasses.replace(_finding(1), severity=s) for s in Severity]
    assert [f.severity for f in at_or_above(found, Severity.ERROR)] == [
        Severity.ERROR,
        Severity.CRITICAL,
    ]
    assert len(at_or_above(found, Severity.INFO)) == 4


def _result(findings: list[Finding], tools: list[str]) -> ScanResult:
    reports = tuple(CheckerReport(tool, CheckerStatus.RAN) for tool in tools)
    return ScanResult(Path("/project"), None, tuple(findings), reports)


def test_sarif_splits_a_checker_past_github_s_results_per_run() -> None:
    """25,001 results of one checker become two runs of the same tool (25,000 + 1)."""
    many = [dataclasses.replace(_finding(n + 1), fingerprint=f"{n}:0") for n in range(25_001)]
    sarif = to_sarif(_result(many, ["ruff"]))
    assert [len(run["results"]) for run in sarif["runs"]] == [MAX_RESULTS_PER_RUN, 1]
    assert {run["tool"]["driver"]["name"] for run in sarif["runs"]} == {"ruff"}


def test_sarif_refuses_more_runs_than_one_file_may_hold() -> None:
    """21 checkers that took part would be 21 runs: refused, naming the limit."""
    tools = [f"c{n:02d}" for n in range(21)]
    with pytest.raises(TooManyRuns, match="more than the 20"):
        to_sarif(_result([], tools))
    assert len(to_sarif(_result([], tools[:20]))["runs"]) == 20


def test_a_sarif_file_too_big_for_an_upload_is_named() -> None:
    """The gzipped size is compared with the limit (10 MiB for GitHub)."""
    assert size_problem("x" * 1000) is None
    noise = random.Random(7)
    text = "".join(noise.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(50_000))
    problem = size_problem(text, 1024)
    assert problem is not None
    assert "gzipped: more than" in problem
