"""The originals' bundles, faithfully: every schema field, one gated tool task, scope
required, dependencies found beside the file, overlapping scopes serialised."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.spec.helpers import problems_of, triples, write
from uet.spec import FixLoop, is_command, load_file, load_files


def bundle(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": "ws-x", "tasks": ["Do it"], "files_scope": ["src/x.py"]}
    data.update(fields)
    return data


def save(folder: Path, name: str, data: object) -> Path:
    return write(folder, name, json.dumps(data))


def test_every_field_of_the_originals_schema_and_doc_ids_are_accepted(tmp_path: Path) -> None:
    data = bundle(
        doc_id="DOC-WS-X-001",
        file_id="FILE-42",
        openspec_change="OS-1",
        ccpm_issue="GH-7",
        gate=2,
        files_create=["src/new.py"],
        tool="aider",
        capability="refactoring",
        capability_payload={"prompt": "Context first", "timeout_ms": 60000, "extra": 1},
        circuit_breaker={"max_attempts": 3, "max_error_repeats": 0, "oscillation_threshold": 2},
        metadata={"owner": "me"},
        parallel_ok=False,
        conflict_group="db",
        kind="refactor",
        priority="background",
        estimated_context_tokens=1200,
        max_cost_usd=2.5,
        compensation_actions=["git revert HEAD"],
        test_gates=[{"type": "GATE_UNIT", "required": True}],
    )
    (ws,) = load_file(save(tmp_path, "b.json", data), env={})
    (task,) = ws.tasks
    assert (task.kind, task.tool, task.conflict_group, task.parallel_ok) == (
        "refactor",
        "aider",
        "db",
        False,
    )
    assert task.prompt == "Context first\n1. Do it"
    assert task.files_scope == ["src/x.py", "src/new.py"]
    assert task.fix_loop == FixLoop(max_attempts=3, oscillation_threshold=2)  # 0: no limit
    assert ws.metadata["priority"] == "background"
    assert ws.metadata["max_cost_usd"] == 2.5
    assert ws.metadata["doc_id"] == "DOC-WS-X-001"
    assert ws.metadata["test_gates"] == [{"type": "GATE_UNIT", "required": True}]
    assert ws.metadata["capability_payload"]["extra"] == 1


def test_an_empty_task_list_is_a_bundle_too(tmp_path: Path) -> None:
    """``tasks: []`` (allowed by the schema): the bundle is still detected and loads."""
    (ws,) = load_file(save(tmp_path, "b.json", bundle(tasks=[])), env={})
    assert (ws.tasks[0].id, ws.tasks[0].prompt) == ("implement", None)


def test_schema_bounds_are_checked_with_the_key_named(tmp_path: Path) -> None:
    data = bundle(kind="other", gate=0, circuit_breaker={"max_attempts": 0})
    problems = problems_of(load_file, save(tmp_path, "b.json", data), env={})
    assert sorted(path for _, path, _ in triples(problems)) == [
        "circuit_breaker.max_attempts",
        "gate",
        "kind",
    ]


def test_acceptance_commands_gate_the_task_and_prose_goes_to_the_prompt(tmp_path: Path) -> None:
    tests = ["pytest -q tests/test_io.py", "All tests pass", "ls src/", "Events queryable"]
    (ws,) = load_file(save(tmp_path, "b.json", bundle(acceptance_tests=tests)), env={})
    (task,) = ws.tasks
    assert task.acceptance == ["pytest -q tests/test_io.py", "ls src/"]
    assert task.acceptance_instructions == ["All tests pass", "Events queryable"]


@pytest.mark.parametrize(
    ("entry", "command"),
    [
        ("pytest -q tests/x.py", True),
        ("python -m pytest tests/ -v", True),
        ("./scripts/check.sh", True),
        ("scripts/check.sh --fast", True),
        ("grep -r 'x' . | wc -l", True),
        ("make test lint build", True),
        ("no-such-tool --check src/", True),  # shell-like: run it, and say it is missing
        ("All tests pass", False),
        ("Verify the docs build", False),
        ("diff_hash is consistent across runs", False),
        ("scripts/status.py displays correct task status", False),
        ("it doesn't crash", False),
        ("", False),
    ],
)
def test_the_command_or_prose_rule(entry: str, command: bool) -> None:
    assert is_command(entry) is command


def test_a_dependency_in_another_file_of_the_folder_is_loaded_with_a_warning(
    tmp_path: Path,
) -> None:
    save(tmp_path, "a.json", bundle(id="ws-a", files_scope=["a.py"]))
    save(tmp_path, "unrelated.json", bundle(id="ws-z", files_scope=["z.py"]))
    write(tmp_path, "broken.json", "{not json")
    given = save(tmp_path, "b.json", bundle(id="ws-b", files_scope=["b.py"], depends_on=["ws-a"]))
    plan = load_files([given], env={})
    assert [ws.id for ws in plan.workstreams] == ["ws-b", "ws-a"]
    (warning,) = plan.warnings
    assert Path(warning.file).name == "a.json"
    assert warning.message == "loaded because ws-b depends on ws-a (a bundle of the same folder)"


def test_a_dependency_found_nowhere_names_the_folder(tmp_path: Path) -> None:
    given = save(tmp_path, "b.json", bundle(id="ws-b", depends_on=["ws-gone"]))
    (problem,) = problems_of(load_files, [given], env={})
    assert problem.path == "depends_on[0]"
    assert problem.message == (
        f"unknown workstream 'ws-gone' (no bundle file in {tmp_path}/ defines it: "
        "give the file that does)"
    )


def test_bundles_sharing_a_file_and_not_ordered_run_one_after_the_other(tmp_path: Path) -> None:
    """The originals' CLI refused them; uet puts them in one conflict group and warns."""
    a = save(tmp_path, "a.json", bundle(id="ws-a", files_scope=["src\\shared.py", "a.py"]))
    b = save(tmp_path, "b.json", bundle(id="ws-b", files_scope=["src/shared.py/"]))
    c = save(tmp_path, "c.json", bundle(id="ws-c", files_scope=["a.py"], depends_on=["ws-a"]))
    plan = load_files([a, b, c], env={})
    groups = {ws.id: ws.tasks[0].conflict_group for ws in plan.workstreams}
    assert groups == {"ws-a": "files-scope:ws-a", "ws-b": "files-scope:ws-a", "ws-c": None}
    (warning,) = plan.warnings  # ws-c shares a.py with ws-a but runs after it
    assert (Path(warning.file).name, warning.path) == ("b.json", "files_scope")
    assert "'src/shared.py' is also in the files_scope of ws-a" in warning.message


def test_an_own_conflict_group_is_kept_and_two_different_ones_are_an_error(
    tmp_path: Path,
) -> None:
    a = save(tmp_path, "a.json", bundle(id="ws-a", conflict_group="db"))
    b = save(tmp_path, "b.json", bundle(id="ws-b"))
    plan = load_files([a, b], env={})
    assert {ws.tasks[0].conflict_group for ws in plan.workstreams} == {"db"}
    c = save(tmp_path, "c.json", bundle(id="ws-c", conflict_group="ui"))
    (problem,) = problems_of(load_files, [a, c], env={})
    assert problem.path == "files_scope"
    assert "conflict groups db, ui" in problem.message


def test_files_create_alone_is_not_an_overlap(tmp_path: Path) -> None:
    a = save(tmp_path, "a.json", bundle(id="ws-a", files_create=["new.py"]))
    b = save(tmp_path, "b.json", bundle(id="ws-b", files_scope=["b.py"], files_create=["new.py"]))
    assert load_files([a, b], env={}).warnings == ()
