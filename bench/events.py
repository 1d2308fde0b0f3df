"""Events through uet's bus into SQLite, side by side with the baselines, in one run.

    python bench/events.py [--events 100000] [--json]

Every variant writes the same payloads into the same schema (uet's, indexes included), each
into a fresh database file in one temporary folder:

* ``seed before``: one INSERT and one COMMIT per event, JSON encoded at emit, SQLite's default
  journal (the seed plan's "before"; measured on fewer events, it is slow);
* ``commit per event (WAL)``: the same with uet's pragmas (WAL, synchronous=NORMAL);
* ``raw sqlite3 batches``: executemany of 1,000 pre-built rows per transaction (the ceiling:
  no queue, no thread, no per-run sequence numbers);
* ``uet bus``: ``EventBus.emit()`` for every event, then ``flush()``: the clock runs from the
  first emit until everything is committed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from uet.events.bus import EventBus
from uet.state.store import Store

RUN = "run-bench"
INSERT = (
    "INSERT INTO events (run_id, seq, type, ts, task_id, attempt_id, payload) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def payload(n: int) -> dict[str, object]:
    return {"line": f"collected {n} items", "stream": "stdout", "n": n}


def fresh_db(folder: Path, name: str) -> Path:
    """A database file with uet's schema (created through the store, then closed)."""
    path = folder / f"{name}.db"
    Store.open(f"sqlite:///{path}").close()
    return path


def one_commit_per_event(path: Path, count: int, *, wal: bool) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
    conn.execute(f"PRAGMA synchronous={'NORMAL' if wal else 'FULL'}")
    start = time.perf_counter()
    for n in range(count):
        conn.execute("BEGIN")
        conn.execute(
            INSERT, (RUN, n + 1, "task.output", time.time(), "t1", None, json.dumps(payload(n)))
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def raw_batches(path: Path, count: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    rows = [
        (RUN, n + 1, "task.output", time.time(), "t1", None, json.dumps(payload(n)))
        for n in range(count)
    ]
    start = time.perf_counter()
    for first in range(0, count, 1000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, rows[first : first + 1000])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def through_bus(path: Path, count: int) -> float:
    store = Store.open(f"sqlite:///{path}")
    payloads = [payload(n) for n in range(count)]
    bus = EventBus(store)
    start = time.perf_counter()
    emit = bus.emit
    for item in payloads:
        emit("task.output", item, run_id=RUN, task_id="t1")
    bus.flush()
    elapsed = time.perf_counter() - start
    bus.close()
    with store.reader() as tx:
        stored = tx.count_events(RUN)
    store.close()
    if stored != count:
        raise SystemExit(f"bus stored {stored} events, expected {count}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events for bus and raw")
    parser.add_argument("--before-events", type=int, default=2_000, help="events for 'before'")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    big, small = args.events, args.before_events
    variants: list[tuple[str, int, Callable[[Path, int], float]]] = [
        (
            "seed before (commit per event)",
            small,
            lambda p, n: one_commit_per_event(p, n, wal=False),
        ),
        ("commit per event (WAL)", small * 5, lambda p, n: one_commit_per_event(p, n, wal=True)),
        ("raw sqlite3 batches of 1000", big, raw_batches),
        ("uet bus (emit + flush)", big, through_bus),
    ]
    results = {}
    with tempfile.TemporaryDirectory(prefix="uet-bench-") as folder:
        for index, (name, count, run) in enumerate(variants):
            elapsed = run(fresh_db(Path(folder), f"v{index}"), count)
            results[name] = {"events": count, "seconds": elapsed, "per_second": count / elapsed}
    bus = results["uet bus (emit + flush)"]["per_second"]
    before = results["seed before (commit per event)"]["per_second"]
    raw = results["raw sqlite3 batches of 1000"]["per_second"]
    if args.json:
        print(
            json.dumps({"results": results, "bus_vs_before": bus / before, "bus_vs_raw": bus / raw})
        )
        return 0
    print(f"{'variant':34} {'events':>8} {'seconds':>8} {'events/s':>10}")
    for name, row in results.items():
        print(f"{name:34} {row['events']:>8} {row['seconds']:>8.3f} {row['per_second']:>10,.0f}")
    print(
        f"\nuet bus vs seed before: {bus / before:,.1f}x   vs raw sqlite3 batches: {bus / raw:.2f}"
    )
    target = 150_000
    print(f"target >= {target:,} events/s through the bus: {'met' if bus >= target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
