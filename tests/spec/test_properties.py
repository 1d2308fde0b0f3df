"""Property tests of the loaders: random DAGs load in a valid order, cycles are always
reported, and no document of any shape makes a loader raise anything but SpecError."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.spec.helpers import assert_valid_order, dags, with_back_edge
from uet.errors import Problem, SpecError
from uet.spec import find_cycle, format_cycle, load_file, load_files

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for all examples of a test (hypothesis reruns the body many times)."""
    return tmp_path_factory.mktemp("properties")


def workstream_file(folder: Path, deps: dict[str, list[str]]) -> Path:
    tasks = [{"id": task, "run": "true", "depends_on": needs} for task, needs in deps.items()]
    path = folder / "dag.yaml"
    path.write_text(yaml.safe_dump({"id": "ws-dag", "tasks": tasks}), encoding="utf-8")
    return path


@settings(max_examples=100, deadline=None)
@given(deps=dags())
def test_random_dags_load_into_a_valid_order(folder: Path, deps: dict[str, list[str]]) -> None:
    plan = load_files([workstream_file(folder, deps)], env={})
    order = [task.id for task in plan.tasks]
    assert_valid_order(deps, order)
    assert all(task.key == f"ws-dag/{task.id}" for task in plan.tasks)


@settings(max_examples=100, deadline=None)
@given(deps=dags(), data=st.data())
def test_a_cycle_in_a_file_is_always_reported(
    folder: Path, deps: dict[str, list[str]], data: st.DataObject
) -> None:
    cyclic = with_back_edge(data, deps)
    cycle = find_cycle(cyclic)
    assert cycle is not None
    with pytest.raises(SpecError) as info:
        load_files([workstream_file(folder, cyclic)], env={})
    assert f"dependency cycle: {format_cycle(cycle)}" in str(info.value)


WORKSTREAM_KEYS = ["name", "concurrency", "depends_on", "env", "defaults", "metadata"]
TASK_KEYS = [
    "name", "run", "argv", "tool", "depends_on", "timeout", "retries", "retry_delay",
    "on_failure", "cwd", "env", "kind", "prompt", "files_scope", "isolation", "acceptance",
]  # fmt: skip
BUNDLE_KEYS = [
    "tool", "files_scope", "files_create", "acceptance_tests", "depends_on", "gate",
    "openspec_change", "ccpm_issue", "circuit_breaker", "metadata",
]  # fmt: skip
PLAN_KEYS = ["globals", "max_concurrency", "default_timeout_sec", "default_retries", "env"]
STEP_KEYS = [
    "command", "args", "cwd", "env", "depends_on", "timeout_sec", "retries", "retry_delay_sec",
    "on_failure",
]  # fmt: skip
KEYS = sorted(
    {"id", "tasks", "plan_id", "steps"}
    | {*WORKSTREAM_KEYS, *TASK_KEYS, *BUNDLE_KEYS, *PLAN_KEYS, *STEP_KEYS}
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
STRINGS = TEXT | st.sampled_from(
    ["ws-a", "a", "b", "true", "abort", "clone", "${HOME}", "${UNSET_X}", "${U:-d}", "$${X}"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | STRINGS
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | TEXT, children, max_size=6)
    ),
    max_leaves=40,
)


def _shaped(required: dict[str, Any], optional: list[str]) -> st.SearchStrategy[Any]:
    values = DOCUMENTS | st.lists(STRINGS, max_size=3) | st.dictionaries(TEXT, STRINGS, max_size=3)
    return st.fixed_dictionaries(required, optional=dict.fromkeys(optional, values))


TASKS = st.lists(_shaped({"id": STRINGS}, TASK_KEYS), max_size=4)
STEPS = st.lists(_shaped({"id": STRINGS}, STEP_KEYS), max_size=3)
INSTRUCTIONS = st.lists(STRINGS, min_size=1, max_size=3)
SHAPED = st.one_of(
    _shaped({"id": STRINGS, "tasks": TASKS}, WORKSTREAM_KEYS),
    _shaped({"id": STRINGS, "tasks": INSTRUCTIONS}, BUNDLE_KEYS),
    _shaped({"plan_id": STRINGS, "steps": STEPS}, PLAN_KEYS),
)


def load_quietly(path: Path) -> None:
    """Load alone and as a plan; a SpecError is a fine answer, anything else fails the test."""
    for load in (load_file, lambda path, env: load_files([path, path], env=env)):
        problems = _problems_or_none(load, path)
        if problems is not None:
            assert problems
            assert all(problem.file == str(path) and problem.message for problem in problems)


def _problems_or_none(load: Callable[..., object], path: Path) -> list[Problem] | None:
    try:
        load(path, env={"HOME": "/home/u"})
    except SpecError as exc:
        return exc.problems
    return None


@FUZZ
@given(document=DOCUMENTS | SHAPED | st.lists(SHAPED, max_size=3))
def test_any_json_document_gives_models_or_spec_error(folder: Path, document: Any) -> None:
    path = folder / "fuzz.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    load_quietly(path)


@FUZZ
@given(document=DOCUMENTS | SHAPED | st.lists(SHAPED, max_size=3))
def test_any_yaml_document_gives_models_or_spec_error(folder: Path, document: Any) -> None:
    path = folder / "fuzz.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    load_quietly(path)


@FUZZ
@given(text=st.text(st.characters(exclude_categories=["Cs"])) | st.sampled_from(
    ["a: *x", "&a [*a]", "!!python/object:os.system {}", "x: !!binary '@@'", "? [a]\n: b",
     "<<: [1]", "a: !!timestamp 2020-13-45", "{" * 200, "- " * 500, "a: !!float x"]
))  # fmt: skip
def test_any_text_gives_models_or_spec_error(folder: Path, text: str) -> None:
    for name in ("fuzz.yaml", "fuzz.json"):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        load_quietly(path)
