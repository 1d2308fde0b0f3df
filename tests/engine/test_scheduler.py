"""The scheduler on its own: readiness, limits, failure policies, retries, restore.

Every test builds :class:`PlannedTask` objects directly (the scheduler needs nothing else) and
drives :class:`Scheduler` through ``take()`` and the outcome methods, as the run loop does.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uet.engine.scheduler import Scheduler
from uet.spec.models import OnFailure, PlannedTask, TaskSpec
from uet.states import TaskStatus

SKIP = OnFailure.SKIP_DEPENDENTS
CONTINUE = OnFailure.CONTINUE
ABORT = OnFailure.ABORT

_SPEC = TaskSpec(id="t", run="true")  # the scheduler never reads the spec: one for all


def planned(key: str, depends_on: Iterable[str] = (), on_failure: OnFailure = SKIP) -> PlannedTask:
    """A task ``<workstream>/<id>`` (workstream ``w`` when the key has no slash)."""
    workstream, _, task_id = key.rpartition("/")
    return PlannedTask(
        key=key,
        workstream_id=workstream or "w",
        id=task_id,
        spec=_SPEC,
        depends_on=tuple(depends_on),
        timeout=None,
        retries=0,
        retry_delay=0.0,
        on_failure=on_failure,
        env={},
        cwd=None,
    )


def status_of(scheduler: Scheduler, key: str) -> TaskStatus:
    """A task's status (a call, so that type checkers do not narrow it across steps)."""
    return scheduler.status[key]


def finished(scheduler: Scheduler) -> bool:
    return scheduler.finished


def keys(tasks: Iterable[PlannedTask]) -> list[str]:
    return [task.key for task in tasks]


def drain(scheduler: Scheduler) -> list[str]:
    """Run everything to the end, one task at a time, all succeeding; the dispatch order."""
    order: list[str] = []
    while not scheduler.finished:
        taken = scheduler.take(limit=1)
        assert taken, "nothing runnable although the scheduler is not finished"
        order.append(taken[0].key)
        scheduler.succeed(taken[0].key)
    return order


# -- ordering -------------------------------------------------------------------------------


def test_ready_tasks_are_dispatched_smallest_key_first_whatever_the_input_order() -> None:
    """Ties between ready tasks are broken by key, not by the order tasks were given."""
    tasks = [planned(k) for k in ("w/c", "w/a", "v/z", "w/b")]
    scheduler = Scheduler(tasks, concurrency=10)
    assert keys(scheduler.take()) == ["v/z", "w/a", "w/b", "w/c"]


def test_take_respects_its_limit_argument_and_keeps_the_rest_ready() -> None:
    """``take(limit=n)`` starts at most n tasks; the others stay ready for the next call."""
    scheduler = Scheduler([planned(f"w/{c}") for c in "abcd"], concurrency=10)
    assert keys(scheduler.take(limit=1)) == ["w/a"]
    assert keys(scheduler.take(limit=2)) == ["w/b", "w/c"]
    assert status_of(scheduler, "w/d") is TaskStatus.READY


def test_a_task_becomes_ready_only_when_all_its_dependencies_succeeded() -> None:
    """succeed() returns exactly the dependents whose last dependency just finished."""
    tasks = [planned("w/a"), planned("w/b"), planned("w/c", ["w/a", "w/b"])]
    scheduler = Scheduler(tasks, concurrency=4)
    assert keys(scheduler.take()) == ["w/a", "w/b"]
    assert scheduler.succeed("w/a") == []
    assert status_of(scheduler, "w/c") is TaskStatus.PENDING
    assert scheduler.take() == []
    assert scheduler.succeed("w/b") == ["w/c"]
    assert keys(scheduler.take()) == ["w/c"]


def test_newly_ready_tasks_join_the_key_order_with_the_already_ready() -> None:
    """A task made ready later but with a smaller key goes before older ready tasks."""
    tasks = [planned("w/b"), planned("w/z"), planned("w/a", ["w/b"])]
    scheduler = Scheduler(tasks, concurrency=1)
    assert keys(scheduler.take()) == ["w/b"]
    scheduler.succeed("w/b")
    assert keys(scheduler.take()) == ["w/a"]  # "a" < "z" although "z" waited longer


