"""Parsing and classifying a 10,000-testcase JUnit file: uet's triage beside bare junitparser.

    python bench/triage.py [--cases 10000] [--failing 0.2] [--repeat 5] [--json]

The file is what pytest writes (xunit1, with file names): passing cases, and failing ones
with the tracebacks of each class (imports and syntax errors at collection, fixture errors,
asserts, pytest-timeout, connection refused, disk full, plain exceptions), tracebacks of a
realistic length. Three figures:

* ``read + classify``: ``read_report`` (junitparser over defusedxml) and the static class
  of every failure (``verdicts_of``), in process: the best and the median of ``--repeat``;
* ``junitparser only``: junitparser over defusedxml, touching each case's result and
  message (what any consumer pays): the floor;
* ``uet triage --rerun 0 --json``: the whole command as a user runs it (a process: start-up,
  the store's history rows and events written).

The issue's target: 10,000 testcases parsed and classified in ≤ 1 s (printed, not asserted).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as SafeET
from junitparser import JUnitXml

from uet.triage.junit import read_report
from uet.triage.session import verdicts_of

TARGET_S = 1.0

_FRAMES = "".join(
    f"src/app/module_{i}.py:{10 + i}: in helper_{i}\n    return helper_{i + 1}(value)\n"
    for i in range(6)
)
_FAILURES = [
    ("error", "collection failure", "E   ModuleNotFoundError: No module named 'requests'"),
    ("error", "collection failure", 'E     File "x.py", line 3\nE   SyntaxError: invalid syntax'),
    (
        "error",
        'failed on setup with "RuntimeError: db down"',
        "@pytest.fixture\n>       raise RuntimeError('db down')\nE       RuntimeError: db down\n\n"
        "tests/conftest.py:12: RuntimeError",
    ),
    ("failure", "assert 41 == 42", f"{_FRAMES}E   assert 41 == 42\n\ntests/t.py:7: AssertionError"),
    (
        "failure",
        "Failed: Timeout (>1.0s) from pytest-timeout.",
        f"{_FRAMES}E   Failed: Timeout (>1.0s) from pytest-timeout.\n\ntests/t.py:9: Failed",
    ),
    (
        "failure",
        "ConnectionRefusedError: [Errno 111] Connection refused",
        f"{_FRAMES}E   ConnectionRefusedError: [Errno 111] Connection refused\n\n"
        "/usr/lib/python3.11/socket.py:836: ConnectionRefusedError",
    ),
    (
        "failure",
        "OSError: [Errno 28] No space left on device",
        f"{_FRAMES}E   OSError: [Errno 28] No space left on device\n\ntests/t.py:3: OSError",
    ),
    ("failure", "KeyError: 'id'", f"{_FRAMES}E   KeyError: 'id'\n\ntests/t.py:5: KeyError"),
]


def make_report(path: Path, cases: int, failing: float, seed: int = 1) -> None:
    rng = random.Random(seed)
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">',
        f'<testsuite name="pytest" tests="{cases}">',
    ]
    for i in range(cases):
        module = f"tests/pkg_{i // 500}/test_mod_{i // 25}.py"
        classname = module[:-3].replace("/", ".")
        head = (
            f'<testcase classname="{classname}" name="test_case_{i}" file="{module}" '
            f'line="{i % 25}" time="0.001"'
        )
        if rng.random() >= failing:
            parts.append(head + "/>")
            continue
        tag, message, text = rng.choice(_FAILURES)
        parts.append(
            f"{head}><{tag} message={quoteattr(message)}>{escape(text)}</{tag}></testcase>"
        )
    parts.append("</testsuite></testsuites>")
    path.write_text("".join(parts))


def uet_pass(path: Path) -> float:
    started = time.perf_counter()
    verdicts = verdicts_of(read_report(path, root=path.parent))
    elapsed = time.perf_counter() - started
    assert verdicts
    return elapsed


def junitparser_pass(path: Path) -> float:
    started = time.perf_counter()
    count = 0
    for suite in JUnitXml.fromfile(str(path), parse_func=SafeET.parse):
        for case in suite:
            for result in case.result:
                count += len(result.message or "")
    elapsed = time.perf_counter() - started
    assert count
    return elapsed


def cli_pass(path: Path, folder: Path) -> float:
    env = {**os.environ, "UET_DB": f"sqlite:///{folder / 'state.db'}", "UET_HOME": str(folder)}
    argv = [sys.executable, "-m", "uet", "triage", "--rerun", "0", "--json", str(path)]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    assert done.returncode in (0, 1), done.stderr.decode()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--failing", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        path = folder / "report.xml"
        make_report(path, args.cases, args.failing)
        ours = [uet_pass(path) for _ in range(args.repeat)]
        floor = [junitparser_pass(path) for _ in range(args.repeat)]
        cli = [cli_pass(path, folder) for _ in range(max(1, args.repeat // 2))]
        size = path.stat().st_size
    figures = {
        "cases": args.cases,
        "failing_share": args.failing,
        "file_bytes": size,
        "read_classify_best_s": round(min(ours), 4),
        "read_classify_median_s": round(statistics.median(ours), 4),
        "junitparser_only_best_s": round(min(floor), 4),
        "ratio_to_junitparser": round(min(ours) / min(floor), 2),
        "uet_triage_cli_median_s": round(statistics.median(cli), 3),
        "target_s": TARGET_S,
        "load_average": round(os.getloadavg()[0], 2),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.cases} testcases ({args.failing:.0%} failing, {size / 1e6:.1f} MB):")
    print(
        f"  read + classify (uet.triage)   best {min(ours):.3f} s, "
        f"median {statistics.median(ours):.3f} s   (target <= {TARGET_S} s)"
    )
    print(
        f"  junitparser only (the floor)   best {min(floor):.3f} s   "
        f"(uet / floor = {figures['ratio_to_junitparser']})"
    )
    print(
        f"  uet triage --rerun 0 --json    median {statistics.median(cli):.3f} s "
        "(a whole process, history rows and events written)"
    )
    print(f"  load average {figures['load_average']}")


if __name__ == "__main__":
    main()
