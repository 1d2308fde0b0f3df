"""Files scopes: which repository paths a task or an agent may change.

A scope is a list of patterns over ``/``-separated paths relative to the repository root:

* ``src/app/io.py`` — that file;
* ``src/app/`` or ``src/app`` — that directory and everything below it (a pattern without
  wildcards also matches as a directory prefix);
* ``*`` and ``?`` match within one path segment, ``**`` any number of segments
  (``src/**/*.py``, ``**/test_*.py``); ``[abc]`` a character class.

An empty scope allows everything (no scope was set).

*Protected paths* (:class:`ProtectedPaths`, default list in ``uet.defaults.PROTECTED_PATHS``)
are paths an agent may never change, whatever its scope, unless the scope names them
*explicitly*: a scope pattern that matches the path and spells out the protected pattern's
leading literal segments (``.github/workflows/ci.yml`` or ``.github/`` for ``.github/**``;
``config/tools.yaml`` for ``config/*.yaml``; ``uet.toml`` itself), so that a catch-all like
``**`` or ``*.toml`` never opens them. For a protected pattern that starts with a wildcard
(``**/.env``), the scope pattern must end in a literal segment (``src/.env``, ``**/.env``).
An entry ``FILE[a.b]`` (``pyproject.toml[tool.uet]``) protects only that TOML table: the
file may change as long as the table stays the same.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

_WILDCARDS = frozenset("*?[")


class FileScope:
    """A compiled files scope; ``allows(path)`` and ``outside(paths)`` test paths against it."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p.strip() for p in patterns if p.strip())
        for pattern in self.patterns:
            if pattern.startswith("/") or ".." in pattern.split("/"):
                raise ValueError(
                    f"files_scope pattern {pattern!r}: use a path relative to the repository "
                    f"root, without '..'"
                )

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __repr__(self) -> str:
        return f"FileScope({list(self.patterns)!r})"

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile("|".join(f"(?:{_translate(p)})" for p in self.patterns))

    def allows(self, path: str) -> bool:
        """Whether ``path`` (relative, ``/``-separated) is inside the scope."""
        if not self.patterns:
            return True
        return self._regex.fullmatch(path.removeprefix("./")) is not None

    def outside(self, paths: Sequence[str]) -> list[str]:
        """The paths that are not inside the scope, in their order."""
        return [path for path in paths if not self.allows(path)]

    def names(self, path: str, protected: str) -> bool:
        """Whether a pattern of the scope names ``path``, protected by the pattern
        ``protected``, explicitly (see the module docstring): never through a catch-all."""
        path = path.removeprefix("./")
        prefix = _literal_head(protected)
        for pattern in self.patterns:
            if re.fullmatch(_translate(pattern), path) is None:
                continue
            segments = pattern.strip("/").removeprefix("./").split("/")
            if prefix:
                if segments[: len(prefix)] == prefix:
                    return True
            elif not _wild(segments[-1]):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Protected:
    """One protected entry: a path pattern, and for ``FILE[a.b]`` the TOML table it guards."""

    pattern: str
    table: tuple[str, ...] = ()

    @classmethod
    def parse(cls, entry: str) -> Protected:
        entry = entry.strip()
        found = re.fullmatch(r"(?P<path>[^\[\]]+)\[(?P<table>[A-Za-z0-9_.-]+)\]", entry)
        if found is not None:
            return cls(found["path"].strip(), tuple(found["table"].split(".")))
        if entry.startswith("/") or ".." in entry.split("/"):
            raise ValueError(
                f"protected path {entry!r}: use a path relative to the repository root, "
                f"without '..'"
            )
        return cls(entry)

    def covers(self, path: str) -> bool:
        return re.fullmatch(_translate(self.pattern), path.removeprefix("./")) is not None

    def __str__(self) -> str:
        return f"{self.pattern}[{'.'.join(self.table)}]" if self.table else self.pattern


Contents = Callable[[str], tuple[str | None, str | None]]
"""``path -> (text before, text after)`` of a changed file (None: absent or unreadable)."""


class ProtectedPaths:
    """The protected-path list; :meth:`violations` finds the changed paths it forbids."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(Protected.parse(e) for e in dict.fromkeys(entries) if e.strip())

    def __repr__(self) -> str:
        return f"ProtectedPaths({[str(e) for e in self.entries]!r})"

    def violations(
        self, changed: Sequence[str], scope: FileScope, contents: Contents
    ) -> list[tuple[str, str]]:
        """``(path, protected entry)`` for each changed path that a protected entry forbids
        and ``scope`` does not name explicitly, in the order of ``changed``."""
        found: list[tuple[str, str]] = []
        for path in changed:
            for entry in self.entries:
                if not entry.covers(path) or scope.names(path, entry.pattern):
                    continue
                if entry.table and not _table_changed(contents(path), entry.table):
                    continue
                found.append((path, str(entry)))
                break
        return found


def _table_changed(texts: tuple[str | None, str | None], table: tuple[str, ...]) -> bool:
    """Whether the TOML ``table`` differs between two versions of a file; a version that is
    not valid TOML counts as a change (nothing can tell what it does to the table)."""
    before, after = (_table(text, table) for text in texts)
    return before != after or before is _INVALID


_INVALID: Any = object()


def _table(text: str | None, table: tuple[str, ...]) -> Any:
    if text is None:
        return None
    try:
        value: Any = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return _INVALID
    for key in table:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _literal_head(pattern: str) -> list[str]:
    """The leading segments of ``pattern`` that hold no wildcard."""
    head: list[str] = []
    for segment in pattern.strip("/").removeprefix("./").split("/"):
        if _wild(segment):
            break
        head.append(segment)
    return head


def _wild(text: str) -> bool:
    return any(c in _WILDCARDS for c in text)


def _translate(pattern: str) -> str:
    """A regular expression for one pattern (see the module docstring)."""
    directory = pattern.endswith("/")
    pattern = pattern.strip("/").removeprefix("./")
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            parts.append("(?:[^/]+/)*")
            i += 3
            continue
        if pattern.startswith("**", i):
            parts.append(".*")
            i += 2
            continue
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                parts.append(re.escape(char))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                parts.append(f"[{body}]")
                i = end
        else:
            parts.append(re.escape(char))
        i += 1
    regex = "".join(parts)
    # A directory (or any wildcard-free pattern) also covers everything below it.
    if directory or not any(c in pattern for c in "*?["):
        return f"{regex}(?:/.*)?"
    return regex
