"""The originals' workstream bundle: one agent's work package, run as ONE tool task.

Every field of the originals' ``schema/workstream.schema.json`` is accepted (plus ``doc_id``
and ``file_id``, which their current files carry). A bundle becomes a workstream with one
task ``implement``:

- ``tasks`` (the instructions) → the prompt, numbered;
- ``files_scope`` + ``files_create`` → the task's ``files_scope`` (required, as in the
  originals: an agent without a scope could change anything);
- ``acceptance_tests`` → split by :mod:`uet.spec._acceptance`: the commands are the task's
  ``acceptance`` gate, run in the agent's clone before anything merges; the prose entries
  are ``acceptance_instructions``, for the prompt only;
- ``circuit_breaker`` → ``fix_loop`` (the tries in the clone while the gate fails);
- ``capability`` or ``kind`` → the routing ``kind``; ``conflict_group`` and ``parallel_ok``
  → the task's scheduling constraints;
- everything else (``gate``, ``openspec_change``, ``priority``, ``max_cost_usd``…) is kept
  under its own name in the workstream's ``metadata``.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from uet.spec._acceptance import split_acceptance
from uet.spec._bounds import Command
from uet.spec.models import FixLoop, TaskSpec, WorkstreamSpec

BUNDLE_ID_PATTERN = r"^ws-[a-z0-9._-]+$"
IMPLEMENT_TASK = "implement"
ROUTING_KINDS = {
    "refactoring": "refactor",
    "refactor": "refactor",
    "docs": "docs",
}
"""A bundle's ``capability`` (first) or ``kind`` → the kind routing matches on, among the
kinds every built-in editing profile lists; any other hint is ``code_edit``."""
DEFAULT_ROUTING_KIND = "code_edit"
NATIVE_FIELDS = frozenset({"id", "tasks", "tool", "files_scope", "acceptance_tests", "depends_on"})
"""Bundle fields the task or workstream carries natively; the rest is kept in metadata
(``files_create`` too: the task's scope includes it, and the overlap check leaves it out)."""


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class _Open(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow", frozen=True)


class CapabilityPayload(_Open):
    files: list[str] = pydantic.Field(default_factory=list)
    prompt: str | None = None
    timeout_ms: int | None = pydantic.Field(None, ge=1000)
    max_retries: int | None = pydantic.Field(None, ge=0, le=5)


class CircuitBreaker(_Open):
    max_attempts: int | None = pydantic.Field(None, ge=1, le=100)
    max_error_repeats: int | None = pydantic.Field(None, ge=0, le=100)
    oscillation_threshold: int | None = pydantic.Field(None, ge=0, le=100)


class TestGate(_Open):
    type: Literal["GATE_LINT", "GATE_UNIT", "GATE_INTEGRATION", "GATE_SECURITY"]
    required: bool | None = None
    blocking: bool | None = None


class LegacyBundle(_Strict):
    """A work package of the original tools: instructions for one agent, and its checks."""

    id: str = pydantic.Field(pattern=BUNDLE_ID_PATTERN)
    doc_id: str | None = None
    file_id: str | None = None
    openspec_change: str | None = None
    ccpm_issue: int | str | None = None
    gate: int | None = pydantic.Field(None, ge=1)
    files_scope: list[str] = pydantic.Field(min_length=1)
    files_create: list[str] = pydantic.Field(default_factory=list)
    tasks: list[str]  # instructions for the agent (may be empty: the prompt says the rest)
    acceptance_tests: list[Command] = pydantic.Field(default_factory=list)
    depends_on: list[str] = pydantic.Field(default_factory=list)  # other bundles' ids
    tool: str | None = None
    capability: (
        Literal["code_generation", "linting", "refactoring", "testing", "version_checking"] | None
    ) = None
    capability_payload: CapabilityPayload | None = None
    circuit_breaker: CircuitBreaker | None = None
    metadata: dict[str, Any] = pydantic.Field(default_factory=dict)
    parallel_ok: bool = True
    conflict_group: str | None = None
    kind: (
        Literal["design", "impl", "test", "docs", "infra", "refactor", "background", "spike"] | None
    ) = None
    priority: Literal["foreground", "background"] | None = None
    estimated_context_tokens: int | None = pydantic.Field(None, ge=0)
    max_cost_usd: float | None = pydantic.Field(None, ge=0)
    compensation_actions: list[str] = pydantic.Field(default_factory=list)
    test_gates: list[TestGate] = pydantic.Field(default_factory=list)


def bundle_to_workstream(bundle: LegacyBundle) -> WorkstreamSpec:
    """One tool task ``implement`` in its own clone, gated by the bundle's commands."""
    commands, instructions = split_acceptance(bundle.acceptance_tests)
    implement = TaskSpec(
        id=IMPLEMENT_TASK,
        tool=bundle.tool or "auto",
        kind=routing_kind(bundle),
        prompt=_prompt(bundle),
        files_scope=list(dict.fromkeys([*bundle.files_scope, *bundle.files_create])),
        isolation="clone",
        acceptance=commands,
        acceptance_instructions=instructions,
        fix_loop=_fix_loop(bundle.circuit_breaker),
        conflict_group=bundle.conflict_group,
        parallel_ok=bundle.parallel_ok,
    )
    metadata = {
        name: _plain(getattr(bundle, name))
        for name in bundle.model_fields_set - NATIVE_FIELDS
        if name in LegacyBundle.model_fields
    }
    return WorkstreamSpec(
        id=bundle.id,
        depends_on=bundle.depends_on,
        tasks=[implement],
        metadata=dict(sorted(metadata.items())),
    )


def routing_kind(bundle: LegacyBundle) -> str:
    """``capability`` (the AIM routing hint) first, then ``kind``, else ``code_edit``."""
    for hint in (bundle.capability, bundle.kind):
        if hint is not None:
            return ROUTING_KINDS.get(hint, DEFAULT_ROUTING_KIND)
    return DEFAULT_ROUTING_KIND


def _prompt(bundle: LegacyBundle) -> str | None:
    lines = [f"{n}. {line}" for n, line in enumerate(bundle.tasks, start=1)]
    payload = bundle.capability_payload
    if payload is not None and payload.prompt:
        lines.insert(0, payload.prompt)
    return "\n".join(lines) or None


def _fix_loop(breaker: CircuitBreaker | None) -> FixLoop | None:
    """The originals' breaker: ``max_attempts`` tries; a repeat/oscillation limit of 0 is
    "no limit" (their schema allows 0, their executor treats it as off)."""
    if breaker is None:
        return None
    return FixLoop(
        max_attempts=breaker.max_attempts or 1,
        max_error_repeats=breaker.max_error_repeats or None,
        oscillation_threshold=breaker.oscillation_threshold or None,
    )


def _plain(value: object) -> object:
    """Models as the mappings they were written as, for ``metadata``."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
