"""The DAG at run time: which tasks may start now, kept up to date incrementally.

Each task holds a counter of unfinished dependencies; finishing a task decrements its
dependents' counters, so a completion costs O(its dependents), never a scan of every task.
Ready tasks wait in a heap ordered by task key (ties are broken by id, so the order of
dispatch is deterministic); an entry whose task is no longer ready is dropped when popped.
Concurrency is limited globally and per workstream; a ready task whose workstream is full
waits aside until a slot of that workstream frees. Two tasks of one ``conflict_group`` never
run at once (the second waits aside until the first ends); a task with ``parallel_ok: false``
(or ``interactive: true``) runs alone: once it is ready nothing new starts, and it starts when
the running ones ended.

A task moves through the scheduler as::

    waiting ──► ready ──► running ──► done (succeeded | failed | skipped | canceled)
                  ▲          │
                  └──────────┘ retry (the run loop hands it back after its delay)

``on_failure`` of the failed task decides what its dependents do: ``continue`` treats the
failure as done; ``skip_dependents`` skips every transitive dependent; ``abort`` stops all
dispatching (the run loop cancels what still runs).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from uet.memory import collector_paused
from uet.spec.planned import OnFailure, PlannedTask
from uet.states import TaskStatus


class Scheduler:
    """Ready set and concurrency bookkeeping for one run. Not thread-safe: the run loop owns it."""

    def __init__(
        self,
        tasks: Sequence[PlannedTask],
        *,
        concurrency: int,
        workstream_limits: Mapping[str, int] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        with collector_paused():
            self._build(tasks, concurrency, workstream_limits)

    def _build(
        self,
        tasks: Sequence[PlannedTask],
        concurrency: int,
        workstream_limits: Mapping[str, int] | None,
    ) -> None:
        self.tasks = {task.key: task for task in tasks}
        self._concurrency = concurrency
        self._limits = dict(workstream_limits or {})
        self._dependents: dict[str, list[str]] = defaultdict(list)
        self._waiting_on: dict[str, int] = {}
        for task in tasks:
            self._waiting_on[task.key] = len(task.depends_on)
            for dependency in task.depends_on:
                self._dependents[dependency].append(task.key)
        self.status = _Statuses(self.tasks)
        self._ready: list[str] = [key for key, count in self._waiting_on.items() if count == 0]
        heapq.heapify(self._ready)
        for key in self._ready:
            self.status[key] = TaskStatus.READY
        self._held: dict[str, list[str]] = defaultdict(list)  # heaps: ready, a limit reached
        self._running: set[str] = set()
        self._running_per_ws: dict[str, int] = defaultdict(int)
        self._running_per_group: dict[str, int] = defaultdict(int)
        self._running_alone = 0
        self.aborted = False
        self.aborted_by: str | None = None  # the task whose failure aborted the run

    # -- queries ----------------------------------------------------------------------------

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def finished(self) -> bool:
        """True when no task can run any more (all done, or aborted with nothing running)."""
        if self._running:
            return False
        while self._ready and self.status[self._ready[0]] is not TaskStatus.READY:
            heapq.heappop(self._ready)  # stale entries left by restore()
        return self.aborted or not (self._ready or any(self._held.values()))

    def counts(self) -> dict[TaskStatus, int]:
        """Tasks per status (kept as statuses change: no scan of the tasks)."""
        return {status: n for status, n in self.status.counts.items() if n}

    # -- dispatching ------------------------------------------------------------------------

    def take(self, limit: int | None = None) -> list[PlannedTask]:
        """Ready tasks that may start now, smallest key first, within every limit."""
        free = self._concurrency - len(self._running)
        if limit is not None:
            free = min(free, limit)
        taken: list[PlannedTask] = []
        alone = self._held.get(_ALONE)
        if alone and not self._running and free > 0 and not self.aborted:
            task = self.tasks[heapq.heappop(alone)]  # a task that runs alone: its turn now
            self._start(task)
            return [task]
        while free > 0 and self._ready and not self.aborted and not self._alone_pending():
            key = heapq.heappop(self._ready)
            if self.status[key] is not TaskStatus.READY:
                continue  # stale: restored as done
            task = self.tasks[key]
            wait = self._must_wait(task)
            if wait is not None:
                heapq.heappush(self._held[wait], key)
                continue
            self._start(task)
            taken.append(task)
            free -= 1
            if task.runs_alone:
                break
        return taken

    def _alone_pending(self) -> bool:
        """A task that runs alone is running or waiting: nothing else starts."""
        return self._running_alone > 0 or bool(self._held.get(_ALONE))

    def _must_wait(self, task: PlannedTask) -> str | None:
        """The limit that holds ``task`` back (its ``_held`` key), or None when it may start."""
        cap = self._limits.get(task.workstream_id)
        if cap is not None and self._running_per_ws[task.workstream_id] >= cap:
            return task.workstream_id
        group = task.spec.conflict_group
        if group is not None and self._running_per_group[group]:
            return _GROUP + group
        if task.runs_alone and self._running:
            return _ALONE
        return None

    def _start(self, task: PlannedTask) -> None:
        self._running.add(task.key)
        self._running_per_ws[task.workstream_id] += 1
        if task.spec.conflict_group is not None:
            self._running_per_group[task.spec.conflict_group] += 1
        if task.runs_alone:
            self._running_alone += 1
        self.status[task.key] = TaskStatus.RUNNING

    def _release(self, key: str) -> None:
        self._running.discard(key)
        task = self.tasks[key]
        self._running_per_ws[task.workstream_id] -= 1
        limits = [task.workstream_id]
        if task.spec.conflict_group is not None:
            self._running_per_group[task.spec.conflict_group] -= 1
            limits.append(_GROUP + task.spec.conflict_group)
        if task.runs_alone:
            self._running_alone -= 1
        for limit in limits:
            held = self._held.get(limit)
            if held:  # one slot freed: one held task (the smallest key) competes again
                heapq.heappush(self._ready, heapq.heappop(held))

    # -- outcomes ---------------------------------------------------------------------------

    def retry_later(self, key: str) -> None:
        """The task failed with retries left: free its slot until :meth:`requeue`."""
        self._release(key)
        self.status[key] = TaskStatus.PENDING

    def requeue(self, key: str) -> None:
        """A retry's delay has passed: the task is ready again."""
        self.status[key] = TaskStatus.READY
        heapq.heappush(self._ready, key)

    def succeed(self, key: str) -> list[str]:
        """Record success; returns the tasks that became ready."""
        self._release(key)
        self.status[key] = TaskStatus.SUCCEEDED
        return self._satisfy(key)

    def fail(self, key: str) -> tuple[list[str], list[str]]:
        """Record a final failure; returns (tasks now ready, tasks skipped because of it)."""
        self._release(key)
        self.status[key] = TaskStatus.FAILED
        policy = self.tasks[key].on_failure
        if policy is OnFailure.CONTINUE:
            return self._satisfy(key), []
        if policy is OnFailure.ABORT:
            self.aborted = True
            self.aborted_by = self.aborted_by or key
            return [], []
        return [], self._skip_dependents_of(key)

    def cancel(self, key: str) -> None:
        """The task's attempt was canceled: it is done, and neither satisfies nor skips its
        dependents (the run is ending: :meth:`cancel_pending` settles them)."""
        self._release(key)
        self.status[key] = TaskStatus.CANCELED

    def cancel_pending(self) -> list[str]:
        """Abort: every task not started and not done becomes canceled; returns them."""
        self.aborted = True
        canceled = [
            k for k, s in self.status.items() if s in (TaskStatus.PENDING, TaskStatus.READY)
        ]
        for key in canceled:
            self.status[key] = TaskStatus.CANCELED
        self._ready.clear()
        self._held.clear()
        return canceled

    def _satisfy(self, key: str) -> list[str]:
        ready = []
        for dependent in self._dependents.get(key, ()):
            self._waiting_on[dependent] -= 1
            if self._waiting_on[dependent] == 0 and self.status[dependent] is TaskStatus.PENDING:
                self.status[dependent] = TaskStatus.READY
                heapq.heappush(self._ready, dependent)
                ready.append(dependent)
        return ready

    def _skip_dependents_of(self, key: str) -> list[str]:
        skipped = []
        stack = list(self._dependents.get(key, ()))
        while stack:
            dependent = stack.pop()
            if self.status[dependent] in (TaskStatus.PENDING, TaskStatus.READY):
                self.status[dependent] = TaskStatus.SKIPPED
                skipped.append(dependent)
                stack.extend(self._dependents.get(dependent, ()))
        return sorted(skipped)

    # -- resuming ---------------------------------------------------------------------------

    def restore(self, finished: Mapping[str, TaskStatus]) -> None:
        """Replay the final statuses recorded by an earlier life of this run (resume).

        Tasks are replayed in dependency order so that skips and readiness come out exactly
        as they would have; tasks not in ``finished`` stay to be run.
        """
        for key in _in_order(self.tasks, finished):
            status = finished[key]
            self._start(self.tasks[key])
            if status is TaskStatus.SUCCEEDED:
                self.succeed(key)
            elif status is TaskStatus.FAILED:
                self.fail(key)
            else:  # skipped or canceled: done without satisfying anyone
                self._release(key)
                self.status[key] = status


_GROUP = "group:"  # _held keys of conflict groups (no workstream id has a ':')
_ALONE = "*"  # the _held key of tasks that run alone (parallel_ok false)


class _Statuses(dict[str, TaskStatus]):
    """Each task's status, with the number of tasks in each status kept up to date."""

    def __init__(self, keys: Iterable[str]) -> None:
        super().__init__(dict.fromkeys(keys, TaskStatus.PENDING))
        self.counts: dict[TaskStatus, int] = defaultdict(int, {TaskStatus.PENDING: len(self)})

    def __setitem__(self, key: str, status: TaskStatus) -> None:
        self.counts[self[key]] -= 1
        self.counts[status] += 1
        super().__setitem__(key, status)


def _in_order(tasks: Mapping[str, PlannedTask], finished: Iterable[str]) -> list[str]:
    wanted = set(finished)
    return [key for key in tasks if key in wanted]  # tasks is in topological order
