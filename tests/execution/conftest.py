"""Fixtures for the executor tests: a real executor, a collecting sink, job and group helpers.

Everything here runs real processes; nothing of uet is replaced. ``alive_in_group`` is written
independently of ``uet.execution.process`` so that the tests do not grade the code with itself.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pytest

from uet.execution import Finished, Job, LocalExecutor, Outcome, Report, Started

WAIT_S = 30.0  # generous bound for anything to happen; a hang fails instead of blocking CI


class Sink:
    """Collects output batches from the executor's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.batches: list[tuple[int, list[str]]] = []

    def __call__(self, attempt_id: int, lines: Sequence[str]) -> None:
        with self._lock:
            self.batches.append((attempt_id, list(lines)))

    def lines(self, attempt_id: int) -> list[str]:
        with self._lock:
            return [line for aid, batch in self.batches if aid == attempt_id for line in batch]


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def executor(sink: Sink) -> Iterator[LocalExecutor]:
    with LocalExecutor(max_workers=8, output=sink) as running:
        yield running


def env(**extra: str) -> dict[str, str]:
    """A minimal environment: our PATH plus ``extra``."""
    return {"PATH": os.environ.get("PATH", os.defpath), **extra}


def job(attempt_id: int, shell: str | None = None, **fields: Any) -> Job:
    fields.setdefault("env", env())
    return Job(attempt_id, f"task-{attempt_id}", shell=shell, **fields)


def collect(executor: LocalExecutor, count: int) -> list[Report]:
    """Poll until ``count`` Finished reports arrived; every report, in order."""
    reports: list[Report] = []
    deadline = time.monotonic() + WAIT_S
    while sum(isinstance(r, Finished) for r in reports) < count:
        assert time.monotonic() < deadline, f"only {reports} after {WAIT_S} s"
        reports += executor.poll(0.5)
    return reports


def run_jobs(executor: LocalExecutor, jobs: Iterable[Job]) -> dict[int, Outcome]:
    """Submit ``jobs``, wait for all; each must finish exactly once."""
    jobs = list(jobs)
    for one in jobs:
        executor.submit(one)
    reports = collect(executor, len(jobs))
    finished = [r for r in reports if isinstance(r, Finished)]
    assert sorted(r.attempt_id for r in finished) == sorted(j.attempt_id for j in jobs)
    return {r.attempt_id: r.outcome for r in finished}


def run_one(executor: LocalExecutor, one: Job) -> Outcome:
    return run_jobs(executor, [one])[one.attempt_id]


def wait_started(executor: LocalExecutor, count: int = 1) -> list[Started]:
    """Poll until ``count`` jobs reported Started (fails on any Finished meanwhile)."""
    started: list[Started] = []
    deadline = time.monotonic() + WAIT_S
    while len(started) < count:
        assert time.monotonic() < deadline, "jobs did not start"
        for report in executor.poll(0.5):
            assert isinstance(report, Started), f"unexpected {report}"
            started.append(report)
    return started


def alive_in_group(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is alive.

    ``os.killpg(pgid, 0)`` is the first word; but a zombie still belongs to its group and pid 1
    of some containers (this one) never reaps orphans, so a group whose only members are
    zombies is dead too.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def wait_for(predicate: Any, what: str) -> None:
    """Wait (bounded) until ``predicate()`` is true: for conditions a test sets up itself."""
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)
