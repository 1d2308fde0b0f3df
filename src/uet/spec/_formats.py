"""The three shapes a workstream file can have, and how each becomes a :class:`WorkstreamSpec`.

- **workstream** (native, SPEC.md): a mapping with ``id`` and a ``tasks`` list of mappings.
- **legacy bundle** (``_bundle``): a mapping whose ``tasks`` is a list of instruction
  strings. It becomes one tool task ``implement`` gated by its acceptance commands.
- **plan** (``_plan``): a mapping with ``plan_id`` and ``steps``; one workstream, one command
  per step, with the originals' defaults.

A file holds one mapping or a list of them (each detected on its own). Each format is
validated by a pydantic model whose fields are named like the file's keys, so a validation
error's location is a key path in the file as the user wrote it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic

from uet.spec._bundle import LegacyBundle, bundle_to_workstream
from uet.spec._plan import PlanFile, plan_to_workstream, plan_warnings
from uet.spec._problems import Loc, format_path
from uet.spec._substitute import Pattern
from uet.spec.models import WorkstreamSpec

BUNDLE_KEYS = frozenset(LegacyBundle.model_fields) - {"id", "tasks", "depends_on", "metadata"}
"""Top-level keys only a bundle has: with one of them, a file is a bundle (even ``tasks: []``)."""


def _no_warnings(_validated: Any) -> list[tuple[Loc, str]]:
    return []


@dataclass(frozen=True, slots=True)
class Format:
    """How one shape of file is validated, where its variables are, how it converts."""

    name: str
    model: type[pydantic.BaseModel]
    substituted: tuple[Pattern, ...]
    id_key: str
    tasks_key: str
    convert: Callable[[Any], WorkstreamSpec]
    warnings: Callable[[Any], list[tuple[Loc, str]]] = _no_warnings  # (key path, message)


NATIVE = Format(
    name="workstream",
    model=WorkstreamSpec,
    substituted=(
        ("env", "*"),
        ("tasks", "*", "env", "*"),
        ("tasks", "*", "run"),
        ("tasks", "*", "argv", "*"),
        ("tasks", "*", "cwd"),
        ("tasks", "*", "prompt"),
        ("tasks", "*", "acceptance", "*"),
        ("tasks", "*", "params", "*"),
        ("tasks", "*", "args", "*"),
    ),
    id_key="id",
    tasks_key="tasks",
    convert=lambda spec: spec,
)
BUNDLE = Format(
    name="legacy bundle",
    model=LegacyBundle,
    substituted=(
        ("tasks", "*"),
        ("acceptance_tests", "*"),
        ("capability_payload", "prompt"),
        ("compensation_actions", "*"),
    ),
    id_key="id",
    tasks_key="tasks",
    convert=bundle_to_workstream,
)
PLAN = Format(
    name="plan",
    model=PlanFile,
    substituted=(
        ("globals", "env", "*"),
        ("steps", "*", "env", "*"),
        ("steps", "*", "command"),
        ("steps", "*", "args", "*"),
        ("steps", "*", "cwd"),
    ),
    id_key="plan_id",
    tasks_key="steps",
    convert=plan_to_workstream,
    warnings=plan_warnings,
)


def detect(data: dict[Any, Any]) -> Format:
    """The format of one mapping, judged by its keys and the shape of its ``tasks``.

    A ``tasks`` list with no mapping in it but some string, or a key only bundles have
    (``files_scope``, ``acceptance_tests``, ``gate``…) with no mapping among the tasks, is a
    legacy bundle; ``plan_id`` without ``id``, or ``steps`` without ``tasks``, is a plan;
    anything else is validated as a workstream (whose errors then explain what is missing).
    """
    tasks = data.get("tasks")
    listed = tasks if isinstance(tasks, list) else []
    if not any(isinstance(item, dict) for item in listed):
        if any(isinstance(item, str) for item in listed):
            return BUNDLE
        if any(key in BUNDLE_KEYS for key in data):
            return BUNDLE
    if ("id" not in data and "plan_id" in data) or ("tasks" not in data and "steps" in data):
        return PLAN
    return NATIVE


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a workstream came from: its file, its place in it, and its format's key names."""

    file: str
    prefix: Loc  # () for a file that is one mapping, (index,) for an item of a list
    format: Format

    def path(self, *loc: int | str) -> str:
        """The key path of ``loc`` (relative to the workstream) inside the file."""
        return format_path(self.prefix + loc)

    def task_path(self, index: int, *loc: int | str) -> str:
        """The key path of the ``index``-th task's ``loc`` (``steps[3].depends_on[0]``)."""
        return self.path(self.format.tasks_key, index, *loc)
