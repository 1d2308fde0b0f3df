"""Tool tasks (``tool: aider`` / ``tool: auto``) in the run loop: routing, jobs, outcomes.

The engine chooses the tool (the router, or the task's named tool), records the decision,
and runs the *agent runner* — ``python -m uet.agents.runner SPEC.json`` — as the attempt's
process, so timeouts, cancel and crash recovery treat it like any command (the runner and
the AI tool it starts share the attempt's process group). The runner does the git side:
an isolated clone, the prompt file, the tool, the files_scope check, the acceptance
commands, an explicit-path commit and the merge queue (see :mod:`uet.agents.runner`).

The attempt is described to the runner by one typed model both sides import
(:class:`uet.spec.attempt.ToolAttempt`, versioned, written as JSON; loaded with the first
tool task, like routing and the tool profiles). The runner's exit code
says what happened: 0 done, :data:`RATE_LIMITED_EXIT` the tool was rate-limited or out of
quota (its breaker opens at once and the task goes to the next tool of its fallback chain
without spending a retry), :data:`CANNOT_START_EXIT` the tool's program could not start (for
a routed task: the same, its breaker opened at once; a named tool's attempt is a plain
failure), :data:`SCOPE_REJECTED_EXIT` the tool changed files outside the task's files_scope
or a protected path (nothing of it was committed), anything else failed.

For ``tool: auto`` tasks the tools the router may choose are checked before the run starts
(:mod:`uet.engine.toolroute`): one not usable here is passed over with the reason.
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uet import defaults
from uet.config import Settings
from uet.errors import UsageError
from uet.execution import Outcome
from uet.spec.exits import (
    CANNOT_START_EXIT,
    FALLBACK_EXITS,
    RATE_LIMITED_EXIT,
    SCOPE_REJECTED_EXIT,
)
from uet.spec.planned import PlannedTask
from uet.state.records import DecisionRecord
from uet.states import AttemptState

if TYPE_CHECKING:  # routing, the tool profiles and containment load with a tool task only
    from uet.contain.rules import Allowances
    from uet.contain.sandbox import Probe
    from uet.routing import Router, RoutingConfig, Transition
    from uet.spec._bounds import SandboxMode
    from uet.spec.tools import ToolProfile

log = logging.getLogger(__name__)

AGENT_RUNNER = "uet.agents.runner"
"""The module run (``python -m``) for each attempt of a tool task; never imported here."""

__all__ = [  # what the engine and recovery use; the exit codes live with the contract
    "AGENT_RUNNER",
    "CANNOT_START_EXIT",
    "FALLBACK_EXITS",
    "RATE_LIMITED_EXIT",
    "SCOPE_REJECTED_EXIT",
    "Choice",
    "ToolTasks",
    "Tooling",
    "load_tooling",
]


@dataclass(frozen=True, slots=True)
class Tooling:
    """What tool tasks need, loaded (and checked) before a run starts."""

    tools: Mapping[str, ToolProfile]
    routing: RoutingConfig
    db: str  # the runner records its agent and merge decisions in the same store
    protected_paths: tuple[str, ...] = defaults.PROTECTED_PATHS  # and the configured ones
    capable: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # kind -> tools
    unavailable: Mapping[str, str] = field(default_factory=dict)  # tool -> why not usable here
    sandbox: Probe | None = None  # None: no tool task of the run asks for the sandbox
    sandbox_setting: SandboxMode | None = None  # the project's (UET_SANDBOX), over profiles'

    def router_inputs(self) -> dict[str, Any]:
        """The keyword arguments of :class:`Router` that come from the tools."""
        from uet.routing import unknown_tools  # noqa: PLC0415 - see the imports

        limits = {n: t.max_parallel for n, t in self.tools.items() if t.max_parallel}
        unusable = dict.fromkeys(unknown_tools(self.routing, self.tools), "no tool profile")
        return {
            "max_parallel": limits,
            "capable": self.capable,
            "unavailable": {**unusable, **self.unavailable},
        }


@dataclass(frozen=True, slots=True)
class Choice:
    tool: str | None
    reason: str
    payload: dict[str, Any] = field(default_factory=dict)  # of the route.decided event
    record: DecisionRecord | None = None  # to record in the tick (None: the router did)
    transitions: tuple[Transition, ...] = ()  # breakers that went half-open while deciding


class ToolTasks:
    """Routing and jobs of the tool tasks of one run loop."""

    def __init__(
        self,
        tooling: Tooling,
        router: Router,
        *,
        run_id: str,
        root: Path,
        home: Path,
    ) -> None:
        self.tooling = tooling
        self.router = router
        self.run_id = run_id
        self.root = root
        self.home = home
        self.excluded: dict[str, set[str]] = defaultdict(set)  # task key -> tools given up
        self.last_error: dict[str, str] = {}  # task key -> output tail of its last failure
        self.attempts: dict[int, tuple[str, bool]] = {}  # attempt -> (tool, the router's)
        self._noticed = False  # the sandbox decision is recorded once per run

    def choose(self, task: PlannedTask, now: float) -> Choice:
        """The tool for the next attempt of ``task`` (None: no tool can take it)."""
        named = task.spec.tool or "auto"
        if named != "auto":
            record = DecisionRecord(
                category="routing",
                chosen=named,
                reason="named by the task",
                ts=now,
                run_id=self.run_id,
                task_id=task.key,
                alternatives=[named],
            )
            return Choice(named, "named by the task", {"tool": named, "named": True}, record)
        decision = self.router.decide(
            task.spec.kind,
            risk=task.spec.risk,
            complexity=task.spec.complexity,
            task_id=task.key,
            exclude=self.excluded[task.key],
        )
        payload: dict[str, Any] = {
            "tool": decision.tool,
            "kind": task.spec.kind,
            "candidates": list(decision.candidates),
            "reason": decision.reason,
            **decision.data(),
        }
        return Choice(decision.tool, decision.reason, payload, transitions=decision.transitions)

    def job_argv(self, task: PlannedTask, attempt_id: int, number: int, tool: str) -> list[str]:
        """Write the attempt's spec file; the argv that runs it."""
        from uet.spec.attempt import ToolAttempt, attempt_file  # noqa: PLC0415 - see imports

        self.attempts[attempt_id] = (tool, task.spec.tool == "auto")
        profile = self.tooling.tools[tool]
        attempt = ToolAttempt(
            run_id=self.run_id,
            task=task.key,
            attempt=number,
            tool=tool,
            profile=profile,
            prompt=task.spec.prompt or "",
            kind=task.spec.kind,
            files_scope=tuple(task.spec.files_scope),
            acceptance=tuple(task.spec.acceptance),
            acceptance_instructions=tuple(task.spec.acceptance_instructions),
            fix_loop=task.spec.fix_loop,
            protected_paths=self.tooling.protected_paths,
            isolation=task.isolation,
            previous_error=self.last_error.get(task.key),
            root=self.root,
            home=self.home,
            db=self.tooling.db,
            env=dict(task.env),
            allowances=allowances_of(task),
            sandbox=sandbox_mode(task, profile, self.tooling.sandbox_setting),
            network=profile.network if task.spec.network is None else task.spec.network,
        )
        path = attempt_file(self.home / "agents" / ".tasks", self.run_id, task.key, number, ".json")
        attempt.write(path)
        return [sys.executable, "-m", AGENT_RUNNER, str(path)]

    def notices(self, now: float) -> list[DecisionRecord]:
        """The ``sandbox`` decision of the run, once (at its first tool task)."""
        if self._noticed or self.tooling.sandbox is None:
            return []
        self._noticed = True
        found = self.tooling.sandbox
        if not found.available:
            log.warning("sandbox: %s; tool tasks run without it (docs/security.md)", found.reason)
        return [
            DecisionRecord(
                category="sandbox",
                chosen="bubblewrap" if found.available else "none",
                reason=found.reason,
                ts=now,
                run_id=self.run_id,
                alternatives=["bubblewrap", "none"],
                data=found.to_dict(),
            )
        ]

    def timeout(self, task: PlannedTask, tool: str) -> float | None:
        return task.timeout if task.timeout is not None else self.tooling.tools[tool].timeout

    def finished(
        self, attempt_id: int, task: PlannedTask, outcome: Outcome, latency: float
    ) -> tuple[str | None, list[Transition], bool]:
        """Record how the tool did. Returns (tool, breaker transitions, whether to fall back
        to another tool without spending a retry)."""
        entry = self.attempts.pop(attempt_id, None)
        if entry is None:
            return None, [], False
        tool, routed = entry  # routed: the router chose it, so it holds one of its slots
        if outcome.state is AttemptState.CANCELED:
            if routed:
                self.router.release(tool)
            return tool, [], False
        ok = outcome.state is AttemptState.SUCCEEDED
        limited = outcome.exit_code == RATE_LIMITED_EXIT
        missing = outcome.exit_code == CANNOT_START_EXIT and routed  # a named tool: a failure
        transitions = self.router.record_outcome(
            tool,
            ok=ok,
            latency=latency,
            output=None if ok else outcome.output_tail,
            rate_limited=limited,
            task_id=task.key,
            reserved=routed,
            cannot_start=f"could not start (exit {CANNOT_START_EXIT})" if missing else None,
        )
        if not ok:
            self.last_error[task.key] = (outcome.output_tail or outcome.error or "")[-2000:]
        moves_on = (limited and routed) or missing  # the next tool; a named tool is retried
        if moves_on:
            self.excluded[task.key].add(tool)
        return tool, transitions, moves_on

    def wait_before_retry(self, task: PlannedTask, now: float) -> float:
        """Seconds a task that names its tool should wait before its retry: until the tool's
        open breaker lets a probe through (0 when it is not open)."""
        if task.spec.tool in (None, "auto"):
            return 0.0
        from uet.routing import BreakerState  # noqa: PLC0415 - see the imports

        breaker = self.router.state.breakers.get(task.spec.tool or "")
        if breaker is None or breaker.state is not BreakerState.OPEN or breaker.retry_at is None:
            return 0.0
        return max(0.0, breaker.retry_at - now)

    def close(self) -> None:
        self.router.close()


