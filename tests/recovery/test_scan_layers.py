"""DESIGN.md's layering for scanning: recovery imports nothing above it, the capture
wrapper (one process per checker) only the standard library, and a scan served from the
cache loads neither the engine, the store nor pydantic."""

from __future__ import annotations

import subprocess
import sys


def imported_by(code: str) -> set[str]:
    program = f"{code}\nimport sys\nprint(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                         check=True)  # fmt: skip
    return set(eval(out.stdout))  # noqa: S307 - our own subprocess's repr of a list


def test_recovery_imports_no_cli_triggers_or_triage() -> None:
    """recovery may import engine, isolation, state and the core: never the CLI or consumers."""
    found = imported_by("import uet.recovery.scan, uet.recovery.sarif, uet.recovery.checkers")
    above = {m for m in found if m.startswith(("uet.cli", "uet.triggers", "uet.triage"))}
    assert not above


def test_the_capture_wrapper_imports_only_the_standard_library() -> None:
    """uet.recovery.capture starts once per checker: no uet module but its own package."""
    found = imported_by("import uet.recovery.capture")
    assert {m for m in found if m.startswith("uet")} == {
        "uet",
        "uet.recovery",
        "uet.recovery.capture",
    }
    assert not {m for m in found if m.split(".")[0] in {"pydantic", "sqlalchemy", "yaml"}}


def test_scanning_loads_the_engine_only_when_a_checker_must_run() -> None:
    """Importing the scan (what a cached scan needs) loads no engine, store or pydantic."""
    found = imported_by("import uet.recovery.scan")
    heavy = {"uet.engine.api", "uet.state.store", "pydantic", "sqlalchemy", "junitparser"}
    assert not heavy & found
