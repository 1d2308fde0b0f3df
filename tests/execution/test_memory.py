"""A job printing 100 MB completes without deadlock and with bounded executor memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Runs in a fresh interpreter so that the peak RSS (VmHWM) belongs to the executor alone.
SCRIPT = r"""
import json, os, sys
from pathlib import Path
from uet.execution import Finished, Job, LocalExecutor

def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))

counts = {"lines": 0, "batches": 0, "largest": 0}
def sink(attempt_id, lines):
    counts["lines"] += len(lines)
    counts["batches"] += 1
    counts["largest"] = max(counts["largest"], len(lines))

log = Path(sys.argv[1])
env = {"PATH": os.environ["PATH"]}
child = (  # 102,400 lines of 1 KiB: 100 MiB
    "import sys\nline = b'x' * 1023 + b'\\n'\n"
    "for _ in range(102400): sys.stdout.buffer.write(line)"
)
with LocalExecutor(output=sink) as executor:
    executor.submit(Job(0, "warm-up", argv=[sys.executable, "-c", "print(1)"], env=env))
    while not any(isinstance(r, Finished) for r in executor.poll(1.0)):
        pass
    counts["lines"] = 0
    before = peak_kib()
    executor.submit(Job(1, "big", argv=[sys.executable, "-c", child], env=env, log_path=log))
    outcome = None
    while outcome is None:
        for report in executor.poll(1.0):
            if isinstance(report, Finished):
                outcome = report.outcome
print(json.dumps({"growth_kib": peak_kib() - before, "state": outcome.state,
                  "tail": len(outcome.output_tail), "log": log.stat().st_size, **counts}))
"""


def test_100_mb_of_output_keeps_executor_memory_bounded(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(log)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result = json.loads(done.stdout)
    assert result["state"] == "succeeded"
    assert result["log"] == 100 * 1024 * 1024
    assert result["lines"] == 102400
    assert result["tail"] <= 4096
    assert result["largest"] <= 192  # a batch is handed over once it passes 64 KiB
    assert result["growth_kib"] < 10 * 1024, result  # measured: about 0.4 MB
