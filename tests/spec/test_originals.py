"""The real corpus of the originals: uet's verdict on each file is the originals' verdict.

- every bundle their schema and loader accept validates in uet, given alone (its
  dependencies are found beside it, as their loader found them in its folder);
- every file they reject is rejected, with a problem naming a key they named;
- the cases of their own bundle and plan tests come out as those tests expected;
- the acceptance entries of every real bundle are split into commands and prose by the
  documented rule (36 of them are prose, as counted by hand).

The plans are *run* in tests/spec/test_original_plans.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.spec.originals import (
    Entry,
    keys_named,
    lay_out,
    manifest,
    originals_accept,
    read_json,
    real_bundles,
    require_corpus,
    schema_errors,
)
from uet.errors import Problem, SpecError
from uet.spec import is_command, load_files

BUNDLES = real_bundles()


def test_the_corpus_is_there() -> None:
    """The corpus is found beside the repository (required in CI) and holds its 90 files."""
    corpus = require_corpus()
    files = {path.name for path in corpus.iterdir()} - {"MANIFEST.tsv", "README.md"}
    assert files == {entry.file for entry in manifest()}
    assert len(files) == 90


def _top_key(problem: Problem) -> str:
    return problem.path.split(".")[0].split("[")[0].strip("'")


@pytest.mark.parametrize("entry", BUNDLES, ids=lambda entry: entry.file)
def test_a_real_bundle_gets_the_originals_verdict(entry: Entry, tmp_path: Path) -> None:
    require_corpus()
    laid = lay_out(BUNDLES, tmp_path)
    accepted = originals_accept(entry, BUNDLES)
    if accepted:
        plan = load_files([laid[entry.file]], env={})
        data, _ = read_json(entry)
        ids = {item["id"] for item in (data if isinstance(data, list) else [data])}
        assert ids <= {ws.id for ws in plan.workstreams}
        for ws in plan.workstreams:  # each bundle is ONE tool task with a scope
            (task,) = ws.tasks
            assert (task.id, task.isolation, bool(task.files_scope)) == ("implement", "clone", True)
        return
    with pytest.raises(SpecError) as info:
        load_files([laid[entry.file]], env={})
    problems = info.value.problems
    data, json_error = read_json(entry)
    if json_error is not None:
        assert [p.message.split(":")[0] for p in problems] == ["not valid JSON"]
        assert "(line " in problems[0].message
        return
    named = keys_named(schema_errors(data))
    assert named & {_top_key(p) for p in problems}, (named, problems)


def _fixtures(*names: str) -> list[Entry]:
    by_name = {entry.file: entry for entry in manifest()}
    return [by_name[f"pipeT-{name}.json"] for name in names]


def _load_together(entries: list[Entry], tmp_path: Path) -> list[Problem]:
    """Load the files of one of the originals' tests together; the problems (none: [])."""
    paths = []
    for entry in entries:
        target = tmp_path / entry.file
        shutil.copyfile(require_corpus() / entry.file, target)
        paths.append(target)
    try:
        load_files(paths, env={})
    except SpecError as error:
        return error.problems
    return []


# The originals' own tests (tests/pipeline/test_bundles.py and the AIM test), their files,
# what they expected, and what uet says: (key path, words of the message), or ok.
BUNDLE_CASES = [
    ("valid_bundles_no_cycles_no_overlaps", ["__a", "__b"], None),
    ("duplicate_id_raises", ["__x1", "__x2"], ("id", "duplicate workstream id 'ws-x'")),
    ("missing_dependency_raises", ["__a"], ("depends_on[0]", "unknown workstream 'ws-missing'")),
    ("simple_cycle_raises", ["__a", "__b"], ("depends_on", "workstream dependency cycle")),
    ("filescope_overlap_raises_from_cli", ["__a", "__b"], None),  # serialised: a warning
    ("schema_validation_errors", ["__bad_missing"], ("tasks", "required key is missing")),
    ("schema_validation_errors", ["__bad_type"], ("tasks", "expected a list")),
    ("workstream_schema_allows_capability", ["__workstream"], None),
]


