"""The catalog of every event uet emits: its name, when it is emitted, its payload fields.

One table in code, so that what the engine writes, what subscribers (triggers, alerts,
reports, the dashboard) read and what ``docs/events.md`` says cannot drift apart: the docs
page is generated from it (``python -m uet.events.catalog > docs/events.md``, checked by a
test) and tests check every event real runs write against it (:func:`problems`).

Payload field types are the JSON types the payload holds once stored: ``int``, ``float``
(``int`` is accepted), ``str``, ``bool``, ``list``, ``dict``; ``?`` after a type allows
null. A field marked optional may be absent.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Scope = Literal["run", "task", "attempt", "agent", "trigger", "patch"]
"""Which ids an event carries: ``run`` (run id), ``task`` (run and task id), ``attempt``
(run, task and attempt id), ``agent`` (run and task id when the agent worked for a task),
``trigger`` (the run id of the run a fire started, none for skips and the daemon's own),
``patch`` (none: the patch id is in the payload)."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str  # int | float | str | bool | list | dict, with "?" for nullable
    doc: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    scope: Scope
    doc: str
    fields: tuple[Field, ...] = field(default=())

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def _f(name: str, type_: str, doc: str, *, optional: bool = False) -> Field:
    return Field(name, type_, doc, optional)


_ATTEMPT = _f("attempt", "int", "the attempt's number (1 for the first)")
_TOOL = _f("tool", "str", "the tool's profile name")
_OUTCOME = _f(
    "outcome", "str", "succeeded | failed | timed_out | needs_input | canceled | lost | error"
)

CATALOG: tuple[EventType, ...] = (
    # -- runs ---------------------------------------------------------------------------------
    EventType(
        "run.created",
        "run",
        "A run was recorded (before anything runs).",
        (_f("tasks", "int", "tasks in the run"),),
    ),
    EventType("run.started", "run", "An orchestrator took the run and starts its tasks."),
    EventType("run.resumed", "run", "`uet resume` goes on with an interrupted run."),
    EventType(
        "run.completed",
        "run",
        "Every task succeeded (SPEC.md's run.completed).",
        (
            _f("status", "str", "succeeded"),
            _f("tasks", "dict", "tasks by final state"),
        ),
    ),
    EventType(
        "run.failed",
        "run",
        "The run ended with a failed or canceled task.",
        (
            _f("status", "str", "failed"),
            _f("tasks", "dict", "tasks by final state"),
        ),
    ),
    EventType(
        "run.canceled",
        "run",
        "The run was canceled (`uet cancel`).",
        (
            _f("status", "str", "canceled", optional=True),
            _f("tasks", "dict", "tasks by final state", optional=True),
            _f("reconciled", "bool", "written by recovery for a dead orchestrator", optional=True),
        ),
    ),
    EventType(
        "run.interrupted",
        "run",
        "The run stopped on a signal, or its dead orchestrator was found; `uet resume` goes on.",
        (
            _f("reconciled", "bool", "written by recovery for a dead orchestrator", optional=True),
            _f(
                "executor",
                "int",
                "pid of the run's executor process, which still runs its tasks",
                optional=True,
            ),
        ),
    ),
    EventType("run.cancel_requested", "run", "`uet cancel` asked the run's orchestrator to stop."),
    # -- tasks --------------------------------------------------------------------------------
    EventType("task.ready", "task", "The task's dependencies are done: it may be dispatched."),
    EventType(
        "task.started",
        "attempt",
        "An attempt was dispatched (recorded before its process starts).",
        (_ATTEMPT,),
    ),
    EventType(
        "task.output",
        "attempt",
        "Output lines of a running attempt (at most 200 an event).",
        (_f("lines", "list", "the lines, decoded, without newlines"),),
    ),
    EventType(
        "task.retrying",
        "task",
        "An attempt did not succeed and the task will run again (a retry, or the next tool).",
        (
            _ATTEMPT,
            _f("outcome", "str", "the attempt's outcome, or rate_limited, or cannot_start"),
            _f("delay", "float", "seconds before the retry", optional=True),
            _f(
                "fallback",
                "str",
                "the rate-limited (or could-not-start) tool given up for this task",
                optional=True,
            ),
        ),
    ),
    EventType(
        "task.completed",
        "attempt",
        "The task succeeded (SPEC.md's task.completed with outcome succeeded).",
        (
            _ATTEMPT,
            _OUTCOME,
            _f("exit_code", "int?", "the process's exit code"),
            _f("adopted", "bool", "taken from the journal by `uet resume`", optional=True),
        ),
    ),
    EventType(
        "task.adopted",
        "attempt",
        "An attempt that ended after its orchestrator died, as its executor process journaled "
        "it, taken by `uet resume` (a success is task.completed); judged like any outcome.",
        (
            _ATTEMPT,
            _OUTCOME,
            _f("exit_code", "int?", "the process's exit code"),
            _f("adopted", "bool", "always true"),
        ),
    ),
    EventType(
        "task.failed",
        "attempt",
        "The task failed for good: its last attempt failed, timed out or could not run "
        "(SPEC.md's task.completed with a failed outcome).",
        (
            _ATTEMPT,
            _OUTCOME,
            _f("exit_code", "int?", "the process's exit code (negative: killed by a signal)"),
            _f("error", "str?", "why it could not run, or how it was stopped"),
            _f(
                "needs_input",
                "str?",
                "the prompt it waited at (outcome needs_input): "
                "'<pattern>: <line>', see uet.execution.prompts",
            ),
        ),
    ),
    EventType(
        "task.canceled",
        "task",
        "The task will not run (or was stopped): the run was canceled or aborted.",
        (
            _f("attempt", "int", "the attempt's number, when one was running", optional=True),
            _f("outcome", "str", "canceled", optional=True),
            _f("exit_code", "int?", "the stopped process's exit code", optional=True),
            _f("because", "str", "the task whose failure aborted the run", optional=True),
        ),
    ),
    EventType(
        "task.skipped",
        "task",
        "A dependency failed: the task will not run.",
        (_f("because", "str", "the failed task"),),
    ),
    EventType(
        "task.interrupted",
        "attempt",
        "An attempt was stopped by a signal to uet, or never started before uet died; it "
        "uses no retry.",
        (
            _f("attempt", "int", "the attempt's number", optional=True),
            _f("reason", "str", "why it never started (from the run's journal)", optional=True),
        ),
    ),
    EventType(
        "task.lost",
        "attempt",
        "An attempt's orchestrator died while it ran and its outcome is unknown.",
        (_ATTEMPT,),
    ),
    # -- routing ------------------------------------------------------------------------------
    EventType(
        "route.decided",
        "task",
        "A tool was chosen for a tool task's next attempt (or none could take it).",
        (
            _f("tool", "str?", "the tool chosen"),
            _f("named", "bool", "the task named its tool", optional=True),
            _f("kind", "str?", "the task's kind", optional=True),
            _f("candidates", "list", "tools considered, in order", optional=True),
            _f("reason", "str", "why", optional=True),
            _f("rule", "str?", "the routing rule that matched", optional=True),
            _f("strategy", "str", "the rule's strategy", optional=True),
            _f("skipped", "dict", "tools skipped, with why", optional=True),
            _f("capable_of", "str", "no rule applied: the kind the tools declare", optional=True),
        ),
    ),
    *(
        EventType(
            f"breaker.{state}",
            "task",
            f"A tool's circuit breaker went {state.replace('_', '-')}.",
            (_TOOL, _f("from", "str", "the breaker's state before"), _f("reason", "str", "why")),
        )
        for state in ("opened", "half_open", "closed")
    ),
    # -- agents -------------------------------------------------------------------------------
    EventType(
        "agent.created",
        "agent",
        "An isolated agent clone was made.",
        (_f("agent", "str", "the agent's id"), _f("base", "str", "the commit it starts from")),
    ),
    *(
        EventType(
            name,
            "agent",
            doc,
            (
                _f("agent", "str", "the agent's id"),
                _f("code", "str", "the merge queue's result code"),
                _f("target", "str", "the branch merged into"),
                _f("before", "str?", "the target's commit before"),
                _f("after", "str?", "the target's commit after"),
                _f("tip", "str?", "the agent branch's commit"),
                _f("rebased", "bool", "the agent's work was rebased first"),
                _f("files", "list", "changed paths (at most 200)"),
                _f("gate", "dict", "the gate command's result", optional=True),
            ),
        )
        for name, doc in (
            ("agent.merged", "An agent's work was merged into its target."),
            ("agent.merge_refused", "The merge queue refused an agent's work (scope, gate…)."),
        )
    ),
    EventType(
        "agent.recycled",
        "agent",
        "An agent's clone was reset for new work (its old work archived).",
        (
            _f("agent", "str", "the agent's id"),
            _f("kept", "str", "what was kept"),
            _f("archive", "str?", "the archive ref of the old work"),
        ),
    ),
    EventType(
        "agent.removed",
        "agent",
        "An agent's clone was removed (unmerged work archived first).",
        (_f("agent", "str", "the agent's id"), _f("archive", "str?", "the archive ref")),
    ),
)

_TRIGGER = _f("trigger", "str", "the trigger's id")
_FIRE_KEY = _f("fire_key", "str", "the fire's key: every:, cron:, event:, files:, manual:…")
_SCHEDULED = _f("scheduled_for", "float", "the schedule's time (cron, every)", optional=True)

CATALOG = (
    *CATALOG,
    # -- triggers -----------------------------------------------------------------------------
    EventType(
        "trigger.fired",
        "trigger",
        "A trigger started a run (written with the run, in the run's log).",
        (
            _TRIGGER,
            _FIRE_KEY,
            _f("kind", "str", "event | files | cron | every"),
            _f("reason", "str", "why it fired"),
            _SCHEDULED,
        ),
    ),
    EventType(
        "trigger.skipped",
        "trigger",
        "A fire started no run: overlap, catch-up, max_runs_per_hour or an event cycle.",
        (_TRIGGER, _FIRE_KEY, _f("reason", "str", "why it was skipped"), _SCHEDULED),
    ),
    EventType(
        "trigger.degraded",
        "trigger",
        "The daemon's file watcher polls instead of using the kernel's notifications.",
        (_f("reason", "str", "why"),),
    ),
)

_PATCH_MOVES = (
    ("validated", "The patch applied in a clone at the target's head and its checks ran."),
    ("queued", "The patch was routed by its confidence: auto_merge, review or manual."),
    ("applied", "The patch was committed in its clone and handed to the merge queue."),
    ("verified", "The merge queue checked the (possibly rebased) result."),
    ("committed", "The target branch holds the patch."),
    ("apply_failed", "The patch does not apply to the target's head."),
    ("rolled_back", "The merge queue refused the patch; the target is untouched."),
    ("quarantined", "A tamper rule sent the patch to the manual queue."),
    ("dropped", "The patch was given up."),
)
_PATCH = _f("patch", "str", "the patch's id")
_PATCH_REASON = _f("reason", "str", "why it moved")

CATALOG = (
    *CATALOG,
    # -- patches ------------------------------------------------------------------------------
    EventType(
        "patch.created",
        "patch",
        "A patch was recorded in the patch ledger.",
        (
            _PATCH,
            _f("from", "str?", "null: a new patch"),
            _PATCH_REASON,
            _f("fixer", "str", "what made it"),
            _f("findings", "list", "fingerprints of the findings it fixes"),
            _f("files", "list", "the files it changes"),
        ),
    ),
    *(
        EventType(
            f"patch.{state}",
            "patch",
            doc,
            (
                _PATCH,
                _f("from", "str", "its state before"),
                _PATCH_REASON,
                _f("queue", "str", "auto_merge | review | manual", optional=True),
                _f("score", "float", "its confidence score", optional=True),
                _f("branch", "str", "its review branch", optional=True),
                _f("commit", "str?", "the commit it became", optional=True),
                _f("rules", "list", "the tamper rules it broke", optional=True),
            ),
        )
        for state, doc in _PATCH_MOVES
    ),
)

BY_NAME: Mapping[str, EventType] = {event.name: event for event in CATALOG}

SPEC_NAMES: Mapping[str, str] = {
    "task.completed": "task.completed (outcome succeeded) and task.failed (any other outcome)",
    "run.completed": "run.completed (succeeded) and run.failed",
}
"""SPEC.md's event names and the ones uet writes for them, where they differ."""

_TYPES: Mapping[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list, tuple),
    "dict": (dict,),
}