def test_a_diamond_finishes_and_counts_every_task() -> None:
    """A run with no failure ends with every task succeeded and ``finished`` true."""
    tasks = [
        planned("w/a"),
        planned("w/b", ["w/a"]),
        planned("w/c", ["w/a"]),
        planned("w/d", ["w/b", "w/c"]),
    ]
    scheduler = Scheduler(tasks, concurrency=2)
    assert drain(scheduler) == ["w/a", "w/b", "w/c", "w/d"]
    assert scheduler.finished
    assert scheduler.counts() == {TaskStatus.SUCCEEDED: 4}


def test_concurrency_below_one_is_refused() -> None:
    """A scheduler that could never start anything is a programming error, said at once."""
    with pytest.raises(ValueError, match="at least 1"):
        Scheduler([planned("w/a")], concurrency=0)


# -- limits ---------------------------------------------------------------------------------


def test_the_global_limit_caps_running_tasks() -> None:
    """Never more than ``concurrency`` running; a finished task frees exactly one slot."""
    scheduler = Scheduler([planned(f"w/t{i}") for i in range(5)], concurrency=2)
    assert keys(scheduler.take()) == ["w/t0", "w/t1"]
    assert scheduler.take() == []
    assert scheduler.running == 2
    scheduler.succeed("w/t0")
    assert keys(scheduler.take()) == ["w/t2"]
    assert scheduler.running == 2


def test_a_full_workstream_does_not_block_other_workstreams() -> None:
    """Tasks of a workstream at its limit are held aside; other workstreams' tasks start."""
    tasks = [planned(f"a/t{i}") for i in range(3)] + [planned(f"b/t{i}") for i in range(2)]
    scheduler = Scheduler(tasks, concurrency=10, workstream_limits={"a": 1})
    assert keys(scheduler.take()) == ["a/t0", "b/t0", "b/t1"]
    assert status_of(scheduler, "a/t1") is TaskStatus.READY  # held, still ready
    assert scheduler.take() == []


def test_held_tasks_are_released_in_key_order_when_their_workstream_frees_a_slot() -> None:
    """Finishing a task of a full workstream lets its held tasks compete again."""
    tasks = [planned(f"a/t{i}") for i in range(3)] + [planned("b/x")]
    scheduler = Scheduler(tasks, concurrency=10, workstream_limits={"a": 1})
    assert keys(scheduler.take()) == ["a/t0", "b/x"]
    scheduler.succeed("b/x")  # another workstream's slot: releases nothing of "a"
    assert scheduler.take() == []
    scheduler.succeed("a/t0")
    assert keys(scheduler.take()) == ["a/t1"]
    scheduler.fail("a/t1")  # a failure frees the slot too
    assert keys(scheduler.take()) == ["a/t2"]
    scheduler.succeed("a/t2")
    assert scheduler.finished


def test_a_retry_waiting_for_its_delay_frees_its_workstream_slot() -> None:
    """retry_later() releases the slot (and held tasks); requeue() makes it ready again."""
    tasks = [planned("a/t0"), planned("a/t1")]
    scheduler = Scheduler(tasks, concurrency=10, workstream_limits={"a": 1})
    assert keys(scheduler.take()) == ["a/t0"]
    scheduler.retry_later("a/t0")
    assert status_of(scheduler, "a/t0") is TaskStatus.PENDING
    assert keys(scheduler.take()) == ["a/t1"]
    scheduler.requeue("a/t0")
    assert status_of(scheduler, "a/t0") is TaskStatus.READY
    assert scheduler.take() == []  # workstream full again, a/t0 waits
    scheduler.succeed("a/t1")
    assert keys(scheduler.take()) == ["a/t0"]
    scheduler.succeed("a/t0")
    assert scheduler.finished


