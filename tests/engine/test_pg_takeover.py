"""PostgreSQL, whole processes: an orchestrator stopped past its lease's time to live is
taken over by ``uet resume``; when it continues, its next tick finds its epoch fenced and it
stops at once (exit 3, one clear line), writing nothing more; the new owner ends the run."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.engine.procs import Project, kill_run_processes, stop, unique_run_id, wait_until

pytestmark = pytest.mark.postgres


class _PgProject(Project):
    """A project whose ``uet`` commands use a PostgreSQL database, with a 1 s lease."""

    url: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "UET_DB": self.url, "UET_RUN_LEASE_TTL": "1"}

    def pg(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url.replace("postgresql+psycopg", "postgresql")) as conn:
            return list(conn.execute(query, params).fetchall())  # type: ignore[arg-type]


IN_PROCESS = '[run]\nexecutor = "local-inproc"\n'
"""The orchestrator's own thread runs the tasks: what runs when it is stopped is lost to the
takeover and run again (the executor process's case is the test after)."""


def _workstream(ledger: Path, go: Path) -> str:
    log = f'echo "$UET_TASK_ID" >> {ledger}'
    return (
        "id: w\ntasks:\n"
        f"  - id: first\n    run: '{log}'\n"
        f"  - id: slow\n    run: '{log}; while [ ! -f {go} ]; do sleep 0.05; done'\n"
        "    depends_on: [first]\n    retries: 1\n"
        f"  - id: last\n    run: '{log}'\n    depends_on: [slow]\n"
    )


def test_a_taken_over_orchestrator_stops_at_its_next_tick(tmp_path: Path, pg_url: str) -> None:
    """Pins issue 9's fencing: SIGSTOP ``uet run`` until its lease expired, ``uet resume``
    takes the run over (epoch + 1), SIGCONT: the first orchestrator exits 3 saying it lost
    its lease, without a traceback; the resumed run ends succeeded with one completion."""
    project = _PgProject.create(tmp_path)
    project.url = pg_url
    ledger, go = tmp_path / "ledger", tmp_path / "go"
    project.write("w.yaml", _workstream(ledger, go))
    project.write("uet.toml", IN_PROCESS)  # see IN_PROCESS
    run_id = unique_run_id("takeover")
    first = project.start("run", "w.yaml", "--run-id", run_id, "--json", log="first")
    second = None
    try:
        slow = "SELECT 1 FROM attempts WHERE run_id = %s AND task_id = 'w/slow' AND pid > 0"
        assert wait_until(lambda: _exists(project, slow, run_id), 60), "slow never ran"
        os.kill(first.pid, signal.SIGSTOP)
        expired = (
            "SELECT 1 FROM run_leases WHERE run_id = %s AND expires_at < extract(epoch FROM now())"
        )
        assert wait_until(lambda: bool(project.pg(expired, (run_id,))), 30)
        second = project.start("resume", run_id, "--json", log="second")
        owner = "SELECT pid FROM runs WHERE id = %s"
        assert wait_until(lambda: project.pg(owner, (run_id,)) == [(second.pid,)], 60)
        os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=60) == 3, (tmp_path / "first.out").read_text()
        said = (tmp_path / "first.out").read_text()
        assert "lost its lease" in said, said
        assert f"pid {second.pid}" in said, said
        assert "Traceback" not in said, said
        go.touch()
        assert second.wait(timeout=60) == 0, (tmp_path / "second.out").read_text()
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGCONT)
        stop(first)
        if second is not None:
            stop(second)
        kill_run_processes(run_id)
    report = json.loads((tmp_path / "second.out").read_text())
    assert report["status"] == "succeeded", report
    events = Counter(
        t for (t,) in project.pg("SELECT type FROM events WHERE run_id = %s", (run_id,))
    )
    assert events["run.completed"] == 1, events
    assert events["run.failed"] == 0, events
    assert events["run.resumed"] == 1, events
    # the stopped one's attempt was lost to the takeover and run again; the rest ran once
    assert Counter(ledger.read_text().split()) == Counter({"w/first": 1, "w/slow": 2, "w/last": 1})
    assert project.pg("SELECT status, pid FROM runs WHERE id = %s", (run_id,)) == [
        ("succeeded", second.pid)
    ]


