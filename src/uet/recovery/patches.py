"""A patch: a unified diff, the commit it was made on, where it came from, what it touches.

::

    patch = Patch.parse(text, base_commit="3fa9…", origin=Origin("ruff-fix", findings=("f1…",)))
    patch.scope.files          # ("src/app/io.py",)
    patch.scope.insertions     # lines added, over every file
    patch.changes[0].added     # (line number, text) of each added line of the first file

The diff is parsed with ``unidiff`` (git's extended headers included: new, deleted and
renamed files, binary patches). A patch refers to the findings it fixes by their
fingerprints only (strings), so that the model of findings can change without it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from uet.errors import UsageError

MAX_DIFF_BYTES = 5 * 1024 * 1024
"""Bytes a patch's diff may have, at most (a fix is small; a 5 MiB diff is not one)."""

PATCH_ID_PREFIX = "p"


@dataclass(frozen=True, slots=True)
class Origin:
    """Who made a patch: the fixer (``ruff-fix``, ``agent:aider``…), the tool, the findings
    it fixes (fingerprints), the files those findings are in (the patch may change no other:
    ``outside_finding_files``), their category (``lint``, ``security``…: policy overrides
    may name it), and the run and task that made it, when one did."""

    fixer: str = "manual"
    tool: str | None = None
    findings: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    category: str | None = None
    run_id: str | None = None
    task_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "fixer": self.fixer,
            "tool": self.tool,
            "findings": list(self.findings),
            "files": list(self.files),
            "category": self.category,
            "run_id": self.run_id,
            "task_id": self.task_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Origin:
        return cls(
            fixer=str(data.get("fixer") or "manual"),
            tool=data.get("tool"),
            findings=tuple(str(f) for f in data.get("findings") or ()),
            files=tuple(str(f) for f in data.get("files") or ()),
            category=data.get("category"),
            run_id=data.get("run_id"),
            task_id=data.get("task_id"),
        )


@dataclass(frozen=True, slots=True)
class FileChange:
    """What a patch does to one file."""

    path: str  # the path after (before, for a deleted file)
    source: str | None  # the path before (None: a new file)
    added: tuple[tuple[int, str], ...] = ()  # (line number after, text without newline)
    removed: tuple[tuple[int, str], ...] = ()  # (line number before, text)
    hunks: int = 0
    is_new: bool = False
    is_deleted: bool = False
    is_binary: bool = False

    @property
    def is_rename(self) -> bool:
        return self.source is not None and self.source != self.path


@dataclass(frozen=True, slots=True)
class Scope:
    """How much a patch touches: its files, lines added and removed, hunks."""

    files: tuple[str, ...]  # every path it changes, both sides of a rename, sorted
    insertions: int
    deletions: int
    hunks: int
    binary: tuple[str, ...] = ()

    @property
    def lines_changed(self) -> int:
        return self.insertions + self.deletions

    def to_json(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "insertions": self.insertions,
            "deletions": self.deletions,
            "hunks": self.hunks,
            "binary": list(self.binary),
        }


@dataclass(frozen=True, slots=True)
class Patch:
    """A parsed patch. Make one with :meth:`parse`."""

    diff: str
    base_commit: str
    changes: tuple[FileChange, ...]
    origin: Origin = field(default_factory=Origin)

    @classmethod
    def parse(cls, diff: str, *, base_commit: str, origin: Origin | None = None) -> Patch:
        """Parse ``diff``; UsageError saying what is wrong with it when it is no patch."""
        return cls(diff, base_commit, parse_changes(diff), origin or Origin())

    @property
    def id(self) -> str:
        """A stable id: the same diff on the same base is the same patch."""
        digest = hashlib.sha256(f"{self.base_commit}\n{self.diff}".encode()).hexdigest()
        return f"{PATCH_ID_PREFIX}{digest[:11]}"

    @property
    def scope(self) -> Scope:
        files = sorted({p for c in self.changes for p in (c.path, c.source) if p is not None})
        return Scope(
            files=tuple(files),
            insertions=sum(len(c.added) for c in self.changes),
            deletions=sum(len(c.removed) for c in self.changes),
            hunks=sum(c.hunks for c in self.changes),
            binary=tuple(c.path for c in self.changes if c.is_binary),
        )


def parse_changes(diff: str) -> tuple[FileChange, ...]:
    """Each file's change in ``diff``; UsageError when it is empty, too large or malformed."""
    if len(diff.encode("utf-8", "surrogateescape")) > MAX_DIFF_BYTES:
        raise UsageError(f"the patch has more than {MAX_DIFF_BYTES} bytes: not a fix")
    if not diff.strip():
        raise UsageError("the patch is empty: there is nothing to apply")
    try:
        parsed = PatchSet(diff)
    except UnidiffParseError as exc:
        raise UsageError(f"not a unified diff: {exc}") from None
    if not len(parsed):
        raise UsageError("no file changes found: give a unified diff (`git diff` output)")
    return tuple(_change(f) for f in parsed)


def _change(patched: Any) -> FileChange:
    source = _strip(patched.source_file)
    target = _strip(patched.target_file)
    path = target or source or patched.path
    added: list[tuple[int, str]] = []
    removed: list[tuple[int, str]] = []
    for hunk in patched:
        for line in hunk:
            text = line.value.rstrip("\n").rstrip("\r")
            if line.is_added:
                added.append((int(line.target_line_no), text))
            elif line.is_removed:
                removed.append((int(line.source_line_no), text))
    return FileChange(
        path=path,
        source=source,
        added=tuple(added),
        removed=tuple(removed),
        hunks=len(patched),
        is_new=bool(patched.is_added_file),
        is_deleted=bool(patched.is_removed_file),
        is_binary=bool(getattr(patched, "is_binary_file", False)),
    )


def _strip(name: str | None) -> str | None:
    """``a/x.py`` -> ``x.py``; ``/dev/null`` -> None."""
    if name is None or name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name