def test_a_retrying_task_keeps_its_dependents_waiting() -> None:
    """A task between attempts is not done: its dependents stay pending, the run unfinished."""
    scheduler = Scheduler([planned("w/a"), planned("w/b", ["w/a"])], concurrency=2)
    scheduler.take()
    scheduler.retry_later("w/a")
    assert scheduler.running == 0
    assert scheduler.take() == []
    assert status_of(scheduler, "w/b") is TaskStatus.PENDING
    scheduler.requeue("w/a")
    assert keys(scheduler.take()) == ["w/a"]
    assert scheduler.succeed("w/a") == ["w/b"]


# -- failure policies -----------------------------------------------------------------------


def test_continue_lets_dependents_run_as_if_the_failure_were_a_success() -> None:
    """on_failure: continue satisfies the dependents; the failed task stays failed."""
    tasks = [planned("w/a", on_failure=CONTINUE), planned("w/b", ["w/a"])]
    scheduler = Scheduler(tasks, concurrency=2)
    scheduler.take()
    assert scheduler.fail("w/a") == (["w/b"], [])
    assert keys(scheduler.take()) == ["w/b"]
    scheduler.succeed("w/b")
    assert scheduler.finished
    assert scheduler.counts() == {TaskStatus.FAILED: 1, TaskStatus.SUCCEEDED: 1}


def test_skip_dependents_skips_every_transitive_dependent_and_nothing_else() -> None:
    """Dependents of dependents are skipped too; independent tasks still run."""
    tasks = [
        planned("w/a"),
        planned("w/b", ["w/a"]),
        planned("w/c", ["w/b"]),
        planned("w/d", ["w/a", "w/x"]),
        planned("w/x"),
        planned("w/y", ["w/x"]),
    ]
    scheduler = Scheduler(tasks, concurrency=1)
    assert keys(scheduler.take()) == ["w/a"]
    assert scheduler.fail("w/a") == ([], ["w/b", "w/c", "w/d"])
    assert drain(scheduler) == ["w/x", "w/y"]
    assert status_of(scheduler, "w/d") is TaskStatus.SKIPPED  # x succeeded: d stays skipped
    assert scheduler.counts() == {
        TaskStatus.FAILED: 1,
        TaskStatus.SKIPPED: 3,
        TaskStatus.SUCCEEDED: 2,
    }


def test_a_skipped_task_reached_twice_is_skipped_once() -> None:
    """Two failing dependencies skip a shared dependent once; the second returns nothing."""
    tasks = [planned("w/a"), planned("w/b"), planned("w/c", ["w/a", "w/b"])]
    scheduler = Scheduler(tasks, concurrency=2)
    scheduler.take()
    assert scheduler.fail("w/a") == ([], ["w/c"])
    assert scheduler.fail("w/b") == ([], [])
    assert scheduler.finished


def test_abort_stops_dispatching_and_cancel_pending_cancels_the_rest() -> None:
    """on_failure: abort stops take(); cancel_pending() cancels what was pending or ready."""
    tasks = [
        planned("w/a", on_failure=ABORT),
        planned("w/b"),
        planned("w/c"),
        planned("w/d", ["w/a"]),
    ]
    scheduler = Scheduler(tasks, concurrency=2)
    assert keys(scheduler.take()) == ["w/a", "w/b"]
    assert scheduler.fail("w/a") == ([], [])
    assert scheduler.aborted
    assert scheduler.take() == []
    assert not finished(scheduler)  # b still runs
    assert sorted(scheduler.cancel_pending()) == ["w/c", "w/d"]
    scheduler.succeed("w/b")  # what ran when the abort came still reports its end
    assert finished(scheduler)
    assert scheduler.status == {
        "w/a": TaskStatus.FAILED,
        "w/b": TaskStatus.SUCCEEDED,
        "w/c": TaskStatus.CANCELED,
        "w/d": TaskStatus.CANCELED,
    }


