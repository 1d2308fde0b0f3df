"""Event matching (interim stand-in for the trigcore branch's module)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from uet.spec.triggers import TriggerSpec


class EventMatcher:
    def __init__(self, triggers: Iterable[TriggerSpec]) -> None:
        self.triggers = [t for t in triggers if t.event is not None]

    def match(self, event_type: str, payload: Mapping[str, Any]) -> list[TriggerSpec]:
        found = []
        for spec in self.triggers:
            assert spec.event is not None  # noqa: S101
            if not fnmatch.fnmatchcase(event_type, spec.event):
                continue
            if all(payload.get(k) == v for k, v in (spec.where or {}).items()):
                found.append(spec)
        return found
