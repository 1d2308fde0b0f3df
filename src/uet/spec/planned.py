"""What the engine runs, without pydantic: planned tasks, plans, and a one-command task.

:class:`PlannedTask` and :class:`Plan` (re-exported by :mod:`uet.spec.models`) are what the
engine takes. A planned task's ``spec`` is the validated :class:`~uet.spec.models.TaskSpec`
of a workstream file, or, for ``uet exec`` (:func:`uet.spec.oneshot.one_command_plan`), a
:class:`CommandTask`: the same fields with the same defaults, as a plain dataclass, so that
running one command does not import pydantic (~0.2 s of CPU, most of ``uet exec``'s start).
tests/spec/test_oneshot_light.py holds both to the same values and the same stored rows.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from uet.errors import Problem

if TYPE_CHECKING:
    from uet.spec.models import FixLoop, TaskSpec, WorkstreamSpec

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"

DEFAULT_RETRY_DELAY_S = 2.0
"""Seconds before the first retry when neither task nor workstream says."""


class OnFailure(enum.StrEnum):
    """What a task's failure does to the rest of the run."""

    ABORT = "abort"  # stop dispatching; cancel what runs; the run fails
    CONTINUE = "continue"  # dependents run as if it had succeeded
    SKIP_DEPENDENTS = "skip_dependents"  # dependents (transitively) are skipped; others go on


class RetryBackoff(enum.StrEnum):
    """How the delay between attempts grows."""

    EXPONENTIAL = "exponential"  # retry_delay, then doubling, with jitter (uet's default)
    FIXED = "fixed"  # retry_delay every time (the originals' plans: retry_delay_sec)


class AbortRunning(enum.StrEnum):
    """What an ``abort`` does to the tasks already running when it happens."""

    KILL = "kill"  # their process groups are killed (uet's default)
    FINISH = "finish"  # they run to their end; nothing new starts (the originals' plans)


@dataclass(frozen=True, slots=True)
class CommandTask:
    """A command task's fields, as :class:`~uet.spec.models.TaskSpec` has them (same names,
    order and defaults), made from values already checked (``one_command_plan``)."""

    id: str
    name: str | None = None
    run: str | None = None
    argv: list[str] | None = None
    tool: str | None = None
    depends_on: list[str] = field(default_factory=list)
    timeout: float | None = None
    retries: int | None = None
    retry_delay: float | None = None
    retry_backoff: RetryBackoff | None = None
    on_failure: OnFailure | None = None
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    kind: str | None = None
    risk: str | None = None
    complexity: str | None = None
    prompt: str | None = None
    files_scope: list[str] = field(default_factory=list)
    isolation: Literal["none", "clone"] | None = None
    acceptance: list[str] = field(default_factory=list)
    acceptance_instructions: list[str] = field(default_factory=list)
    fix_loop: FixLoop | None = None
    keep_background: bool = False
    conflict_group: str | None = None
    parallel_ok: bool = True
    retry_on: list[int] | str | None = None
    interactive: bool = False
    script: str | None = None
    params: dict[str, bool | int | float | str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    allow_symlinks: bool = False
    allow_binary: bool = False
    executables: list[str] = field(default_factory=list)
    max_file_bytes: int | None = None
    sandbox: Literal["none", "auto", "required"] | None = None
    network: bool | None = None

    def model_dump(self, *, mode: Literal["json"], exclude_defaults: bool) -> dict[str, Any]:
        """As ``TaskSpec.model_dump(mode="json", exclude_defaults=True)``: the fields that
        differ from their defaults, in field order, JSON values."""
        if mode != "json" or not exclude_defaults:
            raise ValueError("a CommandTask dumps as JSON without its defaults only")
        dumped: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            default = item.default_factory() if callable(item.default_factory) else item.default
            if value != default:
                dumped[item.name] = _json(value)
        return dumped


def _json(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    return value


_COMMAND_WORKSTREAM_DEFAULTS = {
    "timeout": None,
    "retries": 0,
    "retry_delay": DEFAULT_RETRY_DELAY_S,
    "on_failure": OnFailure.SKIP_DEPENDENTS.value,
    "retry_backoff": RetryBackoff.EXPONENTIAL.value,
    "abort_running": AbortRunning.KILL.value,
}


@dataclass(frozen=True, slots=True)
class CommandWorkstream:
    """The workstream of a one-command plan: an id, a name, its one task, every other field
    of :class:`~uet.spec.models.WorkstreamSpec` at its default."""

    id: str
    tasks: tuple[CommandTask, ...]
    name: str | None = None
    concurrency: int | None = None
    depends_on: tuple[str, ...] = ()

    def model_dump(self, *, mode: Literal["json"], exclude: set[str]) -> dict[str, Any]:
        """As ``WorkstreamSpec.model_dump(mode="json", exclude={"tasks"})``."""
        if mode != "json" or exclude != {"tasks"}:
            raise ValueError("a CommandWorkstream dumps as JSON without its tasks only")
        return {
            "id": self.id,
            "name": self.name,
            "concurrency": self.concurrency,
            "depends_on": list(self.depends_on),
            "env": {},
            "defaults": dict(_COMMAND_WORKSTREAM_DEFAULTS),
            "metadata": {},
        }


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """A task resolved for running: effective settings, dependencies as task keys."""

    key: str  # "<workstream id>/<task id>": unique in a plan
    workstream_id: str
    id: str
    spec: TaskSpec | CommandTask
    depends_on: tuple[str, ...]  # keys, including those implied by workstream depends_on
    timeout: float | None
    retries: int
    retry_delay: float
    on_failure: OnFailure
    env: Mapping[str, str]  # workstream env, then task env (variables substituted)
    cwd: str | None
    retry_backoff: RetryBackoff = RetryBackoff.EXPONENTIAL  # how retry_delay grows
    abort_running: AbortRunning = AbortRunning.KILL  # when its failure aborts the run

    @property
    def max_attempts(self) -> int:
        return 1 + self.retries

    @property
    def interactive(self) -> bool:
        """Whether it runs with uet's terminal (``interactive: true``)."""
        return self.spec.interactive

    @property
    def retry_on(self) -> tuple[int, ...] | str | None:
        """The failures worth a retry: exit codes, or a regex on the output (None: all)."""
        value = self.spec.retry_on
        return tuple(value) if isinstance(value, list) else value

    @property
    def runs_alone(self) -> bool:
        """No other task of the run runs beside it (``parallel_ok: false``, interactive)."""
        return not self.spec.parallel_ok or self.spec.interactive

    @property
    def isolation(self) -> Literal["none", "clone"]:
        """Where it runs: as given, else ``clone`` for a tool task and ``none`` for a command."""
        if self.spec.isolation is not None:
            return self.spec.isolation
        return "clone" if self.spec.tool is not None else "none"


@dataclass(frozen=True, slots=True)
class Plan:
    """Workstreams resolved into one DAG. ``tasks`` is in deterministic topological order
    (ties broken by key); ``sources`` maps workstream id to the file it came from."""

    workstreams: tuple[WorkstreamSpec | CommandWorkstream, ...]
    tasks: tuple[PlannedTask, ...]
    sources: Mapping[str, Path] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()  # what loaded but deserves a look (unknown plan keys…)
