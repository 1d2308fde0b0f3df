"""Workstream and task models: what a workstream file means, validated.

The native format of SPEC.md maps onto these models one to one; the legacy bundle and plan
formats are converted into them by ``uet.spec.loader``. A :class:`Plan` is several
workstreams resolved into one DAG of :class:`PlannedTask` s, each carrying its effective
settings (task value, else the workstream's ``defaults``, else uet's default); those two and
the enums live in :mod:`uet.spec.planned` (no pydantic) and are importable from here.
"""

from __future__ import annotations

from typing import Any, Literal

import pydantic

from uet.scope import FileScope
from uet.spec._bounds import (
    Command,
    Concurrency,
    Count,
    Env,
    FileBytes,
    Retries,
    RetryDelay,
    RetryOn,
    SandboxMode,
    Timeout,
)
from uet.spec.planned import (
    DEFAULT_RETRY_DELAY_S,
    ID_PATTERN,
    AbortRunning,
    OnFailure,
    Plan,
    PlannedTask,
    RetryBackoff,
)

__all__ = [
    "DEFAULT_RETRY_DELAY_S",
    "ID_PATTERN",
    "AbortRunning",
    "Defaults",
    "FixLoop",
    "OnFailure",
    "ParamValue",
    "Plan",
    "PlannedTask",
    "RetryBackoff",
    "TaskSpec",
    "WorkstreamSpec",
]


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class Defaults(_Model):
    timeout: Timeout | None = None  # seconds
    retries: Retries = 0
    retry_delay: RetryDelay = DEFAULT_RETRY_DELAY_S  # seconds
    on_failure: OnFailure = OnFailure.SKIP_DEPENDENTS
    retry_backoff: RetryBackoff = RetryBackoff.EXPONENTIAL
    abort_running: AbortRunning = AbortRunning.KILL  # `uet run --abort-kills` forces kill


class FixLoop(_Model):
    """How often an agent task may try again, in its clone, after its acceptance gate fails
    (a legacy bundle's ``circuit_breaker``). Each try gets the previous errors in its prompt;
    the loop stops early when one error signature repeats or the errors oscillate."""

    max_attempts: Count = 1
    max_error_repeats: Count | None = None
    oscillation_threshold: Count | None = None


ParamValue = bool | int | float | str
"""A script parameter's value as a workstream file gives it (checked against its type)."""


class TaskSpec(_Model):
    """One task of a workstream: exactly one of ``run``, ``argv``, ``tool`` and ``script``.

    A ``script`` task is resolved when its file is loaded (``uet.spec.scripts``): the
    registry's command, with ``params`` substituted and ``args`` appended, fills ``run`` or
    ``argv``, and the script's settings fill what the task leaves out.
    """

    id: str = pydantic.Field(pattern=ID_PATTERN)
    name: str | None = None
    run: Command | None = None  # shell string, run by /bin/sh -c
    argv: list[Command] | None = pydantic.Field(None, min_length=1)  # exec form, no shell
    tool: str | None = None  # a tool name, or "auto": the router chooses
    depends_on: list[str] = pydantic.Field(default_factory=list)
    timeout: Timeout | None = None  # seconds
    retries: Retries | None = None
    retry_delay: RetryDelay | None = None  # seconds
    retry_backoff: RetryBackoff | None = None
    on_failure: OnFailure | None = None
    cwd: Command | None = None  # relative to the project root
    env: Env = pydantic.Field(default_factory=dict)
    kind: str | None = None  # what routing matches on (tool tasks)
    risk: str | None = None  # routing matches on these too (e.g. low | medium | high)
    complexity: str | None = None
    prompt: str | None = None
    files_scope: list[str] = pydantic.Field(default_factory=list)
    isolation: Literal["none", "clone"] | None = None
    acceptance: list[Command] = pydantic.Field(default_factory=list)  # commands: the gate
    acceptance_instructions: list[str] = pydantic.Field(default_factory=list)  # prose: prompt
    fix_loop: FixLoop | None = None  # tries in the clone while the acceptance gate fails
    keep_background: bool = False  # leave what the task started in the background alive
    conflict_group: str | None = None  # no two tasks of one group run at once
    parallel_ok: bool = True  # false: the task runs with no other task of the run
    # Which failures are retried: exit codes, or a regex searched in the output's tail
    # (None: every failure, within ``retries``). A needs_input attempt never is.
    retry_on: RetryOn | None = None
    # true: runs with uet's terminal (stdin, stdout, stderr), alone; refused (exit 2)
    # when uet is non-interactive (CI=true, --non-interactive, no terminal)
    interactive: bool = False
    script: str | None = pydantic.Field(None, pattern=ID_PATTERN)  # a registry script
    params: dict[str, ParamValue] = pydantic.Field(default_factory=dict)  # script params
    args: list[Command] = pydantic.Field(default_factory=list)  # appended to a script's command
    # Containment of tool tasks (docs/security.md): what the agent's change may contain,
    # where its process runs.
    allow_symlinks: bool = False  # symlinks whose targets stay inside the repo and the scope
    allow_binary: bool = False  # new binary files
    executables: list[str] = pydantic.Field(default_factory=list)  # may be made executable
    max_file_bytes: FileBytes | None = None  # default: defaults.MAX_FILE_BYTES
    sandbox: SandboxMode | None = None  # none | auto | required; default: the tool profile's
    network: bool | None = None  # the sandbox's network; default: the tool profile's

    @pydantic.field_validator("files_scope", "executables")
    @classmethod
    def _scope_patterns(cls, patterns: list[str]) -> list[str]:
        FileScope(patterns)  # a pattern outside the repository is a ValueError, said here
        return patterns


class WorkstreamSpec(_Model):
    id: str = pydantic.Field(pattern=ID_PATTERN)
    name: str | None = None
    concurrency: Concurrency | None = None
    depends_on: list[str] = pydantic.Field(default_factory=list)
    env: Env = pydantic.Field(default_factory=dict)
    defaults: Defaults = Defaults()
    tasks: list[TaskSpec] = pydantic.Field(min_length=1)
    metadata: dict[str, Any] = pydantic.Field(default_factory=dict)  # kept from legacy formats
