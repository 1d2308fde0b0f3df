"""Where a run's task logs live, and which task a user's TASK_ID names.

Kept apart from :mod:`uet.engine.model` (which loads the workstream models) so that
``uet logs`` reads a log without importing the spec layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from uet import defaults
from uet.errors import UsageError
from uet.ids import check_run_id


def log_path(home: Path, run_id: str, task_key: str) -> Path:
    """Where a task's output is kept (every attempt, appended)."""
    return logs_dir(home, run_id) / f"{task_key}.log"


def logs_dir(home: Path, run_id: str) -> Path:
    """The folder of a run's task logs (``log_path`` of a task is inside it).

    The run id is checked here too, where it becomes a path: logs never leave ``logs/``.
    """
    check_run_id(run_id)
    return home / defaults.LOGS_DIR_NAME / run_id


def resolve_task(keys: Iterable[str], given: str) -> str:
    """The task key ``given`` names: a full ``<workstream>/<task>`` key, or a bare task id
    that only one workstream of the run has. Raises UsageError otherwise."""
    matches = [key for key in keys if key == given or key.split("/", 1)[-1] == given]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(f"several tasks are called {given!r}: give one of {', '.join(matches)}")
    raise UsageError(f"no task {given!r} in this run")