def load_tooling(tasks: Sequence[PlannedTask], settings: Settings) -> Tooling | None:
    """The tools and routing of the project when ``tasks`` has tool tasks (else None).

    Called before a run is recorded: a bad ``tools`` or ``routing`` section, or a task that
    names a tool no profile defines, is an error (exit 2) and nothing starts.
    """
    tool_tasks = [task for task in tasks if task.spec.tool is not None]
    if not tool_tasks:
        return None
    from uet.engine.toolroute import routing_inputs  # noqa: PLC0415 - see the imports
    from uet.routing import load_routing  # noqa: PLC0415
    from uet.spec.tools import load_tools  # noqa: PLC0415

    tools = load_tools(settings)
    unknown = sorted(
        f"{task.key}: tool {task.spec.tool!r}"
        for task in tool_tasks
        if task.spec.tool != "auto" and task.spec.tool not in tools
    )
    if unknown:
        raise UsageError(
            f"unknown tools ({', '.join(unknown)}); known: {', '.join(sorted(tools))} "
            f"(see `uet tools list`)"
        )
    routing = load_routing(settings)
    protected = settings.all_protected_paths
    found = _sandbox_probe(tool_tasks, tools, settings.sandbox)
    kinds = {task.spec.kind for task in tool_tasks if task.spec.tool == "auto"}
    if not kinds:
        return Tooling(
            tools=tools,
            routing=routing,
            db=settings.db,
            protected_paths=protected,
            sandbox=found,
            sandbox_setting=settings.sandbox,
        )
    capable, unavailable = routing_inputs(tools, routing, kinds)  # checks the candidates
    return Tooling(
        tools=tools,
        routing=routing,
        db=settings.db,
        protected_paths=protected,
        capable=capable,
        unavailable=unavailable,
        sandbox=found,
        sandbox_setting=settings.sandbox,
    )


