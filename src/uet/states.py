"""The state machines of runs, tasks and attempts: one ``str`` Enum each.

A run::

    pending ──► running ──► succeeded | failed
                   │  └───► canceling ──► canceled   (``uet cancel``, from any process)
                   └──► interrupted  (Ctrl-C, or its orchestrator died; ``uet resume`` goes on)

A task::

    pending ──► ready ──► running ──► succeeded | failed | canceled
       │                    ▲  │
       │                    └──┘ retried while its budget lasts
       └──► skipped  (a dependency failed and ``on_failure`` says so)

An attempt (one execution of a task; its id fences late results)::

    dispatched ──► running ──► succeeded | failed | timed_out | needs_input | canceled | error
         │            │
         └────────────┴──► lost  (no live process after a crash; the task is re-dispatched)

An attempt ``canceled`` by a user does not count against the task's retry budget; every other
finished state (``lost`` included) does.

``needs_input`` is an attempt that failed (or timed out) waiting for an answer nobody could
give (a password, ``[y/N]``: ``uet.execution.prompts``); it is never retried.

``error`` means uet could not run the attempt at all (missing binary, bad cwd), which is a
different outcome from ``failed`` (the program ran and exited non-zero).
"""

from __future__ import annotations

import enum


class RunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    CANCELING = "canceling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self in _FINISHED_RUN


class TaskStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in _FINISHED_TASK


class AttemptState(enum.StrEnum):
    DISPATCHED = "dispatched"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    NEEDS_INPUT = "needs_input"
    CANCELED = "canceled"
    LOST = "lost"
    ERROR = "error"

    @property
    def finished(self) -> bool:
        return self not in _LIVE_ATTEMPT


_FINISHED_RUN = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED, RunStatus.INTERRUPTED}
)
_FINISHED_TASK = frozenset(
    {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELED}
)
_LIVE_ATTEMPT = frozenset({AttemptState.DISPATCHED, AttemptState.RUNNING})

LIVE_ATTEMPT_STATES: frozenset[AttemptState] = _LIVE_ATTEMPT
"""Attempts that may still have a process: what reconciliation looks at after a crash."""

UNCOUNTED_ATTEMPT_STATES: frozenset[AttemptState] = frozenset({AttemptState.CANCELED})
"""Attempts that do not use up a retry: stopped by a user, not judged."""
