"""Matching events against event triggers: a head-segment index, then ``where``.

``EventMatcher(triggers).match(event_type, view)`` returns the enabled event triggers whose
glob matches ``event_type`` and whose ``where`` holds for ``view``, sorted by id. ``view``
is what a ``where`` can see; :func:`event_view` builds it from the event's row and payload.

The cost per event does not grow with the number of triggers whose glob cannot match it:
literal globs sit in a dict by type, globs with a literal head segment (``task.*``) in a
dict by head, and only globs that start with a wildcard (``*.failed``, ``**``) are tried
on every event type. Which triggers an event type selects is remembered (a bounded cache:
event types are few), and among them those whose ``where`` has a literal string value
(``workstream: ws-a``) are indexed by it: an event looks its own value up, so it checks only
the triggers that name it (plus those without such a value).

``where`` semantics (docs/automation.md):

- each key is a dotted path into the view (``workstream``, ``status``, ``tasks.failed``);
  a nested mapping is the same as dotted keys (``{tasks: {failed: 0}}``);
- a scalar must equal the field (``true`` is not ``1``); a string with ``*``, ``?`` or
  ``[`` is an ``fnmatch`` glob over the field's text (``ws-*``);
- a list means any of its values; ``null`` means the field is missing or null;
- a field that holds a list matches when any of its items does (``workstream`` of a run
  event is the list of the run's workstreams);
- every key must hold (and); a missing field fails the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from uet.spec._globs import compile_event_glob, is_literal
from uet.spec._where import Check, compile_where, flatten_where, lookup
from uet.spec.triggers import TriggerKind, TriggerSpec

CACHE_MAX = 4096
"""Event types whose candidate triggers are remembered, at most (then the cache restarts)."""

__all__ = ["CACHE_MAX", "EventMatcher", "compile_where", "event_view", "lookup"]


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
    (the trigger that started the run, if one did) and ``payload`` (the raw payload).
    The row's fields win over payload keys of the same name; ``payload.KEY`` always
    reaches the payload."""
    view: dict[str, Any] = dict(payload or {})
    view["payload"] = dict(payload or {})
    if event_type is not None:
        view["type"] = event_type
    view["run_id"] = run_id
    view["task_id"] = task_id
    view["attempt_id"] = attempt_id
    view["workstreams"] = list(workstreams)
    if task_id is not None and "/" in task_id:
        view["workstream"] = task_id.split("/", 1)[0]
    else:
        view["workstream"] = list(workstreams)
    if trigger is not None or "trigger" not in view:
        view["trigger"] = trigger
    return view


def _index_key(where: Mapping[str, Any] | None) -> tuple[str, tuple[str, ...]] | None:
    """The first ``where`` path whose values are literal strings: (path, values)."""
    for path, value in flatten_where(where or {}).items():
        values = value if isinstance(value, list) else [value]
        if values and all(isinstance(v, str) and is_literal(v) for v in values):
            return path, tuple(values)
    return None


class _Bucket:
    """The triggers whose glob matches one event type, with their ``where`` indexed: each
    trigger with a literal string value (``workstream: ws-a``) sits under that value, so
    an event looks up its own value instead of checking every trigger; only the rest of
    its ``where`` (if any) is then checked."""

    __slots__ = ("indexes", "residual", "size")

    def __init__(self, entries: list[tuple[TriggerSpec, Check]]) -> None:
        residual: list[tuple[TriggerSpec, Check]] = []
        indexes: dict[str, dict[str, list[tuple[TriggerSpec, Check | None]]]] = {}
        self.size = len(entries)
        for spec, check in entries:
            key = _index_key(spec.where)
            if key is None:
                residual.append((spec, check))
                continue
            path, values = key
            rest = {p: v for p, v in flatten_where(spec.where or {}).items() if p != path}
            by_value = indexes.setdefault(path, {})
            for value in values:
                by_value.setdefault(value, []).append((spec, compile_where(rest) if rest else None))
        self.residual = tuple(residual)
        self.indexes = tuple(indexes.items())

    def match(self, view: Mapping[str, Any]) -> list[TriggerSpec]:
        found = [spec for spec, check in self.residual if check(view)] if self.residual else []
        for path, by_value in self.indexes:
            value = view[path] if path in view else lookup(view, path)
            for item in value if isinstance(value, list) else (value,):
                hits = by_value.get(item) if isinstance(item, str) else None
                if hits:
                    for spec, rest in hits:
                        if rest is None or rest(view):
                            found.append(spec)
        if len(found) > 1:
            found = sorted({spec.id: spec for spec in found}.values(), key=_by_id)
        return found


def _by_id(spec: TriggerSpec) -> str:
    return spec.id


class EventMatcher:
    """The enabled event triggers of ``triggers``, indexed by their glob's head segment."""

    def __init__(self, triggers: Iterable[TriggerSpec]) -> None:
        self._exact: dict[str, list[tuple[str, TriggerSpec, Check]]] = {}
        self._by_head: dict[str, list[tuple[Callable[[str], bool], str, TriggerSpec, Check]]] = {}
        self._wild: list[tuple[Callable[[str], bool], str, TriggerSpec, Check]] = []
        self._cache: dict[str, _Bucket] = {}
        count = 0
        for spec in triggers:
            if spec.kind != TriggerKind.EVENT or not spec.enabled or spec.event is None:
                continue
            count += 1
            check = compile_where(spec.where)
            pattern = spec.event
            if is_literal(pattern):
                self._exact.setdefault(pattern, []).append((spec.id, spec, check))
                continue
            entry = (compile_event_glob(pattern), spec.id, spec, check)
            head = pattern.split(".", 1)[0]
            if is_literal(head):
                self._by_head.setdefault(head, []).append(entry)
            else:
                self._wild.append(entry)
        self.size = count

    def __len__(self) -> int:
        return self.size

    def candidates(self, event_type: str) -> list[TriggerSpec]:
        """The triggers whose glob matches ``event_type`` (``where`` not checked), by id."""
        return [spec for spec, _ in self._select(event_type)]

    def match(self, event_type: str, payload: Mapping[str, Any]) -> list[TriggerSpec]:
        """The triggers that fire for this event, by id (``payload``: see :func:`event_view`)."""
        bucket = self._cache.get(event_type)
        if bucket is None:
            bucket = _Bucket(self._select(event_type))
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[event_type] = bucket
        return bucket.match(payload) if bucket.size else []

    def _select(self, event_type: str) -> list[tuple[TriggerSpec, Check]]:
        head = event_type.split(".", 1)[0]
        hits = [(tid, spec, check) for tid, spec, check in self._exact.get(event_type, ())]
        for entries in (self._by_head.get(head, ()), self._wild):
            hits.extend(
                (tid, spec, check) for test, tid, spec, check in entries if test(event_type)
            )
        hits.sort(key=lambda hit: hit[0])
        return [(spec, check) for _, spec, check in hits]
