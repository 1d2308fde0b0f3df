"""The originals' JSON plan: steps of commands, run with the originals' meanings.

A plan file is loaded as the originals' ``Plan.from_file`` read it and run as their
``Orchestrator.execute_plan`` ran it (docs/workstreams.md, "Plans: original vs uet"):

- ``plan_id`` may be any string: the workstream id is derived from it (``PLAN-TEST-001`` →
  ``plan-test-001``), the original kept in ``metadata.plan.plan_id`` with ``version``,
  ``name``, ``description`` and ``metadata``; step ids are derived the same way;
- ``globals.max_concurrency`` defaults to 1, ``default_timeout_sec`` to 1800 s, a step's
  ``retries`` of 0 means ``default_retries``, ``retry_delay_sec`` is a *fixed* delay
  (default 0), ``on_failure`` defaults to ``abort``, and an abort lets the running steps
  finish (``uet run --abort-kills`` kills them);
- ``critical: false``: the step's failure never aborts the plan (``abort`` becomes
  ``continue``); the run still fails, as the original's did;
- ``shell: true`` runs ``command`` through ``/bin/sh -c`` with ``args`` quoted after it;
  otherwise ``[command, *args]`` is run with no shell;
- keys the originals ignored (unknown step keys, other ``globals``) are kept in metadata
  and reported as warnings.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pydantic

from uet.spec._bounds import Command, Concurrency, Env, PlanTimeout, Retries, RetryDelay
from uet.spec._problems import Loc
from uet.spec.models import (
    AbortRunning,
    Defaults,
    OnFailure,
    RetryBackoff,
    TaskSpec,
    WorkstreamSpec,
)

DEFAULT_CONCURRENCY = 1
DEFAULT_TIMEOUT_S = 1800.0
DEFAULT_RETRY_DELAY_S = 0.0
STEP_HINTS = ("description", "condition", "provides", "consumes", "tags", "ui_hints")
"""Step keys of the originals' schema that do not change how a step runs (kept in metadata)."""
_NOT_ID = re.compile(r"[^a-z0-9._-]+")


class _Open(pydantic.BaseModel):
    """Unknown keys are kept (``model_extra``) and reported as warnings, as the originals
    ignored them."""

    model_config = pydantic.ConfigDict(extra="allow", frozen=True)


class PlanGlobals(_Open):
    max_concurrency: Concurrency | None = None
    default_timeout_sec: PlanTimeout | None = None
    default_retries: Retries = 0
    env: Env = pydantic.Field(default_factory=dict)


class PlanStep(_Open):
    id: str = pydantic.Field(min_length=1)
    name: str | None = None
    command: Command = pydantic.Field(min_length=1)
    args: list[Command] = pydantic.Field(default_factory=list)
    cwd: Command | None = None
    shell: bool = False
    env: Env = pydantic.Field(default_factory=dict)
    depends_on: list[str] = pydantic.Field(default_factory=list)
    timeout_sec: PlanTimeout | None = None
    retries: Retries | None = None
    retry_delay_sec: RetryDelay | None = None
    critical: bool = True
    on_failure: OnFailure | None = None
    description: str | None = None
    condition: str | None = None
    provides: list[str] = pydantic.Field(default_factory=list)
    consumes: list[str] = pydantic.Field(default_factory=list)
    tags: list[str] = pydantic.Field(default_factory=list)
    ui_hints: dict[str, Any] = pydantic.Field(default_factory=dict)


class PlanFile(_Open):
    """A flat list of commands with dependencies, run as one workstream."""

    plan_id: str = pydantic.Field(min_length=1)
    version: str | int | float | None = None
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] = pydantic.Field(default_factory=dict)
    globals: PlanGlobals = PlanGlobals()
    steps: list[PlanStep] = pydantic.Field(min_length=1)


