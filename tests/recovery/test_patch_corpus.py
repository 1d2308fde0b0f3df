"""The bad-patch corpus (issue 12, E2): at least 50 deliberately bad patches, of every kind the
issue names, validated on a real project; none reaches main, each lands in the state and
queue its rule names; the good patches auto-merge, and each of them also passes a second,
independent validation (a fresh clone, the full suite, in shuffled order: E5)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.recovery.patch_corpus import bad_cases, git, good_cases
from tests.recovery.patch_fixtures import Bench, bench_fixture  # noqa: F401 - the fixture
from uet.errors import UsageError
from uet.recovery.landing import land
from uet.recovery.validate import validate

KINDS = {
    "syntax",
    "failing_test",
    "deleted_test",
    "skipped_test",
    "weakened_assert",
    "test_config",
    "coverage_drop",
    "bandit_high",
    "out_of_scope",
    "protected_path",
    "hang",
    "flaky",
}
"""The kinds of bad patch issue 12 names (E2)."""

FIXTURES = Path(__file__).parent / "fixtures" / "patch_corpus"


def test_the_corpus_has_fifty_bad_patches_of_every_kind() -> None:
    cases = bad_cases()
    assert len(cases) >= 50
    assert {c.category for c in cases} >= KINDS
    assert len({c.name for c in cases}) == len(cases)


def test_the_kept_fixture_lists_the_generated_cases() -> None:
    """tests/recovery/fixtures/patch_corpus holds each case's diff (written by
    ``python -m tests.recovery.patch_corpus``); it names the same cases as the generator."""
    kept = json.loads((FIXTURES / "cases.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in kept] == [c.name for c in [*bad_cases(), *good_cases()]]
    assert all((FIXTURES / f"{c['name']}.diff").is_file() for c in kept)


@pytest.mark.slow
def test_no_bad_patch_reaches_main_and_each_lands_where_its_rule_says(bench: Bench) -> None:
    expected_main = bench.main()
    outcomes: Counter[str] = Counter()
    wrong: list[str] = []
    for case in bad_cases():
        record = bench.submit(case)
        if case.moves_main is not None:
            expected_main = bench.main()
        result = validate(
            bench.ledger, record.id, policy=bench.policy, home=bench.home, env=bench.env
        )
        stored = bench.ledger.get(record.id)
        rules = [t.rule for t in result.tamper]
        statuses = {(s.kind, s.status.value) for s in result.signals}
        got = f"{result.state.value}/{stored.queue} rules={rules} signals={sorted(statuses)}"
        if stored.state != case.state or stored.queue != case.queue:
            wrong.append(f"{case.name}: expected {case.state}/{case.queue}, got {got}")
        elif case.rule is not None and case.rule not in rules:
            wrong.append(f"{case.name}: expected rule {case.rule}, got {got}")
        elif case.signal is not None and case.signal not in statuses:
            wrong.append(f"{case.name}: expected signal {case.signal}, got {got}")
        outcomes[f"{stored.state}/{stored.queue}"] += 1
        if stored.queue != "auto_merge" and stored.state in ("queued", "quarantined"):
            with pytest.raises(UsageError, match="approve"):  # no person approved it
                land(bench.ledger, record.id, policy=bench.policy, home=bench.home, env=bench.env)
        assert bench.main() == expected_main, f"{case.name} moved main"
    print(f"\ncorpus outcomes: {dict(outcomes)}")
    assert wrong == []
    assert outcomes["queued/auto_merge"] == 0


@pytest.mark.slow
def test_good_patches_auto_merge_and_pass_a_second_validation(bench: Bench) -> None:
    """Every good patch scores ≥ 0.95 and lands; a fresh clone of each landed commit passes
    the full suite with its tests in shuffled order (the calibration check)."""
    rng = random.Random(12)
    for case in good_cases():
        record = bench.submit(case)
        result = validate(
            bench.ledger, record.id, policy=bench.policy, home=bench.home, env=bench.env
        )
        assert result.route is not None
        assert result.route.score >= 0.95, result.to_json()
        landed = land(bench.ledger, record.id, policy=bench.policy, home=bench.home, env=bench.env)
        assert landed.ok, landed.reason
        assert bench.main() == landed.commit
        assert _second_validation(bench, landed.commit or "", rng), case.name


def _second_validation(bench: Bench, commit: str, rng: random.Random) -> bool:
    fresh = bench.home.parent / f"second-{commit[:12]}"
    git(bench.repo.parent, "clone", "--quiet", str(bench.repo), str(fresh))
    git(fresh, "checkout", "--quiet", "--detach", commit)
    python = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    listed = subprocess.run(
        [*python, "--collect-only"],
        cwd=fresh,
        env=bench.env,
        capture_output=True,
        text=True,
        check=True,
    )
    ids = [line for line in listed.stdout.splitlines() if "::" in line]
    rng.shuffle(ids)
    done = subprocess.run(
        [*python, *ids], cwd=fresh, env=bench.env, capture_output=True, text=True, check=False
    )
    return bool(ids) and done.returncode == 0
