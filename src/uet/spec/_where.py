"""``where:`` of event triggers: dotted paths into the event's view, values, lists, globs.

- each key is a dotted path into the view (``workstream``, ``status``, ``tasks.failed``);
  a nested mapping is the same as dotted keys (``{tasks: {failed: 0}}``);
- a scalar must equal the field (``true`` is not ``1``; ``1`` is ``1.0``); a string with
  ``*``, ``?`` or ``[`` is an ``fnmatch`` glob over the field's text (``ws-*``);
- a list means any of its values; ``null`` means the field is missing or null;
- a field that holds a list matches when any of its items does (``workstream`` of a run
  event is the list of the run's workstreams);
- every key must hold (and); a missing field fails the key.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from typing import Any

from uet.spec._globs import is_literal

Check = Callable[[Mapping[str, Any]], bool]
MISSING: Any = object()
"""What :func:`lookup` gives for a path the view does not have."""


def lookup(view: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of ``view`` (a key holding a dot is found whole
    first), or a sentinel when a step is missing: see :func:`compile_where`."""
    if path in view:
        return view[path]
    head, dot, rest = path.partition(".")
    if not dot or head not in view:
        return MISSING
    inner = view[head]
    return lookup(inner, rest) if isinstance(inner, Mapping) else MISSING


def flatten_where(where: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{tasks: {failed: 0}}`` → ``{"tasks.failed": 0}`` (lists and scalars stay)."""
    flat: dict[str, Any] = {}
    for key, value in where.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_where(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def value_test(expected: Any) -> Callable[[Any], bool]:
    """The test of one field's value against ``where``'s value (a scalar, glob or list)."""
    if isinstance(expected, list):
        tests = [value_test(item) for item in expected]
        return lambda value: any(test(value) for test in tests)
    if expected is None:
        return lambda value: value is None or value is MISSING
    if isinstance(expected, str) and not is_literal(expected):
        regex = re.compile(fnmatch.translate(expected)).match
        return lambda value: isinstance(value, str) and regex(value) is not None
    kind = type(expected)
    return lambda value: (
        (type(value) is kind and value == expected) or _numbers_equal(value, expected)
    )


def _numbers_equal(value: Any, expected: Any) -> bool:
    """1 and 1.0 are equal; booleans are never numbers."""
    numeric = (int, float)
    if isinstance(value, bool) or isinstance(expected, bool):
        return False
    return isinstance(value, numeric) and isinstance(expected, numeric) and value == expected


def compile_where(where: Mapping[str, Any] | None) -> Check:
    """One function that says whether a view satisfies ``where`` (None: always)."""
    if not where:
        return lambda view: True
    checks = [(path, value_test(value)) for path, value in flatten_where(where).items()]

    def check(view: Mapping[str, Any]) -> bool:
        for path, test in checks:
            value = lookup(view, path)
            if isinstance(value, list) and value:
                if not any(test(item) for item in value):
                    return False
            elif not test(value):
                return False
        return True

    return check


def where_problems(where: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """What is wrong with a ``where`` mapping: (key path, message) pairs."""
    problems: list[tuple[tuple[str, ...], str]] = []
    for key, value in where.items():
        if not isinstance(key, str) or not key or "" in key.split("."):
            problems.append(((str(key),), "a where key is a dotted field path such as status"))
        elif isinstance(value, Mapping):
            inner = where_problems(value)
            problems.extend(((key, *path), message) for path, message in inner)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, list | Mapping):
                    message = "a list in where holds values (any of them), not lists or mappings"
                    problems.append(((key, str(index)), message))
    return problems


def permits(where: Mapping[str, Any] | None, known: Mapping[str, Any]) -> bool:
    """Whether ``where`` may hold for an event of which only ``known`` fields are known:
    a key about any other field is taken as satisfiable (for static cycle checks)."""
    if not where:
        return True
    for path, expected in flatten_where(where).items():
        if path not in known:
            continue
        test = value_test(expected)
        value = known[path]
        values = value if isinstance(value, list) and value else [value]
        if not any(test(item) for item in values):
            return False
    return True
