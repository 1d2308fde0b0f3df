"""Tamper rules: what a patch must not do, whatever its checks say. Each sends it to the manual
queue (state ``quarantined``) with a reason naming the rule and the path.

==========================  ==============================================================
rule                        the patch…
==========================  ==============================================================
deletes_test                deletes a test file, or a ``def test_…``/``class Test…`` it keeps
                            no definition of
skips_test                  adds a skip (``pytest.mark.skip[if]``, ``pytest.skip()``,
                            ``unittest.skip*``, ``SkipTest``, ``__test__ = False``)
xfails_test                 adds an ``xfail`` or ``expectedFailure``
weakens_assertion           leaves fewer or weaker assertions than it removes (a comparison
                            dropped, ``assert True``, ``or True``), or removes ``pytest.raises``
edits_coverage_threshold    changes ``fail_under`` / ``--cov-fail-under``
edits_test_config           changes test configuration: ``conftest.py``, ``pytest.ini``,
                            ``tox.ini``, ``.coveragerc``, ``noxfile.py``, the pytest and
                            coverage sections of ``pyproject.toml`` and ``setup.cfg``
modifies_tests              changes or removes lines of existing tests (adding tests is fine;
                            ``allow_test_edits`` turns this off)
protected_path              touches a protected path or one of ``forbid_paths``
too_many_lines              changes more lines than ``max_lines_changed``
too_many_files              changes more files than ``max_files_changed``
binary                      adds or changes a binary file (``forbid_binary``)
outside_finding_files       changes a file none of its findings is in
content:<rule>              breaks a containment content rule (:mod:`uet.contain.rules`:
                            symlinks, gitlinks, executables, collisions…), found once the
                            patch is applied in its validation clone
==========================  ==============================================================

:func:`static_reasons` needs only the parsed patch and the text of its files before
and after (``texts(path)``); nothing here runs git or a check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from uet.contain.rules import Violation
from uet.recovery.patches import FileChange, Patch
from uet.recovery.policy import PatchPolicy
from uet.scope import FileScope, ProtectedPaths

Texts = Callable[[str], tuple[str | None, str | None]]
"""``path -> (text before, text after)`` of a changed file (None: absent or unreadable)."""


@dataclass(frozen=True, slots=True)
class Tamper:
    """One reason a patch goes to the manual queue."""

    rule: str
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.path} ({self.detail})"

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "path": self.path, "detail": self.detail}


_TEST_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(test\w*)\s*\(|^\s*class\s+(Test\w*)\b")
_SKIP = re.compile(
    r"pytest\.mark\.skip(?:if)?\b|pytest\.skip\s*\(|unittest\.skip\w*|@skip(?:If|Unless)?\b"
    r"|SkipTest\b|__test__\s*=\s*False|pytest\.importorskip\s*\("
)
_XFAIL = re.compile(r"pytest\.mark\.xfail\b|pytest\.xfail\s*\(|expectedFailure\b")
_ASSERT = re.compile(r"^\s*(?:assert\b|self\.assert\w+\s*\(|assert_\w+\s*\()")
_COMPARISON = re.compile(r"==|!=|<=|>=|<|>|\bis\b|\bin\b|assert(?:Equal|Raises|In|Is)\w*")
_TRIVIAL = re.compile(
    r"^\s*assert\s+(?:True|1|not\s+False|not\s+None|\"[^\"]*\"|'[^']*')\s*(?:,.*)?$"
    r"|\bor\s+True\b|assertTrue\(\s*True\s*\)"
)
_RAISES = re.compile(r"pytest\.raises\s*\(|assertRaises\w*\s*\(")
_THRESHOLD = re.compile(r"fail[_-]under|cov-fail-under|--cov-fail|min[_-]coverage", re.I)
_SECTION = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+\s*$")
_TEST_SECTIONS = ("tool.pytest", "tool:pytest", "pytest", "tool.coverage", "coverage", "tool.tox")


def static_reasons(
    patch: Patch,
    policy: PatchPolicy,
    *,
    texts: Texts,
    finding_files: Sequence[str] = (),
) -> list[Tamper]:
    """Every tamper rule ``patch`` breaks (see the module docstring), most specific first."""
    tests = FileScope(policy.test_paths)
    found: list[Tamper] = []
    for change in patch.changes:
        if tests.allows(change.path) or (change.source and tests.allows(change.source)):
            found += _test_reasons(change, policy)
        found += _config_reasons(change, policy, texts)
    found += _path_reasons(patch, policy, texts)
    found += _size_reasons(patch, policy)
    if finding_files:
        allowed = set(finding_files)
        for path in patch.scope.files:
            if path not in allowed:
                found.append(
                    Tamper("outside_finding_files", path, "none of the patch's findings is here")
                )
    return _unique(found)


def content_reasons(violations: Sequence[Violation]) -> list[Tamper]:
    """The containment content rules' refusals, as tamper reasons."""
    return [Tamper(f"content:{v.rule.value}", v.path, v.detail) for v in violations]


