"""Segment-aware globs: the documented table, a reference matcher, and globs that never match."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uet.triggers.globs import GlobError, compile_event_glob, compile_path_glob

EVENT_CASES = [
    ("task.*", "task.failed", True),
    ("task.*", "task.a.b", False),
    ("task.*", "task", False),
    ("task.**", "task.a.b", True),
    ("task.**", "task.failed", True),
    ("task.**", "tasks.x", False),
    ("*.failed", "task.failed", True),
    ("*.failed", "run.failed", True),
    ("*.failed", "a.b.failed", False),
    ("**.failed", "a.b.failed", True),
    ("**.failed", "failed", True),
    ("**.failed", "failed.x", False),
    ("t?sk.*", "tusk.x", True),
    ("t?sk.*", "tsk.x", False),
    ("**", "run.completed", True),
    ("*", "run.completed", False),
    ("run.completed", "run.completed", True),
    ("run.completed", "run.completedx", False),
    ("a.**.z", "a.z", True),
    ("a.**.z", "a.b.c.z", True),
    ("a.**.z", "a.b.c.y", False),
    ("run.*ed", "run.completed", True),
]


@pytest.mark.parametrize(("pattern", "event_type", "expected"), EVENT_CASES)
def test_event_glob_table(pattern: str, event_type: str, expected: bool) -> None:
    """Each row of the docs' table: '*' stays within a segment, '**' spans any number."""
    assert compile_event_glob(pattern)(event_type) is expected


PATH_CASES = [
    ("*.py", "a.py", True),
    ("*.py", "src/x/a.py", True),
    ("*.py", "a.pyc", False),
    ("src/*.py", "src/a.py", True),
    ("src/*.py", "src/x/a.py", False),
    ("src/**/*.py", "src/a.py", True),
    ("src/**/*.py", "src/x/y/a.py", True),
    ("src/**/*.py", "a.py", False),
    ("docs/", "docs/a.md", True),
    ("docs/", "docs/x/b.png", True),
    ("docs/", "docsx/a.md", False),
    ("./Makefile", "Makefile", True),
    ("./Makefile", "sub/Makefile", False),
    ("Makefile", "sub/Makefile", True),
    ("src/[ab].txt", "src/a.txt", True),
    ("src/[!ab].txt", "src/a.txt", False),
    ("src/[!ab].txt", "src/c.txt", True),
    ("**", "any/thing/at/all", True),
    ("src/./a.py", "src/a.py", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), PATH_CASES)
def test_path_glob_table(pattern: str, path: str, expected: bool) -> None:
    """Path globs: a name alone matches at any depth, a '/' anchors, 'x/' is 'x/**'."""
    assert compile_path_glob(pattern)(path) is expected


def test_absolute_path_inside_the_root_is_made_relative() -> None:
    """An absolute glob inside the project matches the root-relative path it names."""
    assert compile_path_glob("/p/src/*.py", "/p")("src/a.py")
    assert not compile_path_glob("/p/src/*.py", "/p")("x/src/a.py")


NEVER = [
    ("", "empty"),
    ("task..failed", "empty segment"),
    ("**x", "must be a whole segment"),
    ("task.**x", "must be a whole segment"),
    ("Task.*", "characters event types never have"),
    ("task/failed", "characters event types never have"),
    ("task.[ab]", "characters event types never have"),
    ("task.failed ", "characters event types never have"),
]


@pytest.mark.parametrize(("pattern", "words"), NEVER)
def test_event_globs_that_never_match_are_refused(pattern: str, words: str) -> None:
    """A glob no event type can match is an error that says why."""
    with pytest.raises(GlobError, match=words):
        compile_event_glob(pattern)


NEVER_PATHS = [
    ("", "empty"),
    ("   ", "empty"),
    ("a//b", "empty segment"),
    ("src/**x", "must be a whole segment"),
    ("../outside/*", "leaves the project"),
    ("src/../../x", "leaves the project"),
    ("/etc/passwd", "outside the project"),
    ("./", "project root itself"),
    ("src\\a.py", "use '/'"),
    ("src/[ab", "never closed"),
]


@pytest.mark.parametrize(("pattern", "words"), NEVER_PATHS)
def test_path_globs_that_never_match_are_refused(pattern: str, words: str) -> None:
    """A path glob that is empty, leaves the project or is malformed is an error."""
    with pytest.raises(GlobError, match=words):
        compile_path_glob(pattern, "/project")


# -- a reference matcher, written from the documented rules with no regex -----------------


def reference(pattern: list[str], name: list[str]) -> bool:
    """Segments against segments: '**' takes any number, others match one by fnmatch
    (with no '/' or '.' inside a segment, fnmatch's '*' cannot leave it)."""
    if not pattern:
        return not name
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(reference(rest, name[i:]) for i in range(len(name) + 1))
    return bool(name) and fnmatch.fnmatchcase(name[0], head) and reference(rest, name[1:])


SEGMENT = st.text(alphabet="abc_", min_size=1, max_size=3)
PIECE = st.sampled_from(["a", "b", "c", "_", "*", "?", "ab"])
GLOB_SEGMENT = st.one_of(
    st.just("**"), st.just("*"), st.lists(PIECE, min_size=1, max_size=3).map("".join)
).filter(lambda s: s == "**" or "**" not in s)


@settings(max_examples=400, deadline=None)
@given(st.lists(GLOB_SEGMENT, min_size=1, max_size=4), st.lists(SEGMENT, min_size=1, max_size=5))
def test_event_glob_agrees_with_the_reference(pattern: list[str], name: list[str]) -> None:
    """The compiled event glob and the recursive reference agree on every pair."""
    matcher = compile_event_glob(".".join(pattern))
    assert bool(matcher(".".join(name))) is reference(pattern, name)


@settings(max_examples=400, deadline=None)
@given(st.lists(GLOB_SEGMENT, min_size=2, max_size=4), st.lists(SEGMENT, min_size=1, max_size=5))
def test_path_glob_agrees_with_the_reference(pattern: list[str], name: list[str]) -> None:
    """Anchored path globs (two segments or more) agree with the reference too."""
    matcher = compile_path_glob("/".join(pattern))
    assert bool(matcher("/".join(name))) is reference(pattern, name)


@settings(max_examples=200, deadline=None)
@given(GLOB_SEGMENT, st.lists(SEGMENT, min_size=1, max_size=5))
def test_a_name_alone_matches_at_any_depth(pattern: str, name: list[str]) -> None:
    """'x' is '**/x' for paths: the reference with '**' in front agrees."""
    matcher = compile_path_glob(pattern)
    assert bool(matcher("/".join(name))) is reference(["**", pattern], name)


def test_fnmatch_would_have_matched_across_segments() -> None:
    """Why these globs exist: fnmatch's '*' matches dots, ours does not."""
    assert fnmatch.fnmatchcase("task.a.b", "task.*")
    assert not compile_event_glob("task.*")("task.a.b")