@pytest.mark.parametrize(
    ("test", "files", "expected"),
    BUNDLE_CASES,
    ids=[f"{case[0]}{''.join(case[1])}" for case in BUNDLE_CASES],
)
def test_the_originals_bundle_tests_come_out_as_they_expected(
    test: str, files: list[str], expected: tuple[str, str] | None, tmp_path: Path
) -> None:
    problems = _load_together(_fixtures(*(test + suffix for suffix in files)), tmp_path)
    if expected is None:
        assert problems == []
        return
    path, words = expected
    assert any(p.path == path and words in p.message for p in problems), problems


PLANS_ACCEPTED = [
    "plan_schema_loads_valid_plan",
    "plan_schema_variable_substitution",
    "execute_simple_plan",
    "execute_plan_with_dependencies",
    "execute_plan_handles_failure_abort",
    "execute_plan_with_retry",
]
PLANS_REFUSED = [
    ("plan_schema_detects_circular_dependency", "steps[0].depends_on", "cycle: a -> b -> a"),
    ("plan_schema_detects_missing_dependency", "steps[0].depends_on[0]", "unknown task"),
]


def _copy(test: str, tmp_path: Path) -> Path:
    (entry,) = _fixtures(test)
    target = tmp_path / entry.file
    shutil.copyfile(require_corpus() / entry.file, target)
    return target


@pytest.mark.parametrize("test", PLANS_ACCEPTED)
def test_the_plans_the_originals_tests_accept_load(test: str, tmp_path: Path) -> None:
    """Any plan_id (``TEST-001`` → id ``test-001``, the original kept in metadata)."""
    target = _copy(test, tmp_path)
    (ws,) = load_files([target], env={"MESSAGE": "hi"}).workstreams
    data = json.loads(target.read_text())
    assert ws.metadata["plan"]["plan_id"] == data["plan_id"]
    assert ws.id == data["plan_id"].lower()


@pytest.mark.parametrize(("test", "path", "words"), PLANS_REFUSED)
def test_the_plans_the_originals_tests_refuse_are_refused(
    test: str, path: str, words: str, tmp_path: Path
) -> None:
    with pytest.raises(SpecError) as info:
        load_files([_copy(test, tmp_path)], env={})
    assert any(p.path == path and words in p.message for p in info.value.problems)


def test_the_real_plans_load_and_the_blueprints_are_refused(tmp_path: Path) -> None:
    """safe_merge and test_simple load as they are; master_plan (a blueprint) and MINI's
    execution plan have no steps, which the originals' Plan.from_file required too."""
    require_corpus()
    plans = {e.file: e for e in manifest() if e.kind.startswith(("plan", "plan-like"))}
    for name in ("pipe0-safe_merge.json", "pipe0-test_simple.json"):
        plan = load_files([require_corpus() / name], env={"BRANCH": "main"})
        assert plan.warnings == ()
    for name in ("pipe0-master_plan.json", "mini-demo_execution_plan.json"):
        assert name in plans
        with pytest.raises(SpecError) as info:
            load_files([require_corpus() / name], env={})
        assert [(p.path, p.message) for p in info.value.problems] == [
            ("steps", "required key is missing")
        ]


PROSE_WITHOUT_A_CAPITAL = {
    "router.config.yaml validates against YAML syntax",
    "diff_hash is consistent across runs",
    "scripts/submit_task.py successfully submits task to queue",
    "scripts/task_status.py displays correct task status",
    "scripts/workstream_metrics.py generates metrics dashboard",
}


def test_acceptance_entries_of_the_real_bundles_are_split_by_the_documented_rule() -> None:
    """Sentences (36 of the real bundles' entries) go to the prompt; the rest is run."""
    require_corpus()
    entries: list[str] = []
    for entry in manifest():
        data, error = read_json(entry)
        if error is None and entry.kind.startswith("bundle"):
            for item in data if isinstance(data, list) else [data]:
                tests = item.get("acceptance_tests", []) if isinstance(item, dict) else []
                entries.extend(tests if isinstance(tests, list) else [])
    prose = {text for text in entries if not is_command(text)}
    expected = {text for text in entries if text[0].isupper()} | PROSE_WITHOUT_A_CAPITAL
    assert prose == expected
    assert sum(1 for text in entries if not is_command(text)) == 36
    commands = [text for text in entries if is_command(text)]
    assert all(
        text.split()[0] in {"pytest", "python", "ls", "grep", "rg", "pwsh", "test", "markdownlint"}
        for text in commands
    )
