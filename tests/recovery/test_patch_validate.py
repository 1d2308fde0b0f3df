"""Validation in a clone at the target's current head, routing, and landing through the merge
queue, on the corpus project (real git, real pytest/ruff/mypy/bandit processes)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.recovery.patch_corpus import OPS_PY, SRC, T_OPS, Case, append, both, edit, git
from tests.recovery.patch_fixtures import Bench, bench_fixture  # noqa: F401 - the fixture
from uet.errors import UsageError
from uet.recovery.confidence import Queue, Signal, SignalStatus
from uet.recovery.landing import land
from uet.recovery.ledger import PatchState
from uet.recovery.patches import Patch
from uet.recovery.policy import CheckSpec
from uet.recovery.validate import REVIEW_PREFIX, validate

DOCSTRING = Case(
    "docstring",
    "good",
    edit(
        OPS_PY,
        "def sub(a: int, b: int) -> int:\n",
        'def sub(a: int, b: int) -> int:\n    """a - b."""\n',
    ),
    "committed",
    "auto_merge",
    files=SRC,
)


def _validate(bench: Bench, patch_id: str, **kwargs: object):  # type: ignore[no-untyped-def]
    return validate(
        bench.ledger, patch_id, policy=bench.policy, home=bench.home, env=bench.env, **kwargs
    )


def test_a_good_patch_auto_merges_through_the_merge_queue(bench: Bench) -> None:
    """Score 1.0 → auto_merge, a patch decision with the signals and the threshold; landing
    fast-forwards main to a commit holding exactly the patch; every move is an event."""
    record = bench.submit(DOCSTRING)
    before = bench.main()
    result = _validate(bench, record.id)
    assert result.queue is Queue.AUTO_MERGE, result.to_json()
    assert result.head == before
    assert {s.name: s.status for s in result.signals} == dict.fromkeys(
        ["tests", "ruff", "mypy", "bandit", "coverage"], SignalStatus.PASSED
    )
    with bench.store.reader() as tx:
        [decision] = tx.get_decisions(category="patch")
    assert decision.chosen == "auto_merge"
    assert decision.data["threshold"] == 0.95
    assert [s["name"] for s in decision.data["signals"]] == [c.name for c in bench.policy.checks]
    landed = land(bench.ledger, record.id, policy=bench.policy, home=bench.home, env=bench.env)
    assert landed.ok, landed.reason
    assert bench.main() == landed.commit != before
    assert '"""a - b."""' in git(bench.repo, "show", f"{landed.commit}:{OPS_PY}")
    assert git(bench.repo, "diff", "--stat", before, landed.commit).count("|") == 1
    states = [t.to_state for t in bench.ledger.history(record.id)]
    assert states == ["created", "validated", "queued", "applied", "verified", "committed"]
    assert not list((bench.home / "patches").glob(f"{record.id}-*"))  # no clone left behind


def test_a_review_patch_gets_its_branch_and_needs_a_person(bench: Bench) -> None:
    """An untested new function (coverage fails: 0.9) goes to review: the branch
    uet/fix/<id> holds it, main does not; landing needs --approve, then goes through the
    merge queue."""
    uncovered = Case(
        "uncovered",
        "coverage_drop",
        append(OPS_PY, "\n\ndef neg(a: int) -> int:\n    return -a\n"),
        "queued",
        files=SRC,
    )
    record = bench.submit(uncovered)
    before = bench.main()
    result = _validate(bench, record.id)
    assert result.queue is Queue.REVIEW, result.to_json()
    assert result.branch == f"{REVIEW_PREFIX}{record.id}"
    assert "def neg" in git(bench.repo, "show", f"{result.branch}:{OPS_PY}")
    assert bench.main() == before
    with pytest.raises(UsageError, match="--approve"):
        land(bench.ledger, record.id, policy=bench.policy, home=bench.home, env=bench.env)
    assert bench.main() == before
    no_coverage_gate = replace(
        bench.policy, checks=tuple(c for c in bench.policy.checks if c.kind != "coverage")
    )
    landed = land(
        bench.ledger,
        record.id,
        policy=no_coverage_gate,
        home=bench.home,
        env=bench.env,
        approve="ada",
    )
    assert landed.ok, landed.reason
    with bench.store.reader() as tx:
        assert any(d.data.get("approved_by") == "ada" for d in tx.get_decisions(category="patch"))


def test_a_tampered_patch_runs_none_of_its_code(bench: Bench, tmp_path: Path) -> None:
    """A patch that skips a test and plants code writing a file is quarantined before any
    check runs: the file is never written."""
    marker = tmp_path / "ran"
    plant = f'\nopen("{marker}", "w").close()\n'
    case = Case(
        "skip-and-plant",
        "skipped_test",
        both(
            append(OPS_PY, plant),
            edit(T_OPS, "def test_add()", "@pytest.mark.skip\ndef test_add()"),
        ),
        "quarantined",
    )
    record = bench.submit(case)
    result = _validate(bench, record.id)
    assert result.state is PatchState.QUARANTINED
    assert [t.rule for t in result.tamper] == ["skips_test"]
    assert result.signals == ()
    assert not marker.exists()
    assert bench.ledger.get(record.id).queue == "manual"


def test_validation_happens_at_the_targets_current_head(bench: Bench) -> None:
    """main moved after the patch was made: a conflicting patch is apply_failed; a
    non-conflicting one is validated on the new head."""
    conflicting = Case(
        "c", "conflict", edit(OPS_PY, "return a + b", "return (a + b)"), "apply_failed"
    )
    first = bench.submit(conflicting)
    bench.submit(Case("other", "good", edit(OPS_PY, "return a * b", "return b * a"), "x"))
    edit(OPS_PY, "return a + b", "return b + a")(bench.repo)
    git(bench.repo, "commit", "--quiet", "-am", "main moves")
    moved = bench.main()
    failed = _validate(bench, first.id)
    assert failed.state is PatchState.APPLY_FAILED
    assert moved[:12] in failed.reason
    assert bench.ledger.get(first.id).state == "apply_failed"
    later = bench.ledger.patches(states=["created"])[0]
    fine = _validate(bench, later.id)
    assert (fine.state, fine.head) == (PatchState.QUEUED, moved)
    assert bench.main() == moved


@pytest.mark.slow
def test_a_patch_broken_by_main_moving_is_rolled_back(bench: Bench) -> None:
    """Validated auto_merge, then main gains a test the patch fails: landing rebases onto the
    new tip, the merge queue's gate (the tests) refuses, main stays where it was."""
    record = bench.submit(DOCSTRING)
    assert _validate(bench, record.id).queue is Queue.AUTO_MERGE
    append(T_OPS, "\n\ndef test_sub_has_no_doc() -> None:\n    assert sub.__doc__ is None\n")(
        bench.repo
    )
    git(bench.repo, "commit", "--quiet", "-am", "main moves")
    moved = bench.main()
    landed = land(bench.ledger, record.id, policy=bench.policy, home=bench.home, env=bench.env)
    assert landed.state is PatchState.ROLLED_BACK
    assert landed.merge is not None
    assert landed.merge.code == "gate_failed"
    assert bench.main() == moved