def test_a_takeover_releases_the_stopped_orchestrators_executor(
    tmp_path: Path, pg_url: str
) -> None:
    """The default executor process outlives a stopped orchestrator and would serve it
    forever: ``uet resume`` releases it (it starts nothing new and ends with its running
    task), adopts that task's journaled outcome instead of running it again, and ends the run;
    the stopped one, continued, exits 3."""
    project = _PgProject.create(tmp_path)
    project.url = pg_url
    ledger, go = tmp_path / "ledger", tmp_path / "go"
    project.write("w.yaml", _workstream(ledger, go))
    run_id = unique_run_id("release")
    first = project.start("run", "w.yaml", "--run-id", run_id, "--json", log="first")
    second = None
    try:
        slow = "SELECT 1 FROM attempts WHERE run_id = %s AND task_id = 'w/slow' AND pid > 0"
        assert wait_until(lambda: _exists(project, slow, run_id), 60), "slow never ran"
        os.kill(first.pid, signal.SIGSTOP)
        expired = (
            "SELECT 1 FROM run_leases WHERE run_id = %s AND expires_at < extract(epoch FROM now())"
        )
        assert wait_until(lambda: bool(project.pg(expired, (run_id,))), 30)
        second = project.start("resume", run_id, "--json", log="second")
        leased = "SELECT pid FROM run_leases WHERE run_id = %s"
        assert wait_until(lambda: project.pg(leased, (run_id,)) == [(second.pid,)], 60)
        go.touch()  # the released executor lets `slow` end; the resume adopts it
        assert second.wait(timeout=60) == 0, (tmp_path / "second.out").read_text()
        os.kill(first.pid, signal.SIGCONT)
        assert first.wait(timeout=60) == 3, (tmp_path / "first.out").read_text()
        assert "Traceback" not in (tmp_path / "first.out").read_text()
    finally:
        if first.poll() is None:
            os.kill(first.pid, signal.SIGCONT)
        stop(first)
        if second is not None:
            stop(second)
        kill_run_processes(run_id)
    said = (tmp_path / "second.out").read_text()  # the note on stderr, then the report
    assert "waiting for the executor process" in said, said
    report = json.loads(said[said.index("{") :])
    assert report["status"] == "succeeded", report
    assert Counter(ledger.read_text().split()) == Counter({"w/first": 1, "w/slow": 1, "w/last": 1})


def _exists(project: _PgProject, query: str, run_id: str) -> bool:
    try:
        return bool(project.pg(query, (run_id,)))
    except psycopg.errors.UndefinedTable:  # the first command is still making the tables
        return False


def test_a_live_orchestrator_keeps_its_lease_past_the_ttl(tmp_path: Path, pg_url: str) -> None:
    """Renewal: a run that lasts several lease lifetimes (1 s each) is never taken over while
    its orchestrator runs: ``uet resume`` during it exits 2 naming it, ``uet status`` shows it
    running, and it ends succeeded with one epoch only."""
    project = _PgProject.create(tmp_path)
    project.url = pg_url
    go = tmp_path / "go"
    project.write("w.yaml", _workstream(tmp_path / "ledger", go))
    run_id = unique_run_id("renew")
    proc = project.start("run", "w.yaml", "--run-id", run_id, "--json", log="run")
    try:
        slow = "SELECT 1 FROM attempts WHERE run_id = %s AND task_id = 'w/slow' AND pid > 0"
        assert wait_until(lambda: _exists(project, slow, run_id), 60), "slow never ran"
        for _ in range(3):  # each look is longer than the lease's time to live
            refused = project.uet("resume", run_id)
            assert refused.returncode == 2, refused.stdout + refused.stderr
            assert f"pid {proc.pid}" in refused.stderr
            assert project.uet_json("status", run_id)["status"] == "running"
        go.touch()
        assert proc.wait(timeout=60) == 0, (tmp_path / "run.out").read_text()
    finally:
        stop(proc)
        kill_run_processes(run_id)
    assert project.pg("SELECT epoch, expires_at FROM run_leases WHERE run_id = %s", (run_id,)) == [
        (1, 0.0)
    ]
