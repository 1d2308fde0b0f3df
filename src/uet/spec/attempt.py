"""The tool-attempt contract: what the engine tells the agent runner about one attempt.

The engine (:mod:`uet.engine.tooltasks`) writes a :class:`ToolAttempt` as JSON next to the
run's other attempt files and starts ``python -m uet.agents.runner FILE``; the runner reads
it back with :meth:`ToolAttempt.read`. Both sides import this one model, so a field added
on one side exists on the other, and a file of another contract version is refused with a
clear message instead of being half understood. The runner's exit code is the answer:
0 done, :data:`RATE_LIMITED_EXIT`, :data:`CANNOT_START_EXIT`, :data:`SCOPE_REJECTED_EXIT`,
anything else failed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

import pydantic

from uet.contain.paths import make_dirs, write_text
from uet.contain.rules import Allowances
from uet.spec._bounds import SandboxMode
from uet.spec.exits import (
    CANNOT_START_EXIT,
    FALLBACK_EXITS,
    RATE_LIMITED_EXIT,
    SCOPE_REJECTED_EXIT,
)
from uet.spec.models import FixLoop
from uet.spec.tools import ToolProfile

__all__ = [  # the exit codes are part of the contract: importable from here too
    "ATTEMPT_VERSION",
    "CANNOT_START_EXIT",
    "FALLBACK_EXITS",
    "RATE_LIMITED_EXIT",
    "SCOPE_REJECTED_EXIT",
    "ToolAttempt",
    "attempt_file",
]

ATTEMPT_VERSION = 1
"""The version of :class:`ToolAttempt`; bumped when a field changes meaning or goes away."""


class ToolAttempt(pydantic.BaseModel):
    """One attempt of a tool task, as the agent runner needs it."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    version: int = ATTEMPT_VERSION
    run_id: str
    task: str  # the task's key in the run (workstream/task)
    attempt: int = pydantic.Field(ge=1)  # the engine's attempt number of the task
    tool: str
    profile: ToolProfile
    prompt: str = ""
    kind: str | None = None
    files_scope: tuple[str, ...] = ()
    acceptance: tuple[str, ...] = ()  # shell commands: the gate, run in the clone
    acceptance_instructions: tuple[str, ...] = ()  # prose: put into the prompt, never run
    fix_loop: FixLoop | None = None  # tries in the clone while the gate fails
    protected_paths: tuple[str, ...] = ()  # the full list (defaults and configuration)
    isolation: Literal["none", "clone"] = "clone"
    previous_error: str | None = None  # the output tail of the task's previous attempt
    root: Path  # the project root (the repository the clone is made from)
    home: Path  # uet's home in the project
    db: str  # the store's URL: the runner records its decisions there
    env: dict[str, str] = pydantic.Field(default_factory=dict)  # the task's own (and its ws')
    allowances: Allowances = Allowances()  # what the content rules allow the change
    sandbox: SandboxMode = "auto"  # the task's, else the profile's
    network: bool = True

    @pydantic.field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != ATTEMPT_VERSION:
            raise ValueError(
                f"tool-attempt contract version {value}, this uet reads version "
                f"{ATTEMPT_VERSION} (was the run started by another uet?)"
            )
        return value

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> ToolAttempt:
        return cls.model_validate_json(text)

    def write(self, path: Path) -> Path:
        """Write the attempt to ``path`` atomically (a reader never sees half a file)."""
        temporary = path.with_suffix(".tmp")
        write_text(path.parent, temporary, self.to_json())
        os.replace(temporary, path)
        return path

    @classmethod
    def read(cls, path: Path) -> ToolAttempt:
        return cls.from_json(Path(path).read_bytes())

    @property
    def max_tries(self) -> int:
        """Tool calls this attempt may make in its clone (1 without a fix loop)."""
        return self.fix_loop.max_attempts if self.fix_loop is not None else 1


def attempt_file(where: Path, run_id: str, task: str, attempt: int, suffix: str) -> Path:
    """``<where>/<run>/<task>-<attempt><suffix>`` with safe names, its folder made: the
    spec, prompt and patch files of a tool task's attempts."""
    folder = make_dirs(where.parent, where / _safe(run_id))  # never through a link out
    return folder / f"{_safe(task)}-{attempt}{suffix}"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)
