"""Scheduling constraints carried over from the originals' bundles: ``conflict_group`` (no
two tasks of one group at once) and ``parallel_ok: false`` (a task that runs alone)."""

from __future__ import annotations

from dataclasses import replace

from uet.engine.scheduler import Scheduler
from uet.spec.models import OnFailure, PlannedTask, TaskSpec


def planned(key: str, group: str | None = None, parallel_ok: bool = True) -> PlannedTask:
    spec = TaskSpec(id=key, run="true", conflict_group=group, parallel_ok=parallel_ok)
    return PlannedTask(
        key=f"w/{key}",
        workstream_id="w",
        id=key,
        spec=spec,
        depends_on=(),
        timeout=None,
        retries=0,
        retry_delay=0.0,
        on_failure=OnFailure.SKIP_DEPENDENTS,
        env={},
        cwd=None,
    )


def taken(scheduler: Scheduler) -> list[str]:
    return [task.id for task in scheduler.take()]


def test_two_tasks_of_one_conflict_group_never_run_at_once() -> None:
    scheduler = Scheduler(
        [planned("a", "db"), planned("b", "db"), planned("c", "ui"), planned("d")],
        concurrency=8,
    )
    assert taken(scheduler) == ["a", "c", "d"]  # b waits for a: same group
    scheduler.succeed("w/c")
    assert taken(scheduler) == []  # c's end frees nothing for b
    scheduler.succeed("w/a")
    assert taken(scheduler) == ["b"]
    scheduler.succeed("w/b")
    scheduler.succeed("w/d")
    assert scheduler.finished


def test_a_failed_task_frees_its_group_too() -> None:
    scheduler = Scheduler([planned("a", "db"), planned("b", "db")], concurrency=8)
    assert taken(scheduler) == ["a"]
    scheduler.fail("w/a")
    assert taken(scheduler) == ["b"]


def test_a_task_that_is_not_parallel_ok_runs_alone() -> None:
    """Once it is ready nothing new starts; it starts when the running ones ended, and the
    others start after it ended."""
    tasks = [planned("a"), planned("b", parallel_ok=False), planned("c"), planned("d")]
    scheduler = Scheduler(tasks, concurrency=8)
    assert taken(scheduler) == ["a"]  # b is next in key order: it waits for a, c and d wait
    assert taken(scheduler) == []
    scheduler.succeed("w/a")
    assert taken(scheduler) == ["b"]
    assert taken(scheduler) == []  # nothing beside b
    scheduler.succeed("w/b")
    assert taken(scheduler) == ["c", "d"]
    assert not scheduler.finished


def test_without_hints_the_scheduler_is_unchanged() -> None:
    tasks = [planned(name) for name in "abc"]
    assert taken(Scheduler(tasks, concurrency=8)) == ["a", "b", "c"]
    grouped = [replace(task, spec=task.spec.model_copy()) for task in tasks]
    assert taken(Scheduler(grouped, concurrency=2)) == ["a", "b"]
