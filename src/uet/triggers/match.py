"""Matching events against event triggers: a head-segment index, then ``where``.

``EventMatcher(triggers).match(event_type, view)`` returns the enabled event triggers whose
glob matches ``event_type`` and whose ``where`` holds for ``view``, sorted by id. ``view``
is what a ``where`` can see: :func:`event_view` builds it from the event's row and payload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from uet.spec.triggers import TriggerSpec


def event_view(
    payload: Mapping[str, Any] | None,
    *,
    event_type: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    attempt_id: int | None = None,
    workstreams: Sequence[str] = (),
    trigger: str | None = None,
) -> dict[str, Any]:
    """What a ``where`` sees: the payload's keys, then the row's fields (``type``,
    ``run_id``, ``task_id``, ``attempt_id``), ``workstream`` (the task's workstream for a
    task event, else the run's workstream ids), ``workstreams`` (the run's), ``trigger``
    (the trigger that started the run, if one did) and ``payload`` (the raw payload)."""
    raise NotImplementedError


class EventMatcher:
    """The enabled event triggers of ``triggers``, indexed by their glob's head segment."""

    def __init__(self, triggers: Iterable[TriggerSpec]) -> None:
        raise NotImplementedError

    def match(self, event_type: str, payload: Mapping[str, Any]) -> list[TriggerSpec]:
        """The triggers that fire for this event, by id (``payload``: see :func:`event_view`)."""
        raise NotImplementedError