def names(pattern: str = "*") -> list[str]:
    """The catalog's event names matching a glob (as bus subscriptions match them)."""
    return [e.name for e in CATALOG if fnmatch.fnmatchcase(e.name, pattern)]


def problems(
    type_: str, payload: Mapping[str, Any] | None, *, run_id: str | None, task_id: str | None
) -> list[str]:
    """What is wrong with an event against the catalog (empty: nothing)."""
    event = BY_NAME.get(type_)
    if event is None:
        return [f"{type_}: not in the event catalog"]
    found: list[str] = []
    if event.scope in ("run", "task", "attempt") and run_id is None:
        found.append(f"{type_}: no run id")
    if event.scope in ("task", "attempt") and task_id is None:
        found.append(f"{type_}: no task id")
    body = dict(payload or {})
    for spec in event.fields:
        if spec.name not in body:
            if not spec.optional:
                found.append(f"{type_}: payload lacks {spec.name!r}")
            continue
        value = body[spec.name]
        nullable = spec.type.endswith("?")
        expected = _TYPES[spec.type.rstrip("?")]
        if value is None and nullable:
            continue
        if isinstance(value, bool) and bool not in expected:
            found.append(f"{type_}: {spec.name!r} is a bool, not {spec.type}")
        elif not isinstance(value, expected):
            found.append(f"{type_}: {spec.name!r} is {type(value).__name__}, not {spec.type}")
    extra = sorted(set(body) - {f.name for f in event.fields})
    if extra:
        found.append(f"{type_}: payload fields not in the catalog: {', '.join(extra)}")
    return found