def allowances_of(task: PlannedTask) -> Allowances:
    """What the content rules allow the task's change (its fields of the same names)."""
    from uet.contain.rules import Allowances  # noqa: PLC0415 - see the imports

    spec = task.spec
    return Allowances(
        allow_symlinks=spec.allow_symlinks,
        allow_binary=spec.allow_binary,
        executables=tuple(spec.executables),
        max_file_bytes=spec.max_file_bytes or defaults.MAX_FILE_BYTES,
    )


def sandbox_mode(
    task: PlannedTask, profile: ToolProfile, setting: SandboxMode | None = None
) -> SandboxMode:
    """The task's ``sandbox``, else the project's (``UET_SANDBOX``), else its profile's."""
    return task.spec.sandbox or setting or profile.sandbox


def _sandbox_probe(
    tasks: Sequence[PlannedTask],
    tools: Mapping[str, ToolProfile],
    setting: SandboxMode | None,
) -> Probe | None:
    """Whether the sandbox works here, when a task may use it (None: none may);
    :class:`SandboxUnavailableError` (exit 3) when a task requires it and it cannot start."""
    from uet.contain.sandbox import SandboxUnavailableError  # noqa: PLC0415 - see the imports
    from uet.contain.sandbox import probe as probe_sandbox  # noqa: PLC0415

    modes: dict[str, SandboxMode] = {}
    for task in tasks:
        named = tools.get(task.spec.tool or "")
        profiles = [named] if named is not None else list(tools.values())
        for profile in profiles:
            mode = sandbox_mode(task, profile, setting)
            if modes.get(task.key) != "required":
                modes[task.key] = mode
    if all(mode == "none" for mode in modes.values()):
        return None
    found = probe_sandbox()
    required = sorted(key for key, mode in modes.items() if mode == "required")
    if required and not found.available:
        raise SandboxUnavailableError(
            f"sandbox: required by {', '.join(required)}, but {found.reason} "
            f"(install bubblewrap, or set sandbox: auto or none; see docs/security.md)"
        )
    return found
