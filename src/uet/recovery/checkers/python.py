"""The built-in Python checkers: ruff (``--output-format json``), mypy (``-O json``) and
bandit (``-f json``). Each reads the tool's machine output, never its human text.

=======  ==========================================  =====================================
tool     severity                                    category
=======  ==========================================  =====================================
ruff     syntax errors, F63/F7/F82, E9: error;       invalid-syntax/E9: syntax; I, W: format;
         the rest: warning                           E, UP, N, D: style; S: security; else lint
mypy     error: error; note: info                    code ``syntax``: syntax; else type
bandit   HIGH + HIGH confidence: critical;           security (``[tool.bandit]`` in
         HIGH: error; MEDIUM: warning; LOW: info     pyproject.toml is passed with ``-c``)
=======  ==========================================  =====================================

ruff's fix is kept with its applicability (safe, unsafe, display) and its edits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uet.recovery.checkers.base import Checker, CheckerFailed, Invocation, relative
from uet.recovery.findings import Applicability, Category, Edit, Finding, Fix, Severity

_RUFF_ERRORS = ("F63", "F7", "F82", "E9")
_RUFF_CATEGORIES = (
    ("S", Category.SECURITY),
    ("I", Category.FORMAT),
    ("W", Category.FORMAT),
    ("E", Category.STYLE),
    ("UP", Category.STYLE),
    ("N", Category.STYLE),
    ("D", Category.STYLE),
)


@dataclass(frozen=True, slots=True)
class RuffChecker(Checker):
    """``ruff check --output-format json``: the project's own ruff configuration applies."""

    name: str = "ruff"
    tool: str = "ruff"
    module: str | None = "ruff"
    config_files: tuple[str, ...] = ("pyproject.toml", "ruff.toml", ".ruff.toml")

    def command(self, program: Sequence[str], inv: Invocation) -> list[str]:
        return [*program, "check", "--output-format", "json", "--no-cache", "--quiet",
                "--", *inv.files]  # fmt: skip

    def parse(self, output: str, inv: Invocation) -> list[Finding]:
        items = _json(output, self.name, inv)
        if not isinstance(items, list):
            raise CheckerFailed(f"ruff: expected a JSON list, got {type(items).__name__}")
        return [self._finding(item, inv) for item in items]

    def _finding(self, item: Mapping[str, Any], inv: Invocation) -> Finding:
        code = item.get("code") or "invalid-syntax"
        start, end = item.get("location") or {}, item.get("end_location") or {}
        error = code == "invalid-syntax" or code.startswith(_RUFF_ERRORS)
        return Finding(
            tool=self.name,
            rule=code,
            severity=Severity.ERROR if error else Severity.WARNING,
            category=_ruff_category(code),
            path=relative(inv.root, item["filename"]),
            line=start.get("row"),
            column=start.get("column"),
            end_line=end.get("row"),
            end_column=end.get("column"),
            message=str(item.get("message", "")),
            fix=_ruff_fix(item.get("fix")),
            url=item.get("url"),
        )


def _ruff_category(code: str) -> Category:
    if code == "invalid-syntax" or code.startswith("E9"):
        return Category.SYNTAX
    for prefix, category in _RUFF_CATEGORIES:
        if code.startswith(prefix) and code[len(prefix) : len(prefix) + 1].isdigit():
            return category
    return Category.LINT


def _ruff_fix(fix: Mapping[str, Any] | None) -> Fix | None:
    if not fix:
        return None
    edits = tuple(
        Edit(
            (edit["location"]["row"], edit["location"]["column"]),
            (edit["end_location"]["row"], edit["end_location"]["column"]),
            edit.get("content") or "",
        )
        for edit in fix.get("edits") or ()
    )
    applicability = Applicability(fix.get("applicability") or "display")
    return Fix(applicability, fix.get("message"), edits)