def markdown() -> str:
    """``docs/events.md``: the catalog as a page."""
    out = [
        "# Events",
        "",
        "<!-- generated by `python -m uet.events.catalog > docs/events.md`; a test checks it -->",
        "",
        "Every state change of a run is an event, committed in order with a per-run `seq`",
        '(`uet events RUN_ID`, `--type GLOB`). Subscribers (`bus.subscribe("task.*", fn)`)',
        "match names by glob. Ids: *run* events carry the run id, *task* events the run and",
        "task ids, *attempt* events the attempt id too, *agent* events the run and task ids",
        "when the agent worked for a task, *patch* events none (the patch id is in the",
        "payload). Payload fields are JSON; `?` allows null;",
        "*optional* fields may be absent.",
        "",
        "SPEC.md's names and uet's, where they differ:",
        "",
        "| SPEC.md | uet writes |",
        "|---|---|",
        *(f"| `{spec}` | {ours} |" for spec, ours in SPEC_NAMES.items()),
        "",
    ]
    for event in CATALOG:
        out += [f"## `{event.name}` ({event.scope})", "", event.doc, ""]
        if event.fields:
            out += ["| field | type | |", "|---|---|---|"]
            for spec in event.fields:
                note = " *(optional)*" if spec.optional else ""
                out.append(f"| `{spec.name}` | `{spec.type}` | {spec.doc}{note} |")
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover - the docs generator
    print(markdown(), end="")