def derive_id(text: str, fallback: str = "plan") -> str:
    """A valid uet id from any string: lowercased, other characters runs → ``-``."""
    derived = _NOT_ID.sub("-", text.lower()).strip("-._")
    return derived or fallback


def plan_to_workstream(plan: PlanFile) -> WorkstreamSpec:
    """One workstream named after ``plan_id``; each step a task."""
    settings = plan.globals
    ids = {step.id: derive_id(step.id, "step") for step in plan.steps}
    defaults = Defaults(
        timeout=settings.default_timeout_sec or DEFAULT_TIMEOUT_S,
        retries=settings.default_retries,
        retry_delay=DEFAULT_RETRY_DELAY_S,
        retry_backoff=RetryBackoff.FIXED,
        on_failure=OnFailure.ABORT,
        abort_running=AbortRunning.FINISH,
    )
    return WorkstreamSpec(
        id=derive_id(plan.plan_id),
        name=plan.name or plan.description,
        concurrency=settings.max_concurrency or DEFAULT_CONCURRENCY,
        env=settings.env,
        defaults=defaults,
        tasks=[_task(step, ids) for step in plan.steps],
        metadata={"plan": _kept(plan)},
    )


def _task(step: PlanStep, ids: dict[str, str]) -> TaskSpec:
    on_failure = step.on_failure or OnFailure.ABORT
    if not step.critical and on_failure is OnFailure.ABORT:
        on_failure = OnFailure.CONTINUE
    command: dict[str, Any]
    if step.shell:
        command = {"run": " ".join([step.command, *map(shlex.quote, step.args)])}
    else:
        command = {"argv": [step.command, *step.args]}
    return TaskSpec(
        id=ids[step.id],
        name=step.name,
        **command,
        cwd=step.cwd,
        env=step.env,
        depends_on=[ids.get(dep, dep) for dep in step.depends_on],
        timeout=step.timeout_sec or None,  # 0 or absent: the plan's default, as the original
        retries=step.retries or None,  # 0 or absent: globals.default_retries, as the original
        retry_delay=step.retry_delay_sec,
        on_failure=on_failure,
    )


def _kept(plan: PlanFile) -> dict[str, Any]:
    """What the plan said that the workstream does not carry: ids as written, hints."""
    kept: dict[str, Any] = {"plan_id": plan.plan_id}
    for name in ("version", "name", "description"):
        if getattr(plan, name) is not None:
            kept[name] = getattr(plan, name)
    if plan.metadata:
        kept["metadata"] = plan.metadata
    if plan.model_extra:
        kept["extra"] = dict(plan.model_extra)
    if plan.globals.model_extra:
        kept["globals_extra"] = dict(plan.globals.model_extra)
    steps = {step.id: _step_hints(step) for step in plan.steps}
    kept["steps"] = {step_id: hints for step_id, hints in steps.items() if hints}
    return kept


def _step_hints(step: PlanStep) -> dict[str, Any]:
    hints = {name: getattr(step, name) for name in STEP_HINTS if name in step.model_fields_set}
    hints.update(step.model_extra or {})
    if step.id != derive_id(step.id, "step"):
        hints["id"] = step.id
    return hints


def plan_warnings(plan: PlanFile) -> list[tuple[Loc, str]]:
    """Keys the originals ignored, and hints uet does not act on either."""
    warnings: list[tuple[Loc, str]] = [
        ((key,), "unknown key (ignored, as the originals did)") for key in plan.model_extra or {}
    ]
    warnings.extend(
        (("globals", key), "unknown key (ignored, as the originals did)")
        for key in plan.globals.model_extra or {}
    )
    for index, step in enumerate(plan.steps):
        warnings.extend(
            (("steps", index, key), "unknown step key (ignored, as the originals did)")
            for key in step.model_extra or {}
        )
        if step.condition:
            message = "condition is not evaluated (the originals did not either): the step runs"
            warnings.append((("steps", index, "condition"), message))
    return warnings
