"""``uet triage -- pytest ARGS``: pytest run as a recorded run, writing the JUnit triage reads.

::

    ran = run_pytest(["pytest", "-q", "tests"], settings=s, store=store, root=Path("."))
    results = read_report(ran.report, root=Path("."))

The command gets ``--junitxml=.uet/triage/RUN/report.xml``, ``-o junit_family=xunit1`` (file
names in the report) and ``--continue-on-collection-errors`` (a collection error would
otherwise stop the session with two testcases written). Its reruns use the same program
(``pytest``, or ``python -m pytest``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from uet.config import Settings
from uet.engine.oneshot import CommandResult, run_command
from uet.execution.api import Stdio
from uet.ids import RandomIds
from uet.spec.oneshot import one_command_plan
from uet.state.store import Store

PYTEST_OPTIONS = ("-o", "junit_family=xunit1", "--continue-on-collection-errors")
"""What ``uet triage -- pytest`` adds to the user's command (and ``--junitxml``)."""


@dataclass(frozen=True, slots=True)
class PytestRun:
    """The recorded run of the user's pytest command and the report it wrote."""

    result: CommandResult
    report: Path
    program: tuple[str, ...]  # how to start pytest again (for reruns)


def pytest_program(argv: Sequence[str]) -> tuple[str, ...]:
    """How the command starts pytest: up to ``pytest`` (``uv run pytest``) or ``-m pytest``
    (``python -m pytest``); the whole first word when neither is found."""
    for index, arg in enumerate(argv):
        if os.path.basename(arg) in ("pytest", "py.test"):
            return tuple(argv[: index + 1])
        if arg == "-m" and index + 1 < len(argv) and argv[index + 1] == "pytest":
            return tuple(argv[: index + 2])
    return tuple(argv[:1])


def run_pytest(
    argv: Sequence[str],
    *,
    settings: Settings,
    store: Store,
    root: Path,
    stdio: Stdio = Stdio.PASSTHROUGH,
    interrupted: threading.Event | None = None,
    env: Mapping[str, str] | None = None,
) -> PytestRun:
    """Run the user's pytest command through the engine, with the report options added."""
    run_id = RandomIds().new("run")
    folder = settings.home.absolute() / "triage" / run_id
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / "report.xml"
    program = pytest_program(argv)
    full = [*program, *PYTEST_OPTIONS, f"--junitxml={report}", *argv[len(program) :]]
    plan = one_command_plan(
        argv=full,
        name="pytest",
        cwd=os.fspath(root.absolute()),
        env=env,
        workstream_id="triage",
        source="uet triage",
    )
    result = run_command(
        plan,
        settings=settings,
        store=store,
        stdio=stdio,
        name="pytest",
        run_id=run_id,
        interrupted=interrupted,
    )
    return PytestRun(result, report, program)
