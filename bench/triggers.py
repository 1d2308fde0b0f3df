"""An idle ``uet daemon`` watching 10,000 files, and the time from a save to its fire.

    python bench/triggers.py [--dirs 500] [--files-per-dir 20] [--idle 20] [--saves 20] [--json]

Makes a project of ``dirs`` x ``files-per-dir`` files under ``data/`` with one file trigger
(``files: [data/**]``, debounce 50 ms, ``overlap: allow``, target ``exec: [true]``), starts
``uet daemon`` as a process of its own, waits for it to lead and its watcher to be set up,
then:

* **idle**: the daemon's CPU time (utime + stime from /proc) and resident memory over
  ``idle`` seconds with nothing changing (the issue's target: ≤ 1 % CPU, ≤ 60 MiB);
* **latency**: ``saves`` files saved one second apart; for each, the time from the save
  (the writer's wall clock) to the ``trigger.fired`` event's timestamp (the daemon's wall
  clock, same host) — p50 and p95 (target: p95 ≤ 200 ms).

The bare baseline for the latency is watchfiles' own: the watcher's batch step (50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

TOML = """
[triggers.data]
files = ["data/**"]
debounce = "50ms"
overlap = "allow"
target = { exec = ["true"] }
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _fired(engine: sa.Engine, after: int) -> list[tuple[int, float]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT id, ts FROM events WHERE type = 'trigger.fired' AND id > :a"),
            {"a": after},
        ).all()
    return [(int(i), float(ts)) for i, ts in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dirs", type=int, default=500)
    parser.add_argument("--files-per-dir", type=int, default=20)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uet-bench-triggers-") as tmp:
        root = Path(tmp) / "project"
        for d in range(args.dirs):
            folder = root / "data" / f"d{d:03d}"
            folder.mkdir(parents=True)
            for f in range(args.files_per_dir):
                (folder / f"f{f:02d}.txt").write_text("x")
        (root / "uet.toml").write_text(TOML)
        db = f"sqlite:///{Path(tmp) / 'state.db'}"
        env = {**os.environ, "UET_DB": db}
        log = open(Path(tmp) / "daemon.log", "wb")  # noqa: SIM115 - closed below
        daemon = subprocess.Popen(
            [sys.executable, "-m", "uet", "daemon", "--json"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while b'"leading"' not in (Path(tmp) / "daemon.log").read_bytes():
                if time.monotonic() > deadline:
                    raise SystemExit("the daemon did not start")
                time.sleep(0.1)
            time.sleep(2.0)  # the watcher's recursive set-up over every folder
            cpu0, wall0 = _cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(args.idle)
            cpu = (_cpu_seconds(daemon.pid) - cpu0) / (time.monotonic() - wall0) * 100
            rss = _rss_mib(daemon.pid)
            engine = sa.create_engine(db)
            latencies = []
            last = max((i for i, _ts in _fired(engine, 0)), default=0)
            for n in range(args.saves):
                target = root / "data" / f"d{n % args.dirs:03d}" / "f00.txt"
                saved = time.time()
                target.write_text(f"save {n}")
                limit = time.monotonic() + 10
                found: list[tuple[int, float]] = []
                while not found and time.monotonic() < limit:
                    time.sleep(0.005)
                    found = _fired(engine, last)
                if found:
                    last = max(i for i, _ts in found)
                    latencies.append(min(ts for _i, ts in found) - saved)
                time.sleep(1.0)
            engine.dispose()
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
            log.close()
    _report(args, cpu, rss, latencies)


def _report(args: argparse.Namespace, cpu: float, rss: float, latencies: list[float]) -> None:
    files = args.dirs * args.files_per_dir
    ordered = sorted(latencies)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else float("nan")
    result = {
        "files": files,
        "dirs": args.dirs,
        "idle_s": args.idle,
        "idle_cpu_percent": round(cpu, 2),
        "rss_mib": round(rss, 1),
        "saves": args.saves,
        "fired": len(latencies),
        "latency_p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "latency_p95_ms": round(p95 * 1000, 1),
        "baseline_watchfiles_step_ms": 50,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"idle daemon watching {files} files in {args.dirs} folders for {args.idle:g} s:")
    print(f"  CPU {result['idle_cpu_percent']} % (target <= 1 %), RSS {result['rss_mib']} MiB")
    print(f"save -> trigger.fired over {len(latencies)}/{args.saves} saves:")
    print(
        f"  p50 {result['latency_p50_ms']} ms, p95 {result['latency_p95_ms']} ms "
        "(target p95 <= 200 ms; watchfiles' batch step alone: 50 ms)"
    )


if __name__ == "__main__":
    main()
