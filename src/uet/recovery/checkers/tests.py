"""The pytest checker: the tests run, their JUnit XML is read (junitparser over defusedxml).

Each failing test is one finding at its ``def`` line (JUnit's ``file`` and ``line``, which
pytest writes 0-based in the xunit1 family): ``failed`` for an assertion or an exception in
the test, ``error`` for a failing fixture (setup, teardown), ``collection-error`` for a
module pytest could not import (no line: the file is the place). The session goes on past
collection errors (``--continue-on-collection-errors``), so one broken module does not hide
the others' results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING
from xml.etree.ElementTree import ParseError

from uet.recovery.checkers.base import Checker, CheckerFailed, Invocation, relative
from uet.recovery.findings import Category, Finding, Severity

if TYPE_CHECKING:
    from junitparser import TestCase

TEST_PATTERNS = ("test_*.py", "*_test.py")
"""The files pytest collects by default; the checker runs when one of them is scanned."""

JUNIT_FILE = "junit.xml"
"""Name of the JUnit report in the checker's output folder."""


@dataclass(frozen=True, slots=True)
class PytestChecker(Checker):
    """``pytest --junitxml``: a test's result depends on the code it imports (not per file)."""

    name: str = "pytest"
    tool: str = "pytest"
    module: str | None = "pytest"
    per_file: bool = False
    ok_exit: frozenset[int] = frozenset({0, 1, 5})  # 5: no tests collected
    config_files: tuple[str, ...] = ("pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini")
    writes_file: bool = True

    def targets(self, files: Sequence[str]) -> tuple[str, ...]:
        return tuple(f for f in files if any(_matches(f, p) for p in TEST_PATTERNS))

    def command(self, program: Sequence[str], inv: Invocation) -> list[str]:
        assert inv.output is not None  # noqa: S101 - the scan gives writers a file
        return [*program, "-q", "-p", "no:cacheprovider", f"--junitxml={inv.output}",
                "-o", "junit_family=xunit1", "--continue-on-collection-errors",
                f"--rootdir={inv.root}", "--", *inv.files]  # fmt: skip

    def parse(self, output: str, inv: Invocation) -> list[Finding]:
        import defusedxml.ElementTree  # noqa: PLC0415 - only when pytest ran
        from junitparser import JUnitXml  # noqa: PLC0415

        if not output.strip():
            raise CheckerFailed(f"pytest wrote no JUnit report (exit {inv.exit_code})")
        try:
            root = defusedxml.ElementTree.fromstring(output)
        except (ParseError, ValueError) as exc:
            raise CheckerFailed(f"pytest's JUnit report cannot be read: {exc}") from None
        xml = JUnitXml.fromelem(root)  # type: ignore[no-untyped-call]
        suites = [xml] if root.tag == "testsuite" else list(xml)
        found = []
        for suite in suites:
            for case in suite:
                finding = self._finding(case, inv)
                if finding is not None:
                    found.append(finding)
        return found

    def _finding(self, case: TestCase, inv: Invocation) -> Finding | None:
        from junitparser import Error, Failure  # noqa: PLC0415

        results = [r for r in case.result if isinstance(r, Failure | Error)]
        if not results:
            return None
        result = results[0]
        file = case._elem.get("file") or ""  # xunit1's attributes
        line = case._elem.get("line")
        collection = isinstance(result, Error) and result.message == "collection failure"
        rule = "collection-error" if collection else "error" if isinstance(result, Error) else (
            "failed")  # fmt: skip
        path = relative(inv.root, file) if file else ""
        test = case.name if collection else f"{case.classname}.{case.name}"
        return Finding(
            tool=self.name,
            rule=rule,
            severity=Severity.ERROR,
            category=Category.TEST,
            path=path,
            line=int(line) + 1 if line is not None and line.isdigit() else None,
            column=None,
            message=f"{test}: {result.message or rule}",
            extra={"classname": case.classname, "name": case.name,
                   "nodeid": None if collection else node_id(file, case.classname, case.name)},
        )  # fmt: skip


def node_id(file: str, classname: str, name: str) -> str | None:
    """pytest's node id (``tests/test_a.py::TestK::test_m``) from xunit1's attributes."""
    if not file:
        return None
    module = file.removesuffix(".py").replace("/", ".")
    rest = classname[len(module) + 1 :] if classname.startswith(f"{module}.") else ""
    return "::".join([file, *(part for part in rest.split(".") if part), name])


def _matches(path: str, pattern: str) -> bool:
    return fnmatchcase(path.rsplit("/", 1)[-1], pattern)
