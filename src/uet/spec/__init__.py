"""Workstreams as data: the models, the loaders of every file format, the dependency graph.

::

    from uet.spec import load_files
    plan = load_files(["workstreams/build.yaml", "workstreams/deploy.yaml"])
    for task in plan.tasks:          # dependencies first, ties broken by key
        print(task.key, task.depends_on, task.timeout)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the runtime imports are lazy (see __getattr__): `uet exec` builds its
    # one-task plan without loading the loaders of every file format
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

_LAZY = {
    "Problem": "uet.errors",
    "SpecError": "uet.errors",
    "is_command": "uet.spec._acceptance",
    "find_cycle": "uet.spec.graph",
    "find_cycles": "uet.spec.graph",
    "format_cycle": "uet.spec.graph",
    "topological_order": "uet.spec.graph",
    "load_file": "uet.spec.loader",
    "load_files": "uet.spec.loader",
    **dict.fromkeys(
        [
            "ID_PATTERN",
            "AbortRunning",
            "Defaults",
            "FixLoop",
            "OnFailure",
            "Plan",
            "PlannedTask",
            "RetryBackoff",
            "TaskSpec",
            "WorkstreamSpec",
        ],
        "uet.spec.models",
    ),
    "one_command_plan": "uet.spec.oneshot",
}

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


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'uet.spec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
