"""Segment-aware globs: dotted event types and ``/``-separated project paths.

Both kinds split a pattern into segments (``.`` for event types, ``/`` for paths) and give
the same meaning to the same characters:

=========  ===================================================================
``*``      any characters within one segment (a whole ``*`` segment: exactly one segment)
``?``      exactly one character within a segment
``**``     a whole segment: any number of segments, none included
``[abc]``  paths only: one of the characters (``[!abc]``: none of them)
=========  ===================================================================

So ``task.*`` matches ``task.failed`` but not ``task.a.b`` (Python's ``fnmatch`` would
match both); ``task.**`` matches both; ``*.failed`` matches ``task.failed`` and
``run.failed``; ``**`` matches every event type.

Paths are relative to the project root. A path pattern without a ``/`` matches a file name
at any depth (``*.py`` is ``**/*.py``, as in ``.gitignore``); one with a ``/`` is anchored at
the root (``src/*.py`` matches ``src/a.py``, not ``src/x/a.py``); a leading ``./`` anchors a
name alone (``./Makefile``: the root's only). A trailing ``/`` means everything under that
folder (``docs/`` is ``docs/**``). An absolute path inside the project is taken relative.

A pattern that can never match is refused with a :class:`GlobError` that says why: an
empty pattern or segment, ``**`` inside a segment (``**x``), an event glob with characters
event types never have (they are lowercase letters, digits, ``_`` and ``-``), a path glob
that leaves the project (``..``; an absolute path outside the root).

Each compiled glob is a ``Callable[[str], bool]``; literal patterns compile to a plain
string comparison and every other one to one anchored regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

EVENT_SEGMENT_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"
"""The characters of an event type's segments (``task.failed``, ``run.cancel_requested``)."""

WILDCARDS = frozenset("*?[")
_EVENT_GLOB_CHARS = frozenset(EVENT_SEGMENT_CHARS) | frozenset("*?.")

Matcher = Callable[[str], bool]


class GlobError(ValueError):
    """A glob that can never match anything; the message says why, in the user's words."""


def is_literal(pattern: str) -> bool:
    """True when ``pattern`` has no wildcard: it matches only itself."""
    return not WILDCARDS & set(pattern)


def event_glob_regex(pattern: str) -> str:
    """The regular expression (for ``re.fullmatch``) of an event glob; raises GlobError."""
    if not pattern:
        raise GlobError("an empty event glob never matches")
    bad = sorted(set(pattern) - _EVENT_GLOB_CHARS)
    if bad:
        shown = "".join(bad)
        raise GlobError(
            f"{pattern!r} has characters event types never have ({shown!r}): event types are"
            " lowercase letters, digits, '_' and '-' in segments joined by '.'"
            " (wildcards: '*', '?', '**')"
        )
    return _segments_regex(pattern.split("."), ".", r"[^.]", what="event glob", whole=pattern)


def compile_event_glob(pattern: str) -> Matcher:
    """A matcher for dotted event types (see the module's table); raises GlobError."""
    regex = event_glob_regex(pattern)
    if is_literal(pattern):
        return pattern.__eq__
    return _matcher(re.compile(regex))


def normalise_path_glob(pattern: str, root: str | None = None) -> str:
    """``pattern`` as a root-relative, ``/``-separated glob; raises GlobError.

    ``root`` (an absolute path) lets an absolute pattern inside the project be made relative.
    """
    text = pattern.strip()
    if not text:
        raise GlobError("an empty path glob never matches")
    if "\\" in text:
        raise GlobError(f"{pattern!r}: use '/' between folders, not '\\'")
    if text.startswith("/"):
        text = "./" + _inside_root(pattern, text, root)
    anchored = "/" in text  # a name alone matches at any depth
    while text.startswith("./"):
        text = text[2:]
    if text.endswith("/"):
        text += "**"
    if not text or text == ".":
        raise GlobError(f"{pattern!r} names the project root itself, not files in it")
    segments = [segment for segment in text.split("/") if segment != "."]
    if ".." in segments:
        raise GlobError(f"{pattern!r} leaves the project ('..'): globs are relative to its root")
    if not anchored:
        segments = ["**", *segments]
    return "/".join(segments)


def path_glob_regex(pattern: str, root: str | None = None) -> str:
    """The regular expression (for ``re.fullmatch``) of a path glob; raises GlobError."""
    norm = normalise_path_glob(pattern, root)
    return _segments_regex(norm.split("/"), "/", r"[^/]", what="path glob", whole=pattern)


def compile_path_glob(pattern: str, root: str | None = None) -> Matcher:
    """A matcher for root-relative ``/``-separated paths (no leading ``./``); raises
    GlobError. ``root`` lets an absolute pattern inside the project be used."""
    norm = normalise_path_glob(pattern, root)
    regex = path_glob_regex(pattern, root)
    if is_literal(norm):
        return norm.__eq__
    return _matcher(re.compile(regex))


def _matcher(regex: re.Pattern[str]) -> Matcher:
    fullmatch = regex.fullmatch
    return lambda text: fullmatch(text) is not None


def _inside_root(pattern: str, text: str, root: str | None) -> str:
    if root is not None:
        base = PurePosixPath(root)
        path = PurePosixPath(text)
        if path == base:
            return "."
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix() + ("/" if text.endswith("/") else "")
    where = f" ({root})" if root is not None else ""
    raise GlobError(f"{pattern!r} is outside the project{where}: globs are relative to its root")


def _segments_regex(segments: list[str], sep: str, char: str, *, what: str, whole: str) -> str:
    """Join segment regexes; ``**`` segments take any number of segments, none included."""
    out = ""
    pending_sep = False  # a separator is owed before the next piece
    for index, segment in enumerate(segments):
        if not segment:
            raise GlobError(f"{whole!r} has an empty segment: a {what} never matches it")
        if segment == "**":
            if index + 1 < len(segments) and segments[index + 1] == "**":
                continue  # '**.**' is '**'
            last = index == len(segments) - 1
            if last:
                out += f"(?:{re.escape(sep)}.*)?" if out else ".*"
            else:  # zero or more whole segments, each followed by the separator
                lead = re.escape(sep) if pending_sep else ""
                out += f"{lead}(?:{char}+{re.escape(sep)})*"
                pending_sep = False
            continue
        if "**" in segment:
            raise GlobError(f"{whole!r}: '**' must be a whole segment (write '*' within a segment)")
        out += (re.escape(sep) if pending_sep else "") + _segment_regex(segment, char, whole)
        pending_sep = True
    return out


def _segment_regex(segment: str, char: str, whole: str) -> str:
    parts: list[str] = []
    index = 0
    while index < len(segment):
        c = segment[index]
        if c == "*":
            parts.append(f"{char}*")
        elif c == "?":
            parts.append(char)
        elif c == "[":
            end = segment.find("]", index + 2)
            if end < 0:
                raise GlobError(f"{whole!r} has a '[' that is never closed")
            body = segment[index + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            if not body:
                raise GlobError(f"{whole!r} has an empty character class '[]'")
            escaped = body.replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[")
            parts.append(f"[^/{escaped}]" if negate else f"[{escaped}]")
            index = end
        else:
            parts.append(re.escape(c))
        index += 1
    return "".join(parts)
