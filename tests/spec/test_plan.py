"""Several files, one plan: task keys, workstream dependencies as edges, one ordered DAG."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.spec.helpers import write
from uet.spec import Plan, load_files


def keys(plan: Plan) -> list[str]:
    return [task.key for task in plan.tasks]


def deps_of(plan: Plan) -> dict[str, tuple[str, ...]]:
    return {task.key: task.depends_on for task in plan.tasks}


def test_files_of_every_format_form_one_dag(tmp_path: Path) -> None:
    """A bundle, a plan and a native workstream chained through workstream depends_on."""
    bundle = write(
        tmp_path,
        "bundle.json",
        json.dumps(
            {
                "id": "ws-code",
                "tasks": ["Write it"],
                "files_scope": ["src/"],
                "acceptance_tests": ["pytest"],
            }
        ),
    )
    native = write(
        tmp_path,
        "release.yaml",
        """
        id: release
        depends_on: [ws-code, checks]
        tasks:
          - {id: tag, run: git tag v1}
          - {id: publish, run: twine upload, depends_on: [tag]}
        """,
    )
    plan_file = write(
        tmp_path,
        "checks.json",
        json.dumps({"plan_id": "checks", "steps": [{"id": "lint", "command": "ruff"}]}),
    )
    plan = load_files([native, bundle, plan_file], env={})
    assert [ws.id for ws in plan.workstreams] == ["release", "ws-code", "checks"]
    assert plan.sources == {"release": native, "ws-code": bundle, "checks": plan_file}
    assert deps_of(plan)["release/tag"] == ("ws-code/implement", "checks/lint")
    assert deps_of(plan)["release/publish"] == ("release/tag",)
    assert keys(plan) == [
        "checks/lint",
        "ws-code/implement",
        "release/tag",
        "release/publish",
    ]


def test_a_workstream_waits_for_all_sinks_of_the_one_it_depends_on(tmp_path: Path) -> None:
    """B's tasks without dependencies inside B depend on every task of A that nothing in A
    depends on; B's other tasks keep their own dependencies only."""
    path = write(
        tmp_path,
        "ab.yaml",
        """
        - id: a
          tasks:
            - {id: root, run: x}
            - {id: left, run: x, depends_on: [root]}
            - {id: right, run: x, depends_on: [root]}
        - id: b
          depends_on: [a, a]
          tasks:
            - {id: one, run: x}
            - {id: two, run: x}
            - {id: after, run: x, depends_on: [one, two]}
        """,
    )
    deps = deps_of(load_files([path], env={}))
    assert deps["b/one"] == ("a/left", "a/right")
    assert deps["b/two"] == ("a/left", "a/right")
    assert deps["b/after"] == ("b/one", "b/two")
    assert deps["a/root"] == ()


def test_workstream_dependencies_are_transitive_through_the_dag(tmp_path: Path) -> None:
    files = [
        write(tmp_path, f"{name}.yaml", f"id: {name}\n{dep}tasks: [{{id: t, run: x}}]")
        for name, dep in (("c", "depends_on: [b]\n"), ("b", "depends_on: [a]\n"), ("a", ""))
    ]
    plan = load_files(files, env={})
    assert keys(plan) == ["a/t", "b/t", "c/t"]
    assert deps_of(plan) == {"a/t": (), "b/t": ("a/t",), "c/t": ("b/t",)}


def test_ties_are_broken_by_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "w.yaml",
        """
        id: w
        tasks:
          - {id: zeta, run: x}
          - {id: alpha, run: x, depends_on: [zeta]}
          - {id: mid, run: x}
          - {id: beta, run: x}
        """,
    )
    assert keys(load_files([path], env={})) == ["w/beta", "w/mid", "w/zeta", "w/alpha"]


def test_a_single_path_is_a_list_of_one(tmp_path: Path) -> None:
    path = write(tmp_path, "w.yaml", "id: w\ntasks: [{id: a, run: x}]")
    assert keys(load_files(path, env={})) == keys(load_files(str(path), env={})) == ["w/a"]


def test_no_files_is_an_empty_plan() -> None:
    plan = load_files([], env={})
    assert (plan.workstreams, plan.tasks, dict(plan.sources)) == ((), (), {})


def test_a_hundred_thousand_tasks_load_and_order(tmp_path: Path) -> None:
    """One workstream: a chain of 99,999 tasks and one task that depends on all of them."""
    n = 100_000
    tasks: list[dict[str, object]] = [
        {"id": f"t{i:06d}", "run": "true", "depends_on": [f"t{i - 1:06d}"] if i else []}
        for i in range(n - 1)
    ]
    tasks.append({"id": "join", "run": "true", "depends_on": [task["id"] for task in tasks]})
    path = write(tmp_path, "big.json", json.dumps({"id": "big", "tasks": tasks}))
    started = time.perf_counter()
    plan = load_files([path], env={})
    elapsed = time.perf_counter() - started
    print(f"\n100,000-task plan loaded and ordered in {elapsed:.2f} s")  # shown with -s
    assert len(plan.tasks) == n
    assert plan.tasks[0].key == "big/t000000"
    assert plan.tasks[-2].key == f"big/t{n - 2:06d}"
    assert plan.tasks[-1].key == "big/join"
    assert len(plan.tasks[-1].depends_on) == n - 1
