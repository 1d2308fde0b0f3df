"""Routing decisions with the decision registry recording each, beside the router alone.

    python bench/routing.py [--decisions 100000] [--json]

Both variants make the same decisions with the same config (four rules: round-robin,
least-loaded, metrics and fixed, each with a fallback chain; one tool's breaker opens and
closes again along the way, so some decisions fall back):

* ``router in memory``: no store; nothing is written;
* ``router + registry (SQLite)``: a fresh SQLite database; every decision, every breaker
  transition and the round-robin cursors are written back in batches (one transaction
  per ``--flush-every`` decisions), durable once committed (WAL, synchronous=NORMAL).

Prints decisions/s for each, their ratio, the transactions and rows the store received, and
peak RSS after 10% and after 100% of the decisions (flat memory: no growth with decisions).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from uet.clock import FixedClock
from uet.routing import Router, RoutingConfig, parse_routing
from uet.state.store import Store

KINDS = ("code_edit", "review", "test_fix", "docs")
TARGET = 50_000  # decisions per second, recorded

CONFIG: dict[str, Any] = {
    "rules": [
        {
            "name": "edits",
            "match": {"kind": "code_edit"},
            "tools": ["aider", "claude", "codex"],
            "strategy": "round_robin",
            "fallback": ["gemini"],
        },
        {
            "match": {"kind": "review"},
            "tools": ["claude", "codex"],
            "strategy": "least_loaded",
            "fallback": ["aider"],
        },
        {
            "match": {"kind": "test_fix"},
            "tools": ["codex", "aider"],
            "strategy": "metrics",
            "fallback": ["claude"],
        },
    ],
    "default": {"tools": ["claude"], "fallback": ["aider"]},
    "breaker": {"failure_threshold": 3, "cooldown": 50.0},
}


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def drive(router: Router, count: int, marks: dict[str, float]) -> float:
    """``count`` decisions, each followed by its outcome; returns seconds."""
    decide, outcome = router.decide, router.record_outcome
    tenth = count // 10
    start = time.perf_counter()
    for n in range(count):
        decision = decide(KINDS[n % 4], task_id=f"t{n % 1000}")
        tool = decision.tool
        if tool is not None:
            # codex fails in bursts (its breaker opens, then probes close it); others succeed
            failing = tool == "codex" and (n // 5000) % 2 == 1
            outcome(tool, ok=not failing, latency=0.5 + (n % 7) / 10)
        if n + 1 == tenth:
            marks["rss_10pct_mb"] = peak_rss_mb()
    router.flush()
    elapsed = time.perf_counter() - start
    marks["rss_100pct_mb"] = peak_rss_mb()
    return elapsed


def run_variant(
    config: RoutingConfig, count: int, store: Store | None, every: int
) -> dict[str, Any]:
    marks: dict[str, float] = {}
    clock = FixedClock(step=0.001)  # 1 ms per reading: breakers cool down within the run
    router = Router(
        config,
        store=store,
        clock=clock,
        deterministic=True,
        run_id="run-bench",
        flush_every=every,
        flush_interval=3600.0,
    )
    elapsed = drive(router, count, marks)
    router.close()
    result: dict[str, Any] = {
        "decisions": count,
        "seconds": elapsed,
        "per_second": count / elapsed,
        "transactions": router.state.transactions,
        "rows_written": router.state.rows_written,
        **marks,
    }
    if store is not None:
        with store.reader() as tx:
            result["decisions_stored"] = len(tx.get_decisions(run_id="run-bench"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--flush-every", type=int, default=1000, help="decisions per write-back")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    config = parse_routing(CONFIG, source="bench")
    results = {"router in memory": run_variant(config, args.decisions, None, args.flush_every)}
    with tempfile.TemporaryDirectory(prefix="uet-bench-") as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'state.db'}")
        results["router + registry (SQLite)"] = run_variant(
            config, args.decisions, store, args.flush_every
        )
        store.close()
    alone = results["router in memory"]["per_second"]
    recorded = results["router + registry (SQLite)"]["per_second"]
    if args.json:
        print(json.dumps({"results": results, "recorded_vs_memory": recorded / alone}))
        return 0
    print(
        f"{'variant':28} {'decisions':>9} {'seconds':>8} {'decisions/s':>12} {'txns':>5} "
        f"{'rows':>7} {'RSS@10%':>8} {'RSS@100%':>9}"
    )
    for name, row in results.items():
        print(
            f"{name:28} {row['decisions']:>9} {row['seconds']:>8.3f} {row['per_second']:>12,.0f} "
            f"{row['transactions']:>5} {row['rows_written']:>7} {row['rss_10pct_mb']:>7.1f}M "
            f"{row['rss_100pct_mb']:>8.1f}M"
        )
    stored = results["router + registry (SQLite)"]["decisions_stored"]
    print(f"\ndecision rows in the registry: {stored:,}")
    print(f"recorded vs in memory: {recorded / alone:.2f}")
    verdict = "met" if recorded >= TARGET else "NOT met"
    print(f"target >= {TARGET:,} decisions/s recorded: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
