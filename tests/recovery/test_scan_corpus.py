"""The seeded corpus (tests/recovery/checkers/corpus.py): ``uet scan`` finds 100 % of its
258 injected findings at their path and line, and nothing else; its SARIF validates; the
second scan of the unchanged tree comes whole from the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.recovery.checkers import corpus
from tests.recovery.checkers.scanning import git, run_uet, validate_sarif


def test_the_generator_still_makes_the_fixture() -> None:
    """The fixture is the generator's output (regenerate: ``... corpus --fixture``)."""
    assert corpus.FIXTURE.read_text(encoding="utf-8") == corpus.as_fixture()


def test_the_corpus_is_as_big_as_promised() -> None:
    """At least 40 Python files and 200 findings, across ruff, mypy, bandit and pytest."""
    tree, manifest = corpus.build()
    assert sum(path.endswith(".py") for path in tree) >= 40
    assert len(manifest) >= 200
    assert {tool for tool, *_ in manifest} == {"ruff", "mypy", "bandit", "pytest"}
    rules = {rule for tool, rule, *_ in manifest if tool == "ruff"}
    assert {"F401", "I001", "E711", "UP032"} <= rules


@pytest.mark.slow
def test_uet_scan_finds_every_seeded_finding_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recall 100 % at (tool, rule, path, line); no finding outside the manifest; the
    bandit HIGHs are critical; SARIF validates; the second scan is all cached."""
    data = json.loads(corpus.FIXTURE.read_text(encoding="utf-8"))
    root = tmp_path / "seeded"
    corpus.write(root, data["files"])
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "seeded")
    monkeypatch.chdir(root)
    expected = {tuple(item) for item in data["manifest"]}

    result = run_uet(capsys, "scan", "--output", "f.jsonl", "--sarif", "f.sarif", "--json")
    assert result.code == 1, result.err  # it has errors
    scan = result.json()
    assert {c["name"]: c["status"] for c in scan["checkers"]} == dict.fromkeys(
        ("bandit", "mypy", "pytest", "ruff"), "ran"
    )
    records = [json.loads(line) for line in (root / "f.jsonl").read_text().splitlines()]
    found = {(r["tool"], r["rule"], r["path"], r["line"]) for r in records}
    missed, extra = expected - found, found - expected
    recall = 1 - len(missed) / len(expected)
    with capsys.disabled():  # the figure, shown with -s (and kept out of the next output)
        print(f"seeded corpus: {len(expected)} injected, {len(found & expected)} found "
              f"(recall {recall:.1%}), {len(extra)} outside the manifest")  # fmt: skip
    assert not missed
    assert not extra
    assert len({r["fingerprint"] for r in records}) == len(records)
    critical = {(r["rule"], r["path"]) for r in records if r["severity"] == "critical"}
    assert critical == {("B602", "pkg/m07.py"), ("B324", "pkg/m23.py")}
    safe = [r for r in records if r["applicability"] == "safe"]
    assert {r["rule"] for r in safe} >= {"F401", "I001", "UP032"}

    sarif = json.loads((root / "f.sarif").read_text())
    validate_sarif(sarif)
    assert sum(len(run["results"]) for run in sarif["runs"]) == len(records)

    again = run_uet(capsys, "scan", "--output", "g.jsonl", "--json").json()
    assert again["run_id"] is None
    assert {c["status"] for c in again["checkers"]} == {"cached"}
    second = [json.loads(line) for line in (root / "g.jsonl").read_text().splitlines()]
    assert [{**r, "baseline_state": "new"} for r in second] == records
