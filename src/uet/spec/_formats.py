"""The three shapes a workstream file can have, and how each becomes a :class:`WorkstreamSpec`.

- **workstream** (native, SPEC.md): a mapping with ``id`` and a ``tasks`` list of mappings.
- **legacy bundle**: a mapping whose ``tasks`` is a list of instruction strings. It becomes
  one tool task ``implement`` carrying the instructions, then one task per acceptance test.
- **plan**: a mapping with ``plan_id`` and ``steps``; one workstream, one command per step.

A file holds one mapping or a list of them (each detected on its own). Each format is
validated by a pydantic model whose fields are named like the file's keys, so a validation
error's location is a key path in the file as the user wrote it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic

from uet.spec._bounds import Command, Concurrency, Env, Retries, RetryDelay, Timeout
from uet.spec._problems import Loc, format_path
from uet.spec._substitute import Pattern
from uet.spec.models import ID_PATTERN, Defaults, OnFailure, TaskSpec, WorkstreamSpec

BUNDLE_ID_PATTERN = r"^ws-[a-z0-9._-]+$"
IMPLEMENT_TASK = "implement"
ACCEPTANCE_TASK = "acceptance-{}"
BUNDLE_METADATA = ("gate", "openspec_change", "ccpm_issue", "circuit_breaker", "metadata")
"""Legacy bundle fields kept, under their own names, in the workstream's ``metadata``."""


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class LegacyBundle(_Strict):
    """A work package of the original tools: instructions for one agent, then its checks."""

    id: str = pydantic.Field(pattern=BUNDLE_ID_PATTERN)
    tasks: list[str] = pydantic.Field(min_length=1)  # instructions for the agent
    tool: str | None = None
    files_scope: list[str] = pydantic.Field(default_factory=list)
    files_create: list[str] = pydantic.Field(default_factory=list)
    acceptance_tests: list[Command] = pydantic.Field(default_factory=list)  # shell commands
    depends_on: list[str] = pydantic.Field(default_factory=list)  # other bundles' ids
    gate: Any = None
    openspec_change: str | None = None
    ccpm_issue: Any = None
    circuit_breaker: dict[str, Any] | None = None
    metadata: dict[str, Any] = pydantic.Field(default_factory=dict)


class PlanGlobals(_Strict):
    max_concurrency: Concurrency | None = None
    default_timeout_sec: Timeout | None = None
    default_retries: Retries = 0
    env: Env = pydantic.Field(default_factory=dict)


class PlanStep(_Strict):
    id: str = pydantic.Field(pattern=ID_PATTERN)
    command: Command = pydantic.Field(min_length=1)
    args: list[Command] = pydantic.Field(default_factory=list)
    cwd: Command | None = None
    env: Env = pydantic.Field(default_factory=dict)
    depends_on: list[str] = pydantic.Field(default_factory=list)
    timeout_sec: Timeout | None = None
    retries: Retries | None = None
    retry_delay_sec: RetryDelay | None = None
    on_failure: OnFailure | None = None


class PlanFile(_Strict):
    """A flat list of commands with dependencies, run as one workstream."""

    plan_id: str = pydantic.Field(pattern=ID_PATTERN)
    globals: PlanGlobals = PlanGlobals()
    steps: list[PlanStep] = pydantic.Field(min_length=1)


def bundle_to_workstream(bundle: LegacyBundle) -> WorkstreamSpec:
    """``implement`` (a tool task in its own clone), then ``acceptance-N`` after it."""
    implement = TaskSpec(
        id=IMPLEMENT_TASK,
        tool=bundle.tool or "auto",
        kind="code_edit",
        prompt="\n".join(f"{n}. {line}" for n, line in enumerate(bundle.tasks, start=1)),
        files_scope=list(dict.fromkeys([*bundle.files_scope, *bundle.files_create])),
        isolation="clone",
    )
    checks = [
        TaskSpec(id=ACCEPTANCE_TASK.format(n), run=test, depends_on=[IMPLEMENT_TASK])
        for n, test in enumerate(bundle.acceptance_tests, start=1)
    ]
    metadata = {
        name: getattr(bundle, name) for name in BUNDLE_METADATA if name in bundle.model_fields_set
    }
    return WorkstreamSpec(
        id=bundle.id, depends_on=bundle.depends_on, tasks=[implement, *checks], metadata=metadata
    )


def plan_to_workstream(plan: PlanFile) -> WorkstreamSpec:
    """One workstream named ``plan_id``; each step a task running ``[command, *args]``."""
    settings = plan.globals
    tasks = [
        TaskSpec(
            id=step.id,
            argv=[step.command, *step.args],
            cwd=step.cwd,
            env=step.env,
            depends_on=step.depends_on,
            timeout=step.timeout_sec,
            retries=step.retries,
            retry_delay=step.retry_delay_sec,
            on_failure=step.on_failure,
        )
        for step in plan.steps
    ]
    return WorkstreamSpec(
        id=plan.plan_id,
        concurrency=settings.max_concurrency,
        env=settings.env,
        defaults=Defaults(timeout=settings.default_timeout_sec, retries=settings.default_retries),
        tasks=tasks,
    )


@dataclass(frozen=True, slots=True)
class Format:
    """How one shape of file is validated, where its variables are, how it converts."""

    name: str
    model: type[pydantic.BaseModel]
    substituted: tuple[Pattern, ...]
    id_key: str
    tasks_key: str
    convert: Callable[[Any], WorkstreamSpec]


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
    ),
    id_key="id",
    tasks_key="tasks",
    convert=lambda spec: spec,
)
BUNDLE = Format(
    name="legacy bundle",
    model=LegacyBundle,
    substituted=(("tasks", "*"), ("acceptance_tests", "*")),
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
)


def detect(data: dict[Any, Any]) -> Format:
    """The format of one mapping, judged by its keys and the shape of its ``tasks``.

    A ``tasks`` list with no mapping in it but some string is a legacy bundle; ``plan_id``
    or ``steps`` without ``tasks`` is a plan; anything else is validated as a workstream
    (whose errors then explain what is missing).
    """
    tasks = data.get("tasks")
    if isinstance(tasks, list) and tasks:
        has_mapping = any(isinstance(item, dict) for item in tasks)
        if not has_mapping and any(isinstance(item, str) for item in tasks):
            return BUNDLE
    if "tasks" not in data and ("plan_id" in data or "steps" in data):
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
