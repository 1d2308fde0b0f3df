"""JUnit XML in (junitparser over defusedxml) and out (with ``<flakyFailure>``/``<rerunFailure>``).

::

    results = read_report(Path("report.xml"), root=Path("."))   # [TestResult, ...] in run order
    write_merged(Path("report.xml"), verdicts, Path("merged.xml"))

XML is parsed by defusedxml: a document that declares entities (the billion laughs) or
refers to external ones (XXE) is refused with :class:`ReportError` (exit 2) naming the file,
and so is one that is not well-formed or is not JUnit. Node ids: pytest writes
``classname="tests.test_a.TestK" name="test_p[1]"``; with ``file=`` (xunit1) the module path
is known, otherwise the longest dotted prefix that is a ``.py`` file under ``root`` is the
module and the rest are classes. A collection error (``classname=""``) is its module's id.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET
import junitparser
from junitparser import xunit2

from uet.errors import UsageError
from uet.triage.model import Outcome, Phase, TestResult, Verdict

_SETUP = re.compile(r"^failed on (setup|teardown) with ")


class ReportError(UsageError):
    """A JUnit file that cannot be read: missing, hostile, malformed or not JUnit (exit 2)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def _parse(path: Path) -> junitparser.JUnitXml:
    try:
        xml = xunit2.JUnitXml.fromfile(str(path), parse_func=SafeET.parse)
    except FileNotFoundError:
        raise ReportError(path, "no such file") from None
    except IsADirectoryError:
        raise ReportError(path, "is a folder, not a JUnit XML file") from None
    except defusedxml.EntitiesForbidden:
        raise ReportError(path, "refused: the XML declares entities (entity expansion)") from None
    except defusedxml.ExternalReferenceForbidden:
        raise ReportError(path, "refused: the XML refers to an external entity") from None
    except defusedxml.DTDForbidden:  # pragma: no cover - DTDs are allowed, entities are not
        raise ReportError(path, "refused: the XML has a document type declaration") from None
    except ET.ParseError as exc:
        raise ReportError(path, f"not well-formed XML ({exc})") from None
    except junitparser.JUnitXmlError:
        raise ReportError(
            path, "not JUnit XML (the root is neither <testsuites> nor <testsuite>)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(path, f"cannot be read ({exc})") from None
    return xml


def read_report(path: Path, *, root: Path, start: int = 0) -> list[TestResult]:
    """Every testcase of one JUnit file, in document order (pytest's run order)."""
    xml = _parse(path)
    resolve = _Resolver(root.absolute())
    found: list[TestResult] = []
    cases: Iterable[Any] = (case for suite in _suites(xml) for case in suite)
    for position, case in enumerate(cases, start):
        found.append(_result(case, resolve, position))
    return found


def read_reports(paths: Iterable[Path], *, root: Path) -> list[TestResult]:
    """The testcases of several files, numbered in one order (the files' order)."""
    found: list[TestResult] = []
    for path in paths:
        found += read_report(path, root=root, start=len(found))
    return found


def _suites(xml: junitparser.JUnitXml) -> list[Any]:
    return list(xml)


def _result(case: Any, resolve: _Resolver, position: int) -> TestResult:
    elem: ET.Element = case._elem
    classname = elem.get("classname") or ""
    name = elem.get("name") or ""
    test_id = resolve.node_id(classname, name, elem.get("file"))
    seconds = _seconds(elem.get("time"))
    for child in elem:
        tag = child.tag
        if tag not in ("failure", "error", "skipped"):
            continue
        message = child.get("message") or ""
        text = child.text or ""
        if tag == "skipped":
            return TestResult(
                test_id, Outcome.SKIPPED, Phase.CALL, message, text, seconds, position
            )
        outcome = Outcome.FAILED if tag == "failure" else Outcome.ERROR
        return TestResult(
            test_id, outcome, _phase(tag, classname, message), message, text, seconds, position
        )
    return TestResult(test_id, Outcome.PASSED, Phase.CALL, "", "", seconds, position)


def _phase(tag: str, classname: str, message: str) -> Phase:
    if tag == "failure":
        return Phase.CALL
    if message == "collection failure" or (not classname and message.startswith("collect")):
        return Phase.COLLECTION
    setup = _SETUP.match(message)
    if setup:
        return Phase.SETUP if setup.group(1) == "setup" else Phase.TEARDOWN
    return Phase.CALL


def _seconds(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0


class _Resolver:
    """pytest node ids from JUnit's classname, name and (xunit1) file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._module = lru_cache(maxsize=4096)(self._module_of)

    def node_id(self, classname: str, name: str, file: str | None) -> str:
        if not classname:  # a collection error names the module: tests.test_a
            module, _ = self._module(name)
            return module
        module, rest = self._module(classname, file)
        return "::".join([module, *rest, name])

    def _module_of(self, dotted: str, file: str | None = None) -> tuple[str, tuple[str, ...]]:
        parts = dotted.split(".")
        if file:
            file = file.replace(os.sep, "/")
            depth = len(Path(file).with_suffix("").parts)
            return file, tuple(parts[depth:])
        for cut in range(len(parts), 0, -1):
            candidate = "/".join(parts[:cut]) + ".py"
            if (self.root / candidate).is_file():
                return candidate, tuple(parts[cut:])
        # Not under root: the module is all but a trailing CamelCase run of classes.
        cut = len(parts)
        while cut > 1 and parts[cut - 1][:1].isupper():
            cut -= 1
        return "/".join(parts[:cut]) + ".py", tuple(parts[cut:])


# -- the merged report -----------------------------------------------------------------------


def write_merged(
    sources: Iterable[Path], verdicts: Iterable[Verdict], target: Path, *, root: Path
) -> None:
    """The reports with each rerun recorded, Surefire's way: a test that passed on a rerun
    has no failure left and one ``<flakyFailure>`` per failed attempt (the first run's
    included); a test that failed every rerun keeps its failure, plus a ``<rerunFailure>``
    per failed rerun. Round-trips through ``junitparser.xunit2``."""
    by_id = {verdict.test_id: verdict for verdict in verdicts}
    merged = xunit2.JUnitXml()
    for source in sources:
        xml = _parse(source)
        resolve = _Resolver(root.absolute())
        for suite in _suites(xml):
            for case in suite:
                elem = case._elem
                test_id = resolve.node_id(
                    elem.get("classname") or "", elem.get("name") or "", elem.get("file")
                )
                verdict = by_id.get(test_id)
                if verdict is not None and verdict.attempts:
                    _add_reruns(case, verdict)
            merged.add_testsuite(suite)
    merged.write(str(target), pretty=True)


def _add_reruns(case: Any, verdict: Verdict) -> None:
    failed = [a for a in verdict.attempts if a.outcome.failing]
    passed = any(not a.outcome.failing for a in verdict.attempts)
    if passed:
        first = case.result
        for result in first:
            case.remove(result)
            case.add_interim_result(_interim(xunit2.FlakyFailure, result.message, result.text))
        for attempt in failed:
            case.add_interim_result(
                _interim(
                    xunit2.FlakyFailure,
                    attempt.message,
                    f"uet logs {attempt.run_id} {attempt.task_id}",
                )
            )
        return
    for attempt in failed:
        case.add_interim_result(
            _interim(
                xunit2.RerunFailure, attempt.message, f"uet logs {attempt.run_id} {attempt.task_id}"
            )
        )


def _interim(kind: type[Any], message: str | None, text: str | None) -> Any:
    result = kind(message or "", "")
    if text:
        result.stack_trace = text
    return result