def _test_reasons(change: FileChange, policy: PatchPolicy) -> list[Tamper]:
    path = change.path
    found: list[Tamper] = []
    if change.is_deleted:
        return [Tamper("deletes_test", path, "the test file is deleted")]
    kept = {name for _n, text in change.added for name in _defined(text)}
    for _n, text in change.removed:
        for name in _defined(text):
            if name not in kept:
                found.append(Tamper("deletes_test", path, f"{name} is removed"))
    for number, text in change.added:
        if _SKIP.search(text):
            found.append(Tamper("skips_test", path, f"line {number} skips: {text.strip()[:80]}"))
        if _XFAIL.search(text):
            found.append(Tamper("xfails_test", path, f"line {number}: {text.strip()[:80]}"))
    weaker = _weakened(change)
    if weaker is not None:
        found.append(Tamper("weakens_assertion", path, weaker))
    if change.removed and not change.is_new and not policy.allow_test_edits:
        found.append(
            Tamper(
                "modifies_tests",
                path,
                f"{len(change.removed)} line(s) of existing tests changed or removed",
            )
        )
    return found


def _defined(text: str) -> list[str]:
    found = _TEST_DEF.match(text)
    return [] if found is None else [found.group(1) or found.group(2)]


def _strength(text: str) -> int:
    """2: an assertion with a comparison; 1: a bare one; 0: one that always holds."""
    if _TRIVIAL.search(text):
        return 0
    return 2 if _COMPARISON.search(text.split("assert", 1)[-1]) else 1


def _weakened(change: FileChange) -> str | None:
    removed = [t for _n, t in change.removed if _ASSERT.match(t)]
    added = [t for _n, t in change.added if _ASSERT.match(t)]
    trivial = [t for t in added if _strength(t) == 0]
    if trivial:
        return f"an assertion that always holds: {trivial[0].strip()[:80]}"
    raises_lost = sum(bool(_RAISES.search(t)) for _n, t in change.removed) - sum(
        bool(_RAISES.search(t)) for _n, t in change.added
    )
    if raises_lost > 0:
        return "an expected exception (pytest.raises / assertRaises) is no longer checked"
    if not removed:
        return None
    if len(added) < len(removed):
        return f"{len(removed)} assertion(s) removed, {len(added)} added"
    if sum(map(_strength, added)) < sum(map(_strength, removed)):
        return "a comparison was dropped from an assertion"
    return None


def _config_reasons(change: FileChange, policy: PatchPolicy, texts: Texts) -> list[Tamper]:
    path = change.path
    config = FileScope(policy.test_config)
    lines = [*change.added, *change.removed]
    threshold = [t for _n, t in lines if _THRESHOLD.search(t)]
    if threshold:
        return [Tamper("edits_coverage_threshold", path, threshold[0].strip()[:80])]
    if not config.allows(path):
        return []
    name = path.rsplit("/", 1)[-1]
    if name not in ("pyproject.toml", "setup.cfg"):
        return [Tamper("edits_test_config", path, "a file that configures the tests")]
    sections = _sections_touched(change, texts(change.source or path)[0])
    hit = [s for s in sections if s.startswith(_TEST_SECTIONS)]
    if hit:
        return [Tamper("edits_test_config", path, f"section [{hit[0]}] changed")]
    return []


def _sections_touched(change: FileChange, text: str | None) -> list[str]:
    """The ``[sections]`` of an INI/TOML file the change's lines fall in."""
    headers: list[tuple[int, str]] = []  # (line number before, section)
    for number, line in enumerate((text or "").splitlines(), 1):
        found = _SECTION.match(line)
        if found:
            headers.append((number, found.group(1).strip().strip('"')))
    touched: list[str] = []
    for number, _text in change.removed:
        touched.append(_section_at(headers, number))
    for _number, line in change.added:
        found = _SECTION.match(line)
        if found:
            touched.append(found.group(1).strip())
    if change.added and not change.removed:  # insertions: the section of the line before
        first = change.added[0][0]
        touched.append(_section_at(headers, max(first - 1, 0)))
    elif change.added:
        touched.append(_section_at(headers, change.removed[0][0]))
    return [s for s in dict.fromkeys(touched) if s]


def _section_at(headers: Sequence[tuple[int, str]], number: int) -> str:
    current = ""
    for at, name in headers:
        if at > number:
            break
        current = name
    return current


def _path_reasons(patch: Patch, policy: PatchPolicy, texts: Texts) -> list[Tamper]:
    found: list[Tamper] = []
    protected = ProtectedPaths(policy.protected_paths)
    for path, entry in protected.violations(list(patch.scope.files), FileScope(()), texts):
        found.append(Tamper("protected_path", path, f"protected by {entry!r}"))
    forbidden = FileScope(policy.forbid_paths)
    for path in patch.scope.files:
        if policy.forbid_paths and forbidden.allows(path):
            found.append(Tamper("protected_path", path, "named by patch_policy.forbid_paths"))
    return found


def _size_reasons(patch: Patch, policy: PatchPolicy) -> list[Tamper]:
    scope = patch.scope
    found: list[Tamper] = []
    if scope.lines_changed > policy.max_lines_changed:
        found.append(
            Tamper(
                "too_many_lines",
                scope.files[0] if scope.files else "",
                f"{scope.lines_changed} lines changed, over max_lines_changed "
                f"{policy.max_lines_changed}",
            )
        )
    if len(scope.files) > policy.max_files_changed:
        found.append(
            Tamper(
                "too_many_files",
                scope.files[0],
                f"{len(scope.files)} files changed, over max_files_changed "
                f"{policy.max_files_changed}",
            )
        )
    if policy.forbid_binary:
        for path in scope.binary:
            found.append(Tamper("binary", path, "a binary file (forbid_binary)"))
    return found


def _unique(found: list[Tamper]) -> list[Tamper]:
    return list(dict.fromkeys(found))
