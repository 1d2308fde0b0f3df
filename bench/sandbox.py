"""The sandbox's cost per agent call: the fake agent with and without bubblewrap, one run.

    python bench/sandbox.py [--calls 200] [--json]

A clone-like folder is made in a temporary directory (a small git repository with a
``.uet/`` home and an agent clone inside it, as ``uet run`` lays them out), then the fake
agent CLI (``python -m uet.testing.fake_agent``) is started ``--calls`` times in the clone,
each call writing one file, in three ways taking turns call by call:

* ``bare``: ``/bin/true`` — what starting any process costs here (the baseline);
* ``bare sandbox``: ``/bin/true`` inside bubblewrap: what the sandbox itself costs;
* ``no sandbox``: the fake agent as the agent runner starts it with ``sandbox: none``;
* ``sandbox``: the same argv wrapped by :func:`uet.contain.sandbox.wrap` exactly as the
  runner wraps it (clone writable, base repository and ``.uet/`` hidden, private ``/tmp``,
  ``$HOME`` hidden, own PID namespace, network kept).

It prints the median and p95 per call of each and the sandbox's extra time per call (the
difference of the medians). Figures of this machine: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from uet.contain.sandbox import probe, wrap


def _setup(root: Path) -> tuple[Path, Path, Path]:
    repo = root / "repo"
    clone = repo / ".uet" / "agents" / "t-bench"
    clone.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    script = root / "script.json"
    script.write_text(
        json.dumps([{"action": "write", "path": "out.txt", "content": "x\n"}]), "utf-8"
    )
    return repo, clone, script


def _time(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    found = probe()
    if not found.available or found.program is None:
        print(f"sandbox not available here: {found.reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        repo, clone, script = _setup(root)
        agent = [sys.executable, "-m", "uet.testing.fake_agent", "--script", str(script)]
        home = Path(os.environ.get("HOME", "/root"))
        sandboxed = wrap(
            agent,
            program=found.program,
            workdir=clone,
            hidden=[repo, repo / ".uet"],
            home=home,
            readable=[script],
            read_only=[clone / ".git" / "hooks", clone / ".git" / "config"],
        )
        bare_sandboxed = wrap(
            ["/bin/true"], program=found.program, workdir=clone, hidden=[repo], home=home
        )
        ways = {
            "bare": ["/bin/true"],
            "bare sandbox": bare_sandboxed,
            "no sandbox": agent,
            "sandbox": sandboxed,
        }
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.calls):
            for name, argv in ways.items():
                times[name].append(_time(argv, clone))
    report = {
        name: {
            "median_ms": round(statistics.median(values) * 1000, 2),
            "p95_ms": round(sorted(values)[int(len(values) * 0.95) - 1] * 1000, 2),
        }
        for name, values in times.items()
    }
    extra = report["sandbox"]["median_ms"] - report["no sandbox"]["median_ms"]
    summary = {"calls": args.calls, "ways": report, "sandbox_extra_ms": round(extra, 2)}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for name, figures in report.items():
            print(
                f"{name:12} median {figures['median_ms']:8.2f} ms   p95 {figures['p95_ms']:8.2f} ms"
            )
        print(f"sandbox: +{extra:.2f} ms per agent call (median against no sandbox)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
