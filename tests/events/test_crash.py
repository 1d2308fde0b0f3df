"""Crash safety of the event bus on SQLite: a writer process killed with SIGKILL at random
moments never corrupts the database and never loses an event that flush() acknowledged."""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest

from tests.events.crash_writer import CYCLE_SPAN

WRITER = Path(__file__).with_name("crash_writer.py")
RUN_ID = "crash-run"
CYCLES = 24
SEED = 20_260_101
WAIT_S = 60.0


def pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Forward the child's stdout line by line; None marks its end."""
    for line in stream:
        lines.put(line.strip())
    lines.put(None)


def stored_ticks(db: Path) -> list[tuple[int, int, int]]:
    """(seq, n, cycle) of the run's events in seq order, read with plain sqlite3 after the
    integrity check passed."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = conn.execute(
            "SELECT seq, json_extract(payload, '$.n'), json_extract(payload, '$.cycle') "
            "FROM events WHERE run_id = ? ORDER BY seq, id",
            (RUN_ID,),
        ).fetchall()
    return [(int(seq), int(n), int(cycle)) for seq, n, cycle in rows]


@pytest.mark.slow
def test_sigkilled_writer_loses_no_acknowledged_event(tmp_path: Path) -> None:
    """24 times: start a writer on the same SQLite file, kill -9 it at a seeded random moment.
    After every kill the file passes PRAGMA integrity_check, every counter acknowledged by a
    returned flush() is stored, the run's seqs are exactly 1..count (no gap, no duplicate,
    continuing across crashes), and what survived of each life is a prefix of what it
    emitted (a crash loses only a tail of unacknowledged events, never a hole)."""
    rng = random.Random(SEED)
    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    acknowledged: dict[int, int] = {}  # cycle -> highest n acknowledged

    for cycle in range(1, CYCLES + 1):
        stderr_path = tmp_path / f"writer-{cycle}.stderr"
        with stderr_path.open("w") as stderr:
            child = subprocess.Popen(
                [sys.executable, str(WRITER), url, RUN_ID, str(cycle), str(rng.randrange(2**32))],
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                text=True,
                env=dict(os.environ),
            )
        assert child.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        reader = threading.Thread(target=pump, args=(child.stdout, lines), daemon=True)
        reader.start()
        try:
            first = lines.get(timeout=WAIT_S)
            assert first == "ready", f"writer did not start: {stderr_path.read_text()}"
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=rng.uniform(0.05, 0.6))  # the random moment of death
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=WAIT_S)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            reader.join(WAIT_S)
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL, (
            f"writer of cycle {cycle} ended by itself ({child.returncode}): "
            f"{stderr_path.read_text()}"
        )
        acked = [int(line) for line in iter(lines.get_nowait, None)]
        assert acked == sorted(acked)
        if acked:
            acknowledged[cycle] = acked[-1]

        ticks = stored_ticks(db)
        assert [seq for seq, _, _ in ticks] == list(range(1, len(ticks) + 1)), cycle
        ns = [n for _, n, _ in ticks]
        assert ns == sorted(set(ns)), "events out of emission order or duplicated"
        for life in range(1, cycle + 1):
            survived = [n for _, n, c in ticks if c == life]
            base = life * CYCLE_SPAN
            assert survived == list(range(base + 1, base + len(survived) + 1)), (
                f"life {life}: stored counters are not a prefix of what it emitted"
            )
            assert len(survived) >= acknowledged.get(life, base) - base, (
                f"life {life}: acknowledged up to {acknowledged.get(life)}, "
                f"stored only up to {base + len(survived)}"
            )

    assert acknowledged, "no writer ever got as far as one flush(): nothing was tested"
