"""Many processes, one database: event buses in separate processes writing at the same time
never hit "database is locked", never need a retry, and never number a run's events twice."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from uet.state.records import EventRecord
from uet.state.store import Store

WRITER = Path(__file__).with_name("concurrent_writer.py")
WAIT_S = 120.0


@dataclass
class Finished:
    writer: int
    returncode: int
    stderr: str


def run_writers(
    url: str, tmp_path: Path, *, writers: int, own: int, shared: int, batch_size: int
) -> list[Finished]:
    """Start ``writers`` processes, wait until each has its store and bus open, release them
    all at once with a go file, and wait for them to end."""
    go = tmp_path / "go"
    children: list[tuple[subprocess.Popen[str], Path]] = []
    try:
        for k in range(writers):
            stderr_path = tmp_path / f"writer-{k}.stderr"
            with stderr_path.open("w") as stderr:
                argv = [sys.executable, str(WRITER), url, str(k), str(own), str(shared),
                        str(batch_size), str(go)]  # fmt: skip
                child = subprocess.Popen(
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    env=dict(os.environ),
                )
            children.append((child, stderr_path))
        for child, stderr_path in children:
            assert child.stdout is not None
            ready, _, _ = select.select([child.stdout], [], [], WAIT_S)
            line = child.stdout.readline().strip() if ready else "(nothing)"
            assert line == "ready", f"writer did not start: {line} {stderr_path.read_text()}"
        go.touch()
        for child, _ in children:
            child.wait(timeout=WAIT_S)
    finally:
        for child, _ in children:
            if child.poll() is None:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
    return [
        Finished(k, child.returncode, stderr_path.read_text())
        for k, (child, stderr_path) in enumerate(children)
    ]


def assert_clean(finished: list[Finished]) -> None:
    """Every writer exited 0 and wrote nothing on stderr about a lock or a failed write
    (the bus logs every retried batch, so a retry that later succeeded still shows)."""
    for item in finished:
        assert "database is locked" not in item.stderr.lower(), item.stderr
        assert "failed" not in item.stderr.lower(), item.stderr
        assert item.returncode == 0, f"writer {item.writer}: {item.returncode}\n{item.stderr}"


def assert_run(events: list[EventRecord], writers: range, per_writer: int) -> None:
    """Seqs exactly 1..n and, for each writer, its counters 0..per_writer-1 in seq order."""
    assert [e.seq for e in events] == list(range(1, len(writers) * per_writer + 1))
    for k in writers:
        assert [e.payload["i"] for e in events if e.payload["w"] == k] == list(range(per_writer))


@pytest.fixture
def prepared(request: pytest.FixtureRequest) -> Iterator[tuple[str, Store]]:
    """The database of the test (``sqlite_url`` or ``pg_url``), created at the newest schema
    before any writer starts, so the writers race on events only."""
    url = str(request.getfixturevalue(request.param))
    store = Store.open(url)
    yield url, store
    store.close()


@pytest.mark.slow
@pytest.mark.parametrize("prepared", ["sqlite_url"], indirect=True)
def test_eight_processes_share_one_sqlite_file(prepared: tuple[str, Store], tmp_path: Path) -> None:
    """8 processes released together each write 5,000 events to their own run and 500 to a
    shared run through their own EventBus: all exit 0 with no "database is locked" and no
    retried write, every run has its exact count, and the shared run's seqs are exactly
    1..4,000 with each writer's events in its emission order."""
    writers, own, shared = 8, 5_000, 500
    url, store = prepared
    finished = run_writers(url, tmp_path, writers=writers, own=own, shared=shared, batch_size=100)
    assert_clean(finished)
    with store.reader() as tx:
        for k in range(writers):
            assert_run(tx.get_events(f"own-{k}"), range(k, k + 1), own)
        assert_run(tx.get_events("shared"), range(writers), shared)
        assert tx.count_events() == writers * (own + shared)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("prepared", ["pg_url"], indirect=True)
def test_four_processes_share_one_run_on_postgresql(
    prepared: tuple[str, Store], tmp_path: Path
) -> None:
    """4 processes write 500 events each to one shared run (and 1,000 to their own) on
    PostgreSQL in small batches: the per-run advisory lock makes the shared run's seqs
    exactly 1..2,000 without a single failed (retried) insert, in each writer's order."""
    writers, own, shared = 4, 1_000, 500
    url, store = prepared
    finished = run_writers(url, tmp_path, writers=writers, own=own, shared=shared, batch_size=10)
    assert_clean(finished)
    with store.reader() as tx:
        for k in range(writers):
            assert_run(tx.get_events(f"own-{k}"), range(k, k + 1), own)
        assert_run(tx.get_events("shared"), range(writers), shared)
        assert tx.count_events() == writers * (own + shared)
