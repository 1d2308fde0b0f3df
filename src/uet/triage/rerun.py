"""Reruns through uet: each batch of reruns is one recorded run, each rerun one task.

::

    rerunner = Rerunner(settings=s, store=store, root=Path("."), program=["pytest"])
    outcomes = rerunner.run("alone", [["tests/test_a.py::test_x"], ["tests/b.py::t"]])

A rerun is ``PROGRAM -p no:cacheprovider -p no:randomly -o junit_family=xunit1
--junitxml=FILE NODEID…``: the tests run in the order given (the victim last), the order
plugins off. Its JUnit file is kept beside the run's logs (``.uet/triage/RUN/TASK.xml``)
and the run is an ordinary run (``uet status RUN``, ``uet logs RUN TASK``): no evidence is
lost. The victim's outcome is read from that file; a rerun that wrote no result for it (the
process was killed, timed out, or never started) counts as failed.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from uet.config import Settings
from uet.engine.api import start_run
from uet.engine.model import RunOptions
from uet.errors import ExitCode, UetError
from uet.execution.api import Stdio
from uet.ids import RandomIds
from uet.spec._resolve import plan_task
from uet.spec.models import Plan, TaskSpec, WorkstreamSpec
from uet.state.store import Store
from uet.triage.junit import ReportError, read_report
from uet.triage.model import Attempt, Outcome

TRIAGE_WORKSTREAM = "triage"
"""The workstream id of a rerun batch's run (``uet logs RUN triage/KIND-N``)."""

RERUN_OPTIONS = ("-p", "no:cacheprovider", "-p", "no:randomly", "-o", "junit_family=xunit1")
"""What every rerun adds to the program: no cache, no shuffling, JUnit with file names."""


class RerunsInterrupted(UetError):
    """Ctrl-C or SIGTERM during the reruns: the triage records nothing (its rerun runs are
    recorded, interrupted, and resumable with ``uet resume RUN``)."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, run_id: str) -> None:
        super().__init__(f"interrupted during the reruns (uet status {run_id})")
        self.run_id = run_id


@dataclass(slots=True)
class Rerunner:
    """Runs batches of node ids as tasks of one recorded run (module docstring)."""

    settings: Settings
    store: Store
    root: Path  # where node ids are relative to (pytest's rootdir): reruns run here
    program: Sequence[str] = (sys.executable, "-m", "pytest")
    timeout: float | None = None  # seconds per rerun (None: the default task timeout)
    concurrency: int = 1  # reruns at once (tests that share state want 1)
    env: Mapping[str, str] = field(default_factory=dict)  # set for each rerun
    interrupted: threading.Event | None = None
    runs: list[str] = field(default_factory=list)  # the run ids made, in order

    def run(self, kind: str, batches: Sequence[Sequence[str]]) -> list[Attempt]:
        """Run each batch (node ids, the victim last); the victim's outcome of each."""
        if not batches:
            return []
        run_id = RandomIds().new("run")
        folder = self.settings.home.absolute() / "triage" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        names = [f"{kind}-{index:04d}" for index in range(1, len(batches) + 1)]
        tasks = [
            self._task(name, batch, folder / f"{name}.xml")
            for name, batch in zip(names, batches, strict=True)
        ]
        workstream = WorkstreamSpec(id=TRIAGE_WORKSTREAM, tasks=tasks)
        planned = [plan_task(workstream, task, []) for task in tasks]
        plan = Plan(
            workstreams=(workstream,),
            tasks=tuple(planned),
            sources={TRIAGE_WORKSTREAM: Path("uet triage")},
        )
        options = RunOptions.make(concurrency=self.concurrency, deterministic=False, run_id=run_id)
        options = dataclasses.replace(options, name=f"triage {kind}", stdio=Stdio.NULL)
        start_run(
            plan,
            settings=self.settings,
            store=self.store,
            options=options,
            interrupted=self.interrupted,
        )
        self.runs.append(run_id)
        if self.interrupted is not None and self.interrupted.is_set():
            raise RerunsInterrupted(run_id)
        return [
            self._outcome(
                kind, run_id, f"{TRIAGE_WORKSTREAM}/{name}", batch, folder / f"{name}.xml"
            )
            for name, batch in zip(names, batches, strict=True)
        ]

    def _task(self, name: str, batch: Sequence[str], junit: Path) -> TaskSpec:
        argv = [*self.program, *RERUN_OPTIONS, f"--junitxml={junit}", "-q", *batch]
        fields: dict[str, object] = {
            "id": name,
            "argv": argv,
            "cwd": str(self.root.absolute()),
            "env": dict(self.env),
        }
        if self.timeout is not None:
            fields["timeout"] = self.timeout
        return TaskSpec.model_validate(fields)

    def _outcome(
        self, kind: str, run_id: str, task_id: str, batch: Sequence[str], junit: Path
    ) -> Attempt:
        victim = batch[-1]
        try:
            results = read_report(junit, root=self.root)
        except ReportError:  # none written (killed, timed out, never started), or cut short
            results = []
        mine = [r for r in results if r.test_id == victim]
        if not mine:
            return Attempt(
                kind,
                Outcome.ERROR,
                run_id,
                task_id,
                len(batch),
                "no result for the test: the rerun ended before it reported",
            )
        worst = next((r for r in mine if r.outcome.failing), mine[0])
        return Attempt(kind, worst.outcome, run_id, task_id, len(batch), worst.message)