def test_a_canceled_running_task_frees_its_slot_and_satisfies_no_one() -> None:
    """cancel(key): the task is done as canceled, its workstream slot is free, and its
    dependents neither become ready nor are skipped (cancel_pending settles them)."""
    tasks = [
        planned("a/t0", on_failure=CONTINUE),
        planned("a/t1"),
        planned("a/t2", ["a/t0"]),
    ]
    scheduler = Scheduler(tasks, concurrency=10, workstream_limits={"a": 1})
    assert keys(scheduler.take()) == ["a/t0"]
    scheduler.cancel("a/t0")
    assert status_of(scheduler, "a/t0") is TaskStatus.CANCELED
    assert status_of(scheduler, "a/t2") is TaskStatus.PENDING
    assert keys(scheduler.take()) == ["a/t1"]  # the slot was freed


def test_cancel_pending_also_cancels_held_and_retry_waiting_tasks() -> None:
    """A task held by its workstream limit or waiting for a retry is canceled by an abort."""
    tasks = [planned("a/t0"), planned("a/t1"), planned("b/t0")]
    scheduler = Scheduler(tasks, concurrency=10, workstream_limits={"a": 1})
    assert keys(scheduler.take()) == ["a/t0", "b/t0"]
    scheduler.retry_later("b/t0")
    assert sorted(scheduler.cancel_pending()) == ["a/t1", "b/t0"]
    scheduler.succeed("a/t0")  # releasing the slot must not revive the canceled a/t1
    assert scheduler.take() == []
    assert scheduler.finished
    assert status_of(scheduler, "a/t1") is TaskStatus.CANCELED


# -- restore --------------------------------------------------------------------------------


def _chain_with_branches() -> list[PlannedTask]:
    return [
        planned("w/a"),
        planned("w/b", ["w/a"]),
        planned("w/c", ["w/b"]),
        planned("w/f", on_failure=SKIP),
        planned("w/g", ["w/f"]),
        planned("w/h", ["w/g"]),
        planned("w/k", on_failure=CONTINUE),
        planned("w/m", ["w/k"]),
        planned("w/z"),
    ]


def test_restore_replays_finished_statuses_and_leaves_the_rest_runnable() -> None:
    """After restore, finished tasks keep their status, their dependents are ready, and
    only unfinished tasks are dispatched."""
    scheduler = Scheduler(_chain_with_branches(), concurrency=10)
    scheduler.restore(
        {"w/a": TaskStatus.SUCCEEDED, "w/f": TaskStatus.FAILED, "w/k": TaskStatus.FAILED}
    )
    assert status_of(scheduler, "w/a") is TaskStatus.SUCCEEDED
    assert status_of(scheduler, "w/f") is TaskStatus.FAILED
    assert status_of(scheduler, "w/g") is TaskStatus.SKIPPED  # propagated from f's failure
    assert status_of(scheduler, "w/h") is TaskStatus.SKIPPED  # transitively
    assert scheduler.running == 0
    assert keys(scheduler.take()) == ["w/b", "w/m", "w/z"]  # m: k failed with continue
    assert drain_after(scheduler, ["w/b", "w/m", "w/z"]) == ["w/c"]
    assert scheduler.finished


def drain_after(scheduler: Scheduler, running: Sequence[str]) -> list[str]:
    for key in running:
        scheduler.succeed(key)
    return drain(scheduler)


def test_restore_of_recorded_skips_and_cancels_marks_them_done() -> None:
    """Skipped and canceled tasks are done after restore: never dispatched, not counted as
    satisfying their dependents."""
    tasks = [planned("w/a"), planned("w/b", ["w/a"]), planned("w/c"), planned("w/d", ["w/c"])]
    scheduler = Scheduler(tasks, concurrency=10)
    scheduler.restore(
        {
            "w/a": TaskStatus.FAILED,
            "w/b": TaskStatus.SKIPPED,
            "w/c": TaskStatus.CANCELED,
        }
    )
    assert status_of(scheduler, "w/b") is TaskStatus.SKIPPED
    assert status_of(scheduler, "w/c") is TaskStatus.CANCELED
    assert status_of(scheduler, "w/d") is TaskStatus.PENDING  # c never satisfied it
    assert scheduler.take() == []
    assert scheduler.running == 0


