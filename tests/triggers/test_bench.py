"""bench/triggers_match.py runs and its matcher agrees with the plain loop (no timing claim:
the figure is in the report, measured by hand)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "triggers_match.py"


def test_the_bench_runs_and_agrees() -> None:
    """A small run exits 0 (it exits 1 when the matcher and the loop disagree)."""
    done = subprocess.run(
        [sys.executable, str(BENCH), "--events", "400", "--triggers", "60", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["events"] == 400
    assert result["triggers"] == 60
    assert result["fires"] > 0
