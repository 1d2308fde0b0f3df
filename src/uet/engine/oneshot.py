"""One command recorded as a run (``uet scripts run``): its plan run, and its own exit code.

A run of one task exits as the command did, so that wrapping a script in uet changes
nothing for whoever calls it:

==========================  ==================================================
the command exited N        N (0 when it succeeded, after retries if any)
killed by signal N          128 + N (as a shell reports it)
timed out                   124 (as ``timeout(1)``): uet killed its process group
could not start             127 (as a shell's "command not found")
the run was interrupted     130 (SPEC.md; ``uet resume RUN_ID`` goes on)
==========================  ==================================================
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from uet.config import Settings
from uet.engine.api import start_run
from uet.engine.model import RunOptions, RunResult
from uet.errors import ExitCode
from uet.events.bus import EventBus
from uet.spec.models import Plan
from uet.state.records import TaskRecord
from uet.state.store import Store
from uet.states import AttemptState, RunStatus

TIMED_OUT_EXIT = 124
"""Exit code of a command uet stopped at its timeout (``timeout(1)``'s)."""
CANNOT_START_EXIT = 127
"""Exit code of a command that could not be started (a shell's "command not found")."""
SIGNAL_EXIT_BASE = 128
"""A command killed by signal N exits 128 + N."""


@dataclass(frozen=True, slots=True)
class SingleRun:
    """A one-task run's result and its task's row."""

    result: RunResult
    task: TaskRecord | None

    @property
    def run_id(self) -> str:
        return self.result.run_id

    @property
    def exit_code(self) -> int:
        return command_exit_code(self.result, self.task)


def command_exit_code(result: RunResult, task: TaskRecord | None) -> int:
    """The exit code of a one-task run, as the table of the module docstring says."""
    if result.status is RunStatus.SUCCEEDED:
        return int(ExitCode.OK)
    if result.status is RunStatus.INTERRUPTED or task is None:
        return result.exit_code
    if task.outcome is AttemptState.TIMED_OUT:
        return TIMED_OUT_EXIT
    code = task.exit_code
    if code is None:
        return CANNOT_START_EXIT if task.outcome is AttemptState.ERROR else result.exit_code
    if code < 0:
        return SIGNAL_EXIT_BASE - code
    return code or int(ExitCode.FAILED)  # exited 0 yet failed (canceled, a gate): 1


def run_single(
    plan: Plan,
    *,
    settings: Settings,
    store: Store,
    options: RunOptions,
    bus: EventBus | None = None,
    interrupted: threading.Event | None = None,
) -> SingleRun:
    """Record and drive a one-task plan; the result with the task's row."""
    result = start_run(
        plan, settings=settings, store=store, options=options, bus=bus, interrupted=interrupted
    )
    with store.reader() as tx:
        tasks = tx.get_tasks(result.run_id)
    return SingleRun(result, tasks[0] if tasks else None)