def test_restore_of_everything_leaves_a_finished_scheduler() -> None:
    """A run whose every task was recorded done has nothing left to dispatch."""
    tasks = _chain_with_branches()
    statuses = dict.fromkeys((t.key for t in tasks), TaskStatus.SUCCEEDED)
    scheduler = Scheduler(tasks, concurrency=3)
    scheduler.restore(statuses)
    assert scheduler.finished
    assert scheduler.take() == []
    assert scheduler.counts() == {TaskStatus.SUCCEEDED: len(tasks)}


def test_restore_frees_every_slot_it_used_to_replay() -> None:
    """Replaying through succeed()/fail() must not leave workstream slots occupied."""
    tasks = [planned("a/t0"), planned("a/t1"), planned("a/t2", ["a/t0"])]
    scheduler = Scheduler(tasks, concurrency=1, workstream_limits={"a": 1})
    scheduler.restore({"a/t0": TaskStatus.SUCCEEDED})
    assert keys(scheduler.take()) == ["a/t1"]
    scheduler.succeed("a/t1")
    assert keys(scheduler.take()) == ["a/t2"]


# -- cost -----------------------------------------------------------------------------------


@pytest.mark.timeout(120)  # a hang guard, not a measurement: quadratic work takes hours
@pytest.mark.parametrize(
    "workstream_limit", [None, 3], ids=["global-limit-only", "workstream-limit-below-global"]
)
def test_a_100k_fan_out_fan_in_completes_touching_only_dependents(
    workstream_limit: int | None,
) -> None:
    """root → 99,998 middles → sink. Each completion decrements its dependents' counters
    only, and a freed workstream slot lets one held task compete again, not every held
    task: a scan of all tasks per completion (10^10 steps) would never finish here."""
    width = 99_998
    middles = [f"w/m{i:06d}" for i in range(width)]
    tasks = [planned("w/a-root")]
    tasks += [planned(key, ["w/a-root"]) for key in middles]
    tasks.append(planned("w/z-sink", middles))
    limits = {} if workstream_limit is None else {"w": workstream_limit}
    scheduler = Scheduler(tasks, concurrency=8, workstream_limits=limits)
    dispatched: list[str] = []
    while not scheduler.finished:
        taken = scheduler.take()
        assert taken
        assert len(taken) <= (workstream_limit or 8)
        for task in taken:
            dispatched.append(task.key)
            scheduler.succeed(task.key)
    assert dispatched == ["w/a-root", *middles, "w/z-sink"]  # key order throughout
    assert status_of(scheduler, "w/z-sink") is TaskStatus.SUCCEEDED


# -- properties -----------------------------------------------------------------------------

Outcome = tuple[int, bool]  # (failed attempts before the last, last attempt succeeds)


@dataclass(frozen=True)
class Case:
    """A random DAG (dependencies only on lower-numbered nodes) and how its tasks end."""

    tasks: tuple[PlannedTask, ...]
    outcomes: Mapping[str, Outcome]
    concurrency: int
    limits: Mapping[str, int]
    seed: int  # which running task finishes next, which retry is requeued when

    @property
    def by_key(self) -> dict[str, PlannedTask]:
        return {task.key: task for task in self.tasks}


@st.composite
def cases(draw: st.DrawFn, max_tasks: int = 24) -> Case:
    n = draw(st.integers(1, max_tasks))
    workstreams = ["ws-a", "ws-b", "ws-c"]
    tasks: list[PlannedTask] = []
    outcomes: dict[str, Outcome] = {}
    for i in range(n):
        deps = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        ws = draw(st.sampled_from(workstreams))
        key = f"{ws}/t{i:02d}"
        policy = draw(st.sampled_from([SKIP, SKIP, CONTINUE, CONTINUE, ABORT]))
        tasks.append(planned(key, [tasks[d].key for d in sorted(deps)], policy))
        outcomes[key] = (draw(st.integers(0, 2)), draw(st.booleans()))
    limits = draw(st.dictionaries(st.sampled_from(workstreams), st.integers(1, 3), max_size=3))
    return Case(tuple(tasks), outcomes, draw(st.integers(1, 4)), limits, draw(st.integers()))