@dataclass(frozen=True, slots=True)
class MypyChecker(Checker):
    """``mypy -O json`` over the files together (types cross files: not per file)."""

    name: str = "mypy"
    tool: str = "mypy"
    module: str | None = "mypy"
    per_file: bool = False
    ok_exit: frozenset[int] = frozenset({0, 1, 2})  # 2: syntax errors, still reported as JSON
    config_files: tuple[str, ...] = ("pyproject.toml", "mypy.ini", ".mypy.ini", "setup.cfg")

    def command(self, program: Sequence[str], inv: Invocation) -> list[str]:
        return [*program, "-O", "json", "--cache-dir", str(inv.cache_dir / "mypy"),
                "--no-color-output", "--", *inv.files]  # fmt: skip

    def parse(self, output: str, inv: Invocation) -> list[Finding]:
        findings, other = [], []
        for number, line in enumerate(output.splitlines(), 1):
            if not line.startswith("{"):  # mypy's own complaints (a file it cannot read)
                other += [line] if line.strip() else []
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                raise CheckerFailed(
                    f"mypy: output line {number} is not JSON: {line[:200]}"
                ) from None
            findings.append(self._finding(item, inv))
        if not findings and inv.exit_code not in (0, None):
            detail = " / ".join(other) or inv.stderr
            raise CheckerFailed(f"mypy exited {inv.exit_code}: {_tail(detail)}")
        return findings

    def _finding(self, item: Mapping[str, Any], inv: Invocation) -> Finding:
        code = item.get("code") or "misc"
        note = item.get("severity") == "note"
        message = str(item.get("message", ""))
        if item.get("hint"):
            message = f"{message} ({item['hint']})"
        return Finding(
            tool=self.name,
            rule=code,
            severity=Severity.INFO if note else Severity.ERROR,
            category=Category.SYNTAX if code == "syntax" else Category.TYPE,
            path=relative(inv.root, item["file"]),
            line=_positive(item.get("line")),
            column=_column(item.get("column")),
            end_line=_positive(item.get("end_line")),
            end_column=_column(item.get("end_column")),
            message=message,
        )


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _column(value: object) -> int | None:
    """mypy's JSON columns are 0-based (uet's are 1-based, as ruff's and editors')."""
    return value + 1 if isinstance(value, int) and value >= 0 else None


_BANDIT_SEVERITY = {"LOW": Severity.INFO, "MEDIUM": Severity.WARNING, "HIGH": Severity.ERROR}


@dataclass(frozen=True, slots=True)
class BanditChecker(Checker):
    """``bandit -f json``: security findings; a file bandit cannot parse is a finding too."""

    name: str = "bandit"
    tool: str = "bandit"
    module: str | None = "bandit"
    config_files: tuple[str, ...] = ("pyproject.toml", ".bandit", "bandit.yaml")

    def command(self, program: Sequence[str], inv: Invocation) -> list[str]:
        config = []
        if _has_table(inv.root / "pyproject.toml", "[tool.bandit]"):
            config = ["-c", "pyproject.toml"]  # bandit reads it only when told to
        return [*program, "-f", "json", "-q", *config, "--", *inv.files]

    def parse(self, output: str, inv: Invocation) -> list[Finding]:
        data = _json(output, self.name, inv)
        if not isinstance(data, dict):
            raise CheckerFailed("bandit: expected a JSON object")
        found = [self._finding(item, inv) for item in data.get("results") or ()]
        for error in data.get("errors") or ():
            found.append(
                Finding(self.name, "parse-error", Severity.ERROR, Category.SYNTAX,
                        relative(inv.root, error.get("filename", "")), None, None,
                        f"bandit could not check this file: {error.get('reason', '')}")
            )  # fmt: skip
        return found

    def _finding(self, item: Mapping[str, Any], inv: Invocation) -> Finding:
        level = str(item.get("issue_severity", "LOW")).upper()
        confidence = str(item.get("issue_confidence", "LOW")).upper()
        severity = _BANDIT_SEVERITY.get(level, Severity.WARNING)
        if level == "HIGH" and confidence == "HIGH":
            severity = Severity.CRITICAL
        line_range = item.get("line_range") or [item.get("line_number")]
        column = item.get("col_offset")
        end_column = item.get("end_col_offset")
        cwe = (item.get("issue_cwe") or {}).get("id")
        return Finding(
            tool=self.name,
            rule=str(item.get("test_id", "B000")),
            severity=severity,
            category=Category.SECURITY,
            path=relative(inv.root, item["filename"]),
            line=item.get("line_number"),
            column=None if column is None else column + 1,
            end_line=line_range[-1] if line_range and line_range[-1] else None,
            end_column=None if end_column is None else end_column + 1,
            message=str(item.get("issue_text", "")),
            url=item.get("more_info"),
            extra={"severity": level, "confidence": confidence, "cwe": cwe,
                   "test_name": item.get("test_name")},
        )  # fmt: skip


def _has_table(path: Path, header: str) -> bool:
    try:
        return any(line.strip() == header for line in path.read_text("utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return False


def _json(output: str, name: str, inv: Invocation) -> Any:
    if not output.strip():
        raise CheckerFailed(f"{name} wrote no output (exit {inv.exit_code}): {_tail(inv.stderr)}")
    try:
        return json.loads(output)
    except json.JSONDecodeError as exc:
        raise CheckerFailed(f"{name}: output is not JSON ({exc}): {_tail(output)}") from None


def _tail(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else f"...{text[-limit:]}"
