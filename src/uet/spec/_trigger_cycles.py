"""Static detection of event triggers that would fire each other forever.

Trigger A *feeds* event trigger B when something A's fire makes could match B:

- the daemon's own events of A's fire (``trigger.fired`` and ``trigger.skipped``, whose
  ``trigger`` field is A's id), when B's glob matches them and B's ``where`` allows them;
- the events of the run A starts (``run.*``, ``task.*``, ``route.*``, ``breaker.*``,
  ``agent.*``: ``RUN_EVENT_HEADS``), when B's glob can match such a type (its head segment
  is one of those, or a wildcard) and B's ``where`` allows a run of
  A's target: its ``workstream``/``workstreams`` are the target's workstream ids and its
  ``trigger`` is A's id. Keys about other fields (``status``…) cannot be known before the
  run, so they are taken as satisfiable: ``run.completed`` of ws-a with ``status:
  failed`` targeting ws-a still loops whenever ws-a keeps failing.

A script or ``exec`` target's run has a workstream id of its own that no literal ``where``
value names: only a glob that matches anything (``*``) or a ``where`` without a workstream
key lets such a run feed a trigger.

A cycle of this graph (A feeds A; A feeds B feeds A) is refused at load time; the daemon
caps chains at run time too (a ``trigger.skipped`` with its reason).
"""

from __future__ import annotations

from collections.abc import Iterable

from uet.spec._globs import compile_event_glob, is_literal
from uet.spec._where import permits
from uet.spec.graph import find_cycles
from uet.spec.triggers import TriggerKind, TriggerSpec

DAEMON_EVENTS = ("trigger.fired", "trigger.skipped")
"""What the daemon emits for a fire (their ``trigger`` field names the trigger)."""
RUN_EVENT_HEADS = frozenset({"run", "task", "route", "breaker", "agent"})
"""Head segments of the event types a run emits (the catalog's run, task, attempt and agent
scopes; a test keeps this in step with ``uet.events.catalog``)."""
OPAQUE_WORKSTREAM = "\0script-or-exec"
"""Stands for the workstream id of a script or exec run: no literal where value names it."""


def _may_match_run_event(pattern: str) -> bool:
    head = pattern.split(".", 1)[0]
    return not is_literal(head) or head in RUN_EVENT_HEADS


def feeds(source: TriggerSpec, target: TriggerSpec) -> bool:
    """Whether a fire of ``source`` may make an event that fires ``target``."""
    if target.kind != TriggerKind.EVENT or target.event is None or not target.enabled:
        return False
    matches = compile_event_glob(target.event)
    for event_type in DAEMON_EVENTS:
        if matches(event_type) and permits(target.where, {"trigger": source.id}):
            return True
    if not _may_match_run_event(target.event):
        return False
    ids = list(source.target.workstream_ids) or [OPAQUE_WORKSTREAM]
    known = {"workstream": ids, "workstreams": ids, "trigger": source.id}
    return permits(target.where, known)


def find_trigger_cycles(specs: Iterable[TriggerSpec]) -> list[list[str]]:
    """Each cycle of triggers that feed each other, as ``[a, b, …, a]`` (a feeds b…)."""
    enabled = [spec for spec in specs if spec.enabled]
    events = [spec for spec in enabled if spec.kind == TriggerKind.EVENT]
    graph = {
        spec.id: sorted(other.id for other in events if feeds(spec, other)) for spec in enabled
    }
    return find_cycles(graph)