def test_a_missing_tool_is_a_missing_signal_and_costs_the_score(bench: Bench) -> None:
    """A check whose program or module is not installed says so (missing), and a missing
    signal is worth nothing: the patch cannot auto-merge."""
    checks = (
        CheckSpec("gone", "security", ("/nonexistent/bin/scanner",)),
        CheckSpec("gone-module", "lint", ("{python}", "-m", "no_such_linter_x")),
        CheckSpec("true", "tests", ("true",)),
    )
    record = bench.submit(DOCSTRING)
    result = validate(
        bench.ledger, record.id, policy=replace(bench.policy, checks=checks), home=bench.home
    )
    assert [s.status for s in result.signals] == [
        SignalStatus.MISSING,
        SignalStatus.MISSING,
        SignalStatus.PASSED,
    ]
    assert result.queue is Queue.MANUAL


def test_the_findings_check_is_a_seam_for_the_scan(bench: Bench) -> None:
    """A FindingsCheck's signals join the checks': a finding still there costs lint."""
    seen: list[tuple[Path, str]] = []

    def findings(checkout: Path, patch: Patch) -> list[Signal]:
        seen.append((checkout, patch.origin.findings[0]))
        assert (checkout / OPS_PY).read_text(encoding="utf-8").count('"""a - b."""') == 1
        return [Signal("finding-gone", "lint", SignalStatus.FAILED, detail="fp still there")]

    checks = (CheckSpec("true", "tests", ("true",)),)
    record = bench.submit(DOCSTRING)
    result = validate(
        bench.ledger,
        record.id,
        policy=replace(bench.policy, checks=checks),
        home=bench.home,
        findings=findings,
    )
    assert seen[0][1] == "fp-docstring"
    assert result.queue is Queue.MANUAL  # tests 0.4 of 0.6: 0.667
    assert result.signals[-1].name == "finding-gone"
