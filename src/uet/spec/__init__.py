"""Workstreams as data: the models, the loaders of every file format, the dependency graph.

::

    from uet.spec import load_files
    plan = load_files(["workstreams/build.yaml", "workstreams/deploy.yaml"])
    for task in plan.tasks:          # dependencies first, ties broken by key
        print(task.key, task.depends_on, task.timeout)
"""

from __future__ import annotations

from uet.errors import Problem, SpecError
from uet.spec._acceptance import is_command
from uet.spec.graph import find_cycle, find_cycles, format_cycle, topological_order
from uet.spec.loader import load_file, load_files
from uet.spec.models import (
    ID_PATTERN,
    AbortRunning,
    Defaults,
    FixLoop,
    OnFailure,
    Plan,
    PlannedTask,
    RetryBackoff,
    TaskSpec,
    WorkstreamSpec,
)
from uet.spec.oneshot import one_command_plan

__all__ = [  # noqa: RUF022 - grouped by concern, not alphabetically
    # loading
    "load_file",
    "load_files",
    "one_command_plan",
    "SpecError",
    "Problem",
    # models
    "WorkstreamSpec",
    "TaskSpec",
    "Defaults",
    "FixLoop",
    "OnFailure",
    "RetryBackoff",
    "AbortRunning",
    "ID_PATTERN",
    "Plan",
    "PlannedTask",
    # legacy formats
    "is_command",
    # graphs
    "topological_order",
    "find_cycle",
    "find_cycles",
    "format_cycle",
]
