"""The checker plugin protocol: which files, which tool, how to run it, how to read it.

A checker is a value (:class:`Checker`) with four parts:

* **files**: ``patterns``, path globs relative to the scanned root (``*.py``); ``targets``
  picks, among the files it applies to, those put on its command line (pytest: the tests);
* **tool**: the program it needs (``tool``), found on ``PATH`` or, for Python tools, as
  ``python -m MODULE`` of this interpreter; a checker whose tool is missing is reported
  and skipped, never fatal;
* **run**: ``command`` builds the argv; the tool's machine output (its stdout, or the file
  it writes when ``writes_file``: pytest's JUnit XML) goes to a file that ``parse`` reads.
  ``ok_exit`` are the exit codes meaning "it ran" (ruff exits 1 when it finds something);
  any other is a checker failure, reported as such;
* **read**: ``parse`` turns that output into :class:`~uet.recovery.findings.Finding` s
  from the tool's JSON or XML, never from its human text.

``per_file`` says a file's findings depend on that file alone (ruff, bandit): the cache
then re-runs the checker on changed files only. ``config_files`` are the files whose
content changes what the tool reports (pyproject.toml…): part of the cache key.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

from uet.errors import UetError
from uet.recovery.findings import Finding

CHECKER_TIMEOUT_S = 600.0
"""Seconds a checker may run before its process group is killed (the task times out)."""


class CheckerFailed(UetError):
    """The tool ran but its output cannot be read (or says the tool itself failed)."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """What a checker's command and parser get from the scan."""

    root: Path  # the scanned root: the tool runs there, paths are relative to it
    files: tuple[str, ...]  # the checker's targets, relative '/'-separated paths
    cache_dir: Path  # a folder the tool may keep its own cache in (mypy)
    output: Path | None = None  # where a ``writes_file`` checker's tool writes its report
    exit_code: int | None = None  # parse only: how the tool exited
    stderr: str = ""  # parse only: the tail of its stderr


@dataclass(frozen=True, slots=True)
class Checker:
    """A checker (the module docstring); built-ins subclass it, ``command`` ones configure it."""

    name: str
    tool: str
    patterns: tuple[str, ...] = ("*.py",)
    per_file: bool = True
    ok_exit: frozenset[int] = frozenset({0, 1})
    config_files: tuple[str, ...] = ("pyproject.toml", "setup.cfg")
    module: str | None = None  # `python -m MODULE` when `tool` is not on PATH
    timeout: float = CHECKER_TIMEOUT_S
    writes_file: bool = False  # the tool writes its report to ``Invocation.output`` itself

    def applies_to(self, path: str) -> bool:
        """Whether this checker looks at ``path`` (relative, '/'-separated)."""
        return any(compile_glob(pattern)(path) for pattern in self.patterns)

    def targets(self, files: Sequence[str]) -> tuple[str, ...]:
        """The files put on the command line, among those it applies to."""
        return tuple(files)

    def program(self) -> list[str] | None:
        """How to start the tool: its path, ``python -m MODULE``, or None when missing."""
        found = shutil.which(self.tool)
        if found is not None:
            return [found]
        if self.module is not None and importlib.util.find_spec(self.module) is not None:
            return [sys.executable, "-m", self.module]
        return None

    def command(self, program: Sequence[str], inv: Invocation) -> list[str]:
        """The argv that writes the tool's machine output on stdout."""
        raise NotImplementedError

    def parse(self, output: str, inv: Invocation) -> list[Finding]:
        """The findings of the tool's output; :class:`CheckerFailed` when it is unreadable."""
        raise NotImplementedError

    def identity(self) -> str:
        """What, besides the files, decides this checker's findings (for the cache key)."""
        program = self.program() or []
        stamp = ""
        if program:
            try:
                stat = os.stat(program[0])
                stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
            except OSError:
                stamp = "?"
        return repr((self, program, stamp))  # every field: a changed pattern is a new key


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> Callable[[str], bool]:
    """A matcher of relative '/'-separated paths, as ``.gitignore`` reads a pattern: without
    a ``/`` it matches a file name at any depth (``*.py``); with one it is anchored at the
    root, ``*`` stays within a segment and a ``**`` segment spans any number of them
    (``src/**/test_*.py``). ValueError for an empty pattern or one that leaves the root."""
    text = pattern.strip().removeprefix("./")
    if not text or text.startswith("/") or ".." in text.split("/"):
        raise ValueError(f"{pattern!r} is not a path glob inside the project")
    name = text.rstrip("/")
    if "/" not in name and text.endswith("/"):  # a folder of that name at any depth
        return lambda path: any(fnmatchcase(part, name) for part in path.split("/")[:-1])
    if "/" not in name:
        return lambda path: fnmatchcase(path.rsplit("/", 1)[-1], name)
    if text.endswith("/"):
        text += "**"
    segments = text.split("/")
    parts = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]+/)*")
        else:
            parts.append(_segment(segment) + ("" if last else "/"))
    regex = re.compile("".join(parts) + r"\Z")
    return lambda path: regex.match(path) is not None


def _segment(segment: str) -> str:
    return "".join(
        "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char) for char in segment
    )


def relative(root: Path, filename: str) -> str:
    """``filename`` (absolute, or relative to ``root``) as a '/'-separated relative path."""
    path = Path(filename)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(root.resolve())
        except ValueError:
            return path.as_posix()
    text = path.as_posix()
    return text[2:] if text.startswith("./") else text
