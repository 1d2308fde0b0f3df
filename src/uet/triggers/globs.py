"""Segment-aware globs for dotted event types and project paths.

The implementation lives in the spec layer (``uet.spec._globs``) so that the trigger loader
can refuse a glob that never matches; this module is its public face. Semantics::

    pattern        matches                       does not match
    task.*         task.failed                   task.a.b, task
    task.**        task.failed, task.a.b, task   tasks.x
    *.failed       task.failed, run.failed       failed, a.b.failed
    **.failed      failed, a.b.failed            failed.x
    t?sk.*         task.x, tusk.x                tsk.x
    *.py (path)    a.py, src/x/a.py              a.pyc
    src/*.py       src/a.py                      src/x/a.py
    src/**/*.py    src/a.py, src/x/y/a.py        a.py
    docs/          docs/a.md, docs/x/b.png       docsx/a.md
"""

from __future__ import annotations

from uet.spec._globs import (
    GlobError,
    Matcher,
    compile_event_glob,
    compile_path_glob,
    event_glob_regex,
    is_literal,
    normalise_path_glob,
    path_glob_regex,
)

__all__ = [
    "GlobError",
    "Matcher",
    "compile_event_glob",
    "compile_path_glob",
    "event_glob_regex",
    "is_literal",
    "normalise_path_glob",
    "path_glob_regex",
]
