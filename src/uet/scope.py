"""Files scopes: which repository paths a task or an agent may change.

A scope is a list of patterns over ``/``-separated paths relative to the repository root:

* ``src/app/io.py`` — that file;
* ``src/app/`` or ``src/app`` — that directory and everything below it (a pattern without
  wildcards also matches as a directory prefix);
* ``*`` and ``?`` match within one path segment, ``**`` any number of segments
  (``src/**/*.py``, ``**/test_*.py``); ``[abc]`` a character class.

An empty scope allows everything (no scope was set).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cached_property


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
