"""The generic ``command`` checker: any program, read by its exit code and a pattern.

Configured in the ``checkers`` section (``[checkers.NAME]`` in uet.toml, or
``config/checkers.yaml``)::

    [checkers.shellcheck]
    argv = ["shellcheck", "-f", "gcc"]   # the files are appended (or replace "{files}")
    files = ["*.sh"]
    pattern = "%f:%l:%c: %t%*[^:]: %m [%n]"
    severity = "warning"                 # when the pattern gives none (%t)
    category = "lint"

``pattern`` is errorformat-like (vim, reviewdog): ``%f`` file, ``%l`` line, ``%c`` column,
``%t`` severity letter or word (``e``/``error``, ``w``/``warning``, ``i``/``n``/``note``,
``c``/``critical``), ``%n`` the rule, ``%m`` the message, ``%*[^:]`` any characters but
``:``, ``%%`` a percent sign; everything else is literal. ``regex`` instead takes a regular
expression with the groups ``path``, ``line``, ``column``, ``severity``, ``rule``,
``message``. Without a pattern, or when nothing matched, a non-zero exit (other than those
in ``ok_exit``… that mean "ran and found nothing to say") is one finding for the project.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from uet.recovery.checkers.base import Checker, CheckerFailed, Invocation, relative
from uet.recovery.findings import Category, Finding, Severity

FILES_TOKEN = "{files}"  # noqa: S105 - a placeholder, not a password
"""An argv element replaced by the checker's files (else they are appended)."""

_CONVERSIONS = {
    "f": r"(?P<path>[^:\n]+?)",
    "l": r"(?P<line>\d+)",
    "c": r"(?P<column>\d+)",
    "t": r"(?P<severity>[A-Za-z]+)",
    "n": r"(?P<rule>[\w.-]+)",
    "m": r"(?P<message>.+?)",
    "*[^:]": r"[^:]*",
    "%": "%",
}
_SEVERITY_WORDS = {
    "e": Severity.ERROR,
    "error": Severity.ERROR,
    "w": Severity.WARNING,
    "warning": Severity.WARNING,
    "i": Severity.INFO,
    "n": Severity.INFO,
    "info": Severity.INFO,
    "note": Severity.INFO,
    "c": Severity.CRITICAL,
    "critical": Severity.CRITICAL,
}


def errorformat_regex(pattern: str) -> str:
    """The regular expression of an errorformat-like ``pattern``; ValueError if malformed."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char != "%":
            out.append(re.escape(char))
            i += 1
            continue
        for code, regex in _CONVERSIONS.items():
            if pattern.startswith(code, i + 1):
                out.append(regex)
                i += 1 + len(code)
                break
        else:
            raise ValueError(f"unknown conversion %{pattern[i + 1 : i + 2]} at position {i}")
    regex = "".join(out)
    if regex.count("(?P<path>") > 1 or regex.count("(?P<message>") > 1:
        raise ValueError("each of %f and %m may appear once")
    return f"^{regex}$"


def severity_word(word: str | None, default: Severity) -> Severity:
    """The severity an errorformat ``%t`` captured (its first letter, or the word)."""
    if not word:
        return default
    lowered = word.lower()
    return _SEVERITY_WORDS.get(lowered) or _SEVERITY_WORDS.get(lowered[:1], default)


@dataclass(frozen=True, slots=True)
class CommandChecker(Checker):
    """A user's checker (the module docstring)."""

    argv: tuple[str, ...] = ()
    regex: str | None = None  # compiled from ``pattern`` or given as ``regex``
    severity: Severity = Severity.ERROR
    category: Category = Category.LINT
    rule: str | None = None
    per_file: bool = False
    merge_stderr: bool = True
    ok_exit: frozenset[int] = frozenset({0})

    def command(self, program: Sequence[str], inv: Invocation) -> list[str]:
        rest = list(self.argv[1:])
        if FILES_TOKEN in rest:
            at = rest.index(FILES_TOKEN)
            return [*program, *rest[:at], *inv.files, *rest[at + 1 :]]
        return [*program, *rest, *inv.files]

    def parse(self, output: str, inv: Invocation) -> list[Finding]:
        found = [] if self.regex is None else self._matched(output, inv)
        if not found and inv.exit_code not in (0, None):
            tail = output.strip()[-500:] or inv.stderr.strip()[-500:]
            message = f"{self.name} exited {inv.exit_code}" + (f": {tail}" if tail else "")
            found.append(Finding(self.name, self.rule or "exit-status", self.severity,
                                 self.category, "", None, None, message))  # fmt: skip
        return found

    def _matched(self, output: str, inv: Invocation) -> list[Finding]:
        assert self.regex is not None  # noqa: S101 - checked by the caller
        try:
            compiled = re.compile(self.regex)
        except re.error as exc:  # checked at load; kept for a checker built by hand
            raise CheckerFailed(f"{self.name}: bad pattern: {exc}") from None
        found = []
        for line in output.splitlines():
            match = compiled.match(line.rstrip("\r"))
            if match is None:
                continue
            groups = match.groupdict()
            found.append(
                Finding(
                    tool=self.name,
                    rule=groups.get("rule") or self.rule or self.name,
                    severity=severity_word(groups.get("severity"), self.severity),
                    category=self.category,
                    path=relative(inv.root, groups["path"].strip()) if groups.get("path") else "",
                    line=int(groups["line"]) if groups.get("line") else None,
                    column=int(groups["column"]) if groups.get("column") else None,
                    message=(groups.get("message") or line).strip(),
                )
            )
        return found
