"""bench/triage.py runs (no timing claim: the figure is printed, measured by hand)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "triage.py"


def test_the_bench_runs_and_reports_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--cases", "300", "--repeat", "2", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["cases"] == 300
    assert result["read_classify_best_s"] > 0
    assert result["uet_triage_cli_median_s"] > 0
