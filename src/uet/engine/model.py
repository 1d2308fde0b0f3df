"""What a run is made of, as the engine keeps it: options, results, and planned tasks as
stored in the task rows (so that ``uet resume`` needs nothing but the database)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from uet import defaults
from uet.errors import ExitCode, UsageError
from uet.execution.api import Stdio
from uet.ids import check_run_id
from uet.spec.planned import AbortRunning, OnFailure, PlannedTask, RetryBackoff
from uet.states import RunStatus, TaskStatus

DETERMINISTIC_CONCURRENCY = 4
"""Default concurrency of ``--deterministic`` runs: the same on every machine, since the
waves a run is cut into (and so its event log) depend on it."""


def default_concurrency() -> int:
    """Tasks at once when not told: one per CPU."""
    return os.cpu_count() or 2


@dataclass(frozen=True, slots=True)
class RunOptions:
    concurrency: int = field(default_factory=default_concurrency)
    deterministic: bool = False
    run_id: str | None = None
    name: str | None = None
    abort_kills: bool = False  # an abort kills running tasks even where they would finish
    stdio: Stdio = Stdio.NULL  # where command tasks' streams go (uet exec: passthrough, tty)
    kill_grace: float = defaults.KILL_GRACE_S  # SIGTERM to SIGKILL of a task's group

    @classmethod
    def make(
        cls, *, concurrency: int | None, deterministic: bool, run_id: str | None = None
    ) -> RunOptions:
        """Options with the right default concurrency for the mode."""
        if concurrency is None:
            concurrency = DETERMINISTIC_CONCURRENCY if deterministic else default_concurrency()
        if not 1 <= concurrency <= defaults.MAX_CONCURRENCY:
            raise UsageError(
                f"concurrency must be 1 to {defaults.MAX_CONCURRENCY}, not {concurrency}"
            )
        if run_id is not None:
            check_run_id(run_id)
        return cls(concurrency=concurrency, deterministic=deterministic, run_id=run_id)


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: str
    status: RunStatus
    counts: Mapping[TaskStatus, int]

    @property
    def exit_code(self) -> int:
        """SPEC.md: 0 success, 1 the work failed (or was canceled), 130 interrupted."""
        if self.status is RunStatus.SUCCEEDED:
            return int(ExitCode.OK)
        if self.status is RunStatus.INTERRUPTED:
            return int(ExitCode.INTERRUPTED)
        return int(ExitCode.FAILED)


def task_document(task: PlannedTask) -> dict[str, Any]:
    """A planned task as stored in its row's ``spec`` column."""
    return {
        "task": task.spec.model_dump(mode="json", exclude_defaults=True),
        "timeout": task.timeout,
        "retries": task.retries,
        "retry_delay": task.retry_delay,
        "on_failure": task.on_failure.value,
        "env": dict(task.env),
        "cwd": task.cwd,
        "retry_backoff": task.retry_backoff.value,
        "abort_running": task.abort_running.value,
    }


def planned_from_document(
    key: str, workstream_id: str, depends_on: list[str], document: Mapping[str, Any]
) -> PlannedTask:
    """The inverse of :func:`task_document` (a resumed run's tasks are ``TaskSpec`` s)."""
    from uet.spec.models import TaskSpec  # noqa: PLC0415 - pydantic: not for `uet exec`

    spec = TaskSpec.model_validate(document["task"])
    return PlannedTask(
        key=key,
        workstream_id=workstream_id,
        id=spec.id,
        spec=spec,
        depends_on=tuple(depends_on),
        timeout=document["timeout"],
        retries=document["retries"],
        retry_delay=document["retry_delay"],
        on_failure=OnFailure(document["on_failure"]),
        env=document["env"],
        cwd=document["cwd"],
        retry_backoff=RetryBackoff(document.get("retry_backoff", RetryBackoff.EXPONENTIAL)),
        abort_running=AbortRunning(document.get("abort_running", AbortRunning.KILL)),
    )