@dataclass
class Trace:
    """What one simulated run did, from the outside."""

    dispatched: list[str] = field(default_factory=list)
    ended: dict[str, list[TaskStatus]] = field(default_factory=dict)  # every terminal report
    aborted: bool = False

    def end(self, key: str, status: TaskStatus) -> None:
        self.ended.setdefault(key, []).append(status)


def simulate(case: Case, order: Sequence[PlannedTask] | None = None) -> tuple[Trace, Scheduler]:
    """Drive a scheduler as the run loop does, checking the invariants at every step."""
    by_key = case.by_key
    scheduler = Scheduler(
        list(order or case.tasks), concurrency=case.concurrency, workstream_limits=case.limits
    )
    rng = random.Random(case.seed)
    trace = Trace()
    running: set[str] = set()
    waiting_retry: list[str] = []
    failures_left = {key: outcome[0] for key, outcome in case.outcomes.items()}
    for _ in range(10_000):
        for task in scheduler.take():
            _check_may_start(task, trace, by_key, running)
            running.add(task.key)
            trace.dispatched.append(task.key)
        _check_limits(case, running, by_key)
        if scheduler.finished and not waiting_retry:  # the run loop keeps retries itself
            break
        choices = sorted(running) + [f"retry:{k}" for k in sorted(waiting_retry)]
        assert choices, "not finished, but nothing runs and nothing waits for a retry"
        choice = choices[rng.randrange(len(choices))]
        if choice.startswith("retry:"):
            waiting_retry.remove(choice[6:])
            scheduler.requeue(choice[6:])
            continue
        running.discard(choice)
        if failures_left[choice] and not scheduler.aborted:
            failures_left[choice] -= 1
            scheduler.retry_later(choice)
            waiting_retry.append(choice)
        elif case.outcomes[choice][1] and not failures_left[choice]:
            trace.end(choice, TaskStatus.SUCCEEDED)
            scheduler.succeed(choice)
        else:
            _fail(scheduler, trace, choice)
            if scheduler.aborted:
                waiting_retry.clear()  # the run loop never requeues once stopping
    else:  # pragma: no cover - a livelock
        pytest.fail("the simulation did not finish")
    return trace, scheduler


def _fail(scheduler: Scheduler, trace: Trace, key: str) -> None:
    was_aborted = scheduler.aborted
    trace.end(key, TaskStatus.FAILED)
    _, skipped = scheduler.fail(key)
    for dependent in skipped:
        trace.end(dependent, TaskStatus.SKIPPED)
    if scheduler.aborted and not was_aborted:
        trace.aborted = True
        for canceled in scheduler.cancel_pending():
            trace.end(canceled, TaskStatus.CANCELED)


def _check_may_start(
    task: PlannedTask, trace: Trace, by_key: Mapping[str, PlannedTask], running: set[str]
) -> None:
    assert task.key not in running, f"{task.key} started twice at once"
    assert task.key not in trace.ended, f"{task.key} started after it ended"
    assert not trace.aborted, f"{task.key} started after an abort"
    for dep in task.depends_on:
        ends = trace.ended.get(dep)
        assert ends is not None, f"{task.key} started before its dependency {dep} ended"
        ok = ends == [TaskStatus.SUCCEEDED] or (
            ends == [TaskStatus.FAILED] and by_key[dep].on_failure is CONTINUE
        )
        assert ok, f"{task.key} started although {dep} ended {ends}"


def _check_limits(case: Case, running: set[str], by_key: Mapping[str, PlannedTask]) -> None:
    assert len(running) <= case.concurrency
    per_ws = Counter(by_key[key].workstream_id for key in running)
    for ws, count in per_ws.items():
        assert count <= case.limits.get(ws, count), f"{ws} runs {count} > its limit"


def transitive_dependents(case: Case, roots: Iterable[str]) -> set[str]:
    dependents: dict[str, list[str]] = {}
    for task in case.tasks:
        for dep in task.depends_on:
            dependents.setdefault(dep, []).append(task.key)
    found: set[str] = set()
    stack = list(roots)
    while stack:
        for dependent in dependents.get(stack.pop(), []):
            if dependent not in found:
                found.add(dependent)
                stack.append(dependent)
    return found


_PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(cases())
def test_random_dags_end_every_task_exactly_once_within_limits(case: Case) -> None:
    """Every task reports exactly one terminal status, matching the scheduler's own view
    and its counts; without an abort nothing is canceled; dependencies and limits are
    checked at each step."""
    trace, scheduler = simulate(case)
    assert set(trace.ended) == set(case.by_key)
    for key, ends in trace.ended.items():
        assert len(ends) == 1, f"{key} ended {ends}"
        assert scheduler.status[key] is ends[0]
    assert scheduler.running == 0
    if not trace.aborted:
        assert TaskStatus.CANCELED not in scheduler.counts()
    assert scheduler.counts() == dict(Counter(scheduler.status.values()))  # kept in step


@_PROPERTY
@given(cases())
def test_random_dags_skip_exactly_the_dependents_of_skip_dependents_failures(
    case: Case,
) -> None:
    """Skipped = transitive dependents of tasks that failed with skip_dependents, except
    those an abort canceled first; and every such dependent is skipped or canceled."""
    trace, scheduler = simulate(case)
    by_key = case.by_key
    failed_skip = [
        key
        for key, status in scheduler.status.items()
        if status is TaskStatus.FAILED and by_key[key].on_failure is SKIP
    ]
    reachable = transitive_dependents(case, failed_skip)
    skipped = {k for k, s in scheduler.status.items() if s is TaskStatus.SKIPPED}
    canceled = {k for k, s in scheduler.status.items() if s is TaskStatus.CANCELED}
    assert skipped == reachable - canceled
    if not trace.aborted:
        assert not canceled


@_PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_dispatch_order_is_deterministic_whatever_the_input_order(
    case: Case, shuffler: random.Random
) -> None:
    """The same DAG and the same outcomes dispatch in the same order, even when the tasks
    are handed to the scheduler in another order."""
    first, _ = simulate(case)
    again, _ = simulate(case)
    shuffled = list(case.tasks)
    shuffler.shuffle(shuffled)
    other, _ = simulate(case, order=shuffled)
    assert again.dispatched == first.dispatched
    assert other.dispatched == first.dispatched
    assert other.ended == first.ended


@_PROPERTY
@given(cases(), st.integers(0, 10_000))
def test_restore_of_any_prefix_reproduces_the_finished_state(case: Case, cut: int) -> None:
    """Restoring the statuses recorded up to any point of a run gives every recorded task
    its status, propagates skips, and leaves the others pending or ready as their
    dependencies say; the restored scheduler then runs the rest to a valid end."""
    trace, _ = simulate(case)
    ends = [(key, statuses[0]) for key, statuses in trace.ended.items()]
    recorded = dict(ends[: cut % (len(ends) + 1)])
    scheduler = Scheduler(case.tasks, concurrency=case.concurrency, workstream_limits=case.limits)
    scheduler.restore(recorded)
    by_key = case.by_key
    assert scheduler.running == 0
    for key, status in recorded.items():
        assert scheduler.status[key] is status
    for key, status in scheduler.status.items():
        if key in recorded:
            continue
        deps_ok = all(
            recorded.get(dep) is TaskStatus.SUCCEEDED
            or (recorded.get(dep) is TaskStatus.FAILED and by_key[dep].on_failure is CONTINUE)
            for dep in by_key[key].depends_on
        )
        if status is TaskStatus.SKIPPED:  # a recorded skip_dependents failure reaches it
            failed = [k for k, s in recorded.items() if s is TaskStatus.FAILED]
            assert key in transitive_dependents(case, failed)
        else:
            expected = TaskStatus.READY if deps_ok else TaskStatus.PENDING
            assert status is expected, f"{key}: {status}, expected {expected}"
    if not scheduler.aborted:
        leftovers = drain(scheduler)
        assert set(leftovers).isdisjoint(recorded)
        assert all(s.finished for s in scheduler.status.values())
