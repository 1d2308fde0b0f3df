"""Findings: what a checker reports, in one shape whatever the tool.

A finding names the tool and its rule, a severity and a category, a place (a path relative
to the scanned root and a 1-based line/column span), the tool's message, the fix the tool
offers (with ruff's *applicability*: ``safe`` fixes may be applied without review) and a
stable **fingerprint**::

    fingerprint = sha256("uet/v1" \\0 tool \\0 rule \\0 path \\0 normalised snippet)[:32]
                  + ":" + occurrence            # 0 for the first such finding of the file

The snippet is the text of the finding's lines with runs of whitespace collapsed, so the
same finding is recognised across scans when lines above it are added or removed, or when
it is re-indented; the occurrence tells apart identical lines of one file (``import os``
twice). A finding without a line (a file-level problem) uses its message instead.

JSONL (one :meth:`Finding.to_dict` per line) is the canonical format; SARIF is an export
(:mod:`uet.recovery.sarif`).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

FINGERPRINT_VERSION = "uet/v1"
"""The fingerprint scheme's name (SARIF ``partialFingerprints`` key)."""


class Severity(enum.StrEnum):
    """How bad a finding is, lowest first (``--fail-on`` compares by this order)."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {severity: rank for rank, severity in enumerate(Severity)}


class Category(enum.StrEnum):
    """What kind of problem a finding is."""

    SYNTAX = "syntax"
    TYPE = "type"
    LINT = "lint"
    STYLE = "style"
    FORMAT = "format"
    SECURITY = "security"
    TEST = "test"


class Applicability(enum.StrEnum):
    """Whether the tool's fix may be applied unreviewed (ruff's terms)."""

    SAFE = "safe"  # keeps the code's meaning: a mechanical fixer may apply it
    UNSAFE = "unsafe"  # may change behaviour: needs review
    DISPLAY = "display"  # shown only, never applied
    NONE = "none"  # the tool offers no fix


class BaselineState(enum.StrEnum):
    """A finding against the previous scan of the same scope (SARIF ``baselineState``)."""

    NEW = "new"
    UNCHANGED = "unchanged"
    ABSENT = "absent"  # in the baseline, gone now


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the text from ``start`` to ``end`` (1-based line, column; end exclusive)."""

    start: tuple[int, int]
    end: tuple[int, int]
    content: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": list(self.start), "end": list(self.end), "content": self.content}


@dataclass(frozen=True, slots=True)
class Fix:
    """The fix a tool offers for a finding."""

    applicability: Applicability
    message: str | None = None
    edits: tuple[Edit, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "applicability": self.applicability.value,
            "message": self.message,
            "edits": [edit.to_dict() for edit in self.edits],
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a checker found (see the module docstring)."""

    tool: str
    rule: str
    severity: Severity
    category: Category
    path: str  # relative to the scanned root, '/'-separated; "" for the project as a whole
    line: int | None
    column: int | None
    message: str
    end_line: int | None = None
    end_column: int | None = None
    fix: Fix | None = None
    url: str | None = None
    fingerprint: str = ""  # filled in by :func:`with_fingerprints`
    extra: Mapping[str, Any] = field(default_factory=dict)  # tool-specific (bandit confidence)

    @property
    def applicability(self) -> Applicability:
        return Applicability.NONE if self.fix is None else self.fix.applicability

    def sort_key(self) -> tuple[str, int, int, str, str, str]:
        return (self.path, self.line or 0, self.column or 0, self.tool, self.rule, self.message)

    def to_dict(self) -> dict[str, Any]:
        """The finding's JSONL record."""
        return {
            "tool": self.tool,
            "rule": self.rule,
            "severity": self.severity.value,
            "category": self.category.value,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "message": self.message,
            "applicability": self.applicability.value,
            "fix": None if self.fix is None else self.fix.to_dict(),
            "url": self.url,
            "fingerprint": self.fingerprint,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """The finding of a JSONL record (:meth:`to_dict`); KeyError/ValueError if malformed."""
        fix = data.get("fix")
        return cls(
            tool=str(data["tool"]),
            rule=str(data["rule"]),
            severity=Severity(data["severity"]),
            category=Category(data["category"]),
            path=str(data["path"]),
            line=_int_or_none(data.get("line")),
            column=_int_or_none(data.get("column")),
            end_line=_int_or_none(data.get("end_line")),
            end_column=_int_or_none(data.get("end_column")),
            message=str(data["message"]),
            fix=None if fix is None else _fix_from(fix),
            url=data.get("url"),
            fingerprint=str(data.get("fingerprint", "")),
            extra=dict(data.get("extra") or {}),
        )


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]


def _fix_from(data: Mapping[str, Any]) -> Fix:
    edits = tuple(
        Edit(
            (int(e["start"][0]), int(e["start"][1])),
            (int(e["end"][0]), int(e["end"][1])),
            str(e["content"]),
        )
        for e in data.get("edits", ())
    )
    return Fix(Applicability(data["applicability"]), data.get("message"), edits)


_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """``text`` with each run of whitespace made one space, and stripped."""
    return _SPACE.sub(" ", text).strip()


def snippet(lines: Sequence[str], finding: Finding) -> str:
    """The normalised text of the finding's lines (``lines`` is the file, 0-based list);
    the normalised message when it has no line or the line is past the end of the file."""
    if finding.line is None or not 1 <= finding.line <= len(lines):
        return normalise(finding.message)
    last = finding.end_line if finding.end_line and finding.end_line >= finding.line else None
    last = min(last or finding.line, finding.line + 4, len(lines))  # a long span: its head
    return normalise(" ".join(lines[finding.line - 1 : last]))


def base_fingerprint(tool: str, rule: str, path: str, text: str) -> str:
    """The hash part of a fingerprint (the module docstring)."""
    material = "\0".join((FINGERPRINT_VERSION, tool, rule, path, text))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def with_fingerprints(findings: Iterable[Finding], root: Path) -> list[Finding]:
    """``findings`` with their fingerprints, read from the files under ``root``; sorted.

    The occurrence counts identical base fingerprints in order of position, so that the
    n-th ``import os`` of a file keeps its fingerprint when lines move around it.
    """
    ordered = sorted(findings, key=Finding.sort_key)
    files: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    out = []
    for finding in ordered:
        if finding.path not in files:
            files[finding.path] = _read_lines(root, finding.path)
        base = base_fingerprint(
            finding.tool, finding.rule, finding.path, snippet(files[finding.path], finding)
        )
        occurrence = seen.get(base, 0)
        seen[base] = occurrence + 1
        out.append(replace(finding, fingerprint=f"{base}:{occurrence}"))
    return out


def _read_lines(root: Path, path: str) -> list[str]:
    if not path:
        return []
    try:
        return (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """One JSON object per line, keys sorted (the canonical format)."""
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> Iterator[Finding]:
    """The findings of a JSONL file; ValueError naming the line of a malformed record."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield Finding.from_dict(json.loads(line))
            except (KeyError, ValueError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a finding record ({exc})") from None


def at_or_above(findings: Iterable[Finding], threshold: Severity) -> list[Finding]:
    """The findings whose severity is ``threshold`` or worse."""
    return [f for f in findings if f.severity.rank >= threshold.rank]
