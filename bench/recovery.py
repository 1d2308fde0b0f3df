"""Validation time of a one-file mechanical patch on a 2,000-file repository (issue 12, E3).

    python bench/recovery.py [--files 2000] [--runs 10] [--json]

The repository: ``--files`` Python modules in 40 packages (``src/app/pkgNN/modNNNN.py``),
one test file per package, a ``uet.toml`` whose ``patch_policy`` runs what a project would:
the affected package's tests (twice, for flakiness), ruff, mypy and bandit on the changed
file. Each patch is mechanical (an unused import removed, as ``ruff --fix`` would), in a
different module each run, and validated by a whole ``uet patch validate FILE --json``
process (its start-up, the store, the clone, the checks, the ledger's writes).

Side by side, the peer a user would script by hand: ``git clone`` of the repository, ``git
apply``, then the same checks one after another (no ledger, no tamper rules, no parallel
checks). mypy's cache is warmed once for both (uet keeps it in ``.uet/cache``).

Prints p50/p95 of each and their ratio. Targets: uet p50 ≤ 3 s, p95 ≤ 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_P50_S = 3.0
TARGET_P95_S = 10.0
PACKAGES = 40

MODULE = '''\
"""Module {n}."""

import os


def value_{n}(x: int) -> int:
    return x + {n}
'''

POLICY = """\
[patch_policy]
[[patch_policy.checks]]
name = "tests"
kind = "tests"
command = ["{{python}}", "-m", "pytest", "-q", "-p", "no:cacheprovider", "{tests}"]
timeout = 120
repeat = 2

[[patch_policy.checks]]
name = "ruff"
kind = "lint"
command = ["{{python}}", "-m", "ruff", "check", "--no-cache", "-q", "--select", "E,F", "{{files}}"]
files = "**.py"
timeout = 60

[[patch_policy.checks]]
name = "mypy"
kind = "types"
command = ["{{python}}", "-m", "mypy", "--no-error-summary", "--follow-imports=silent",
           "--ignore-missing-imports", "{{files}}"]
files = "**.py"
timeout = 120

[[patch_policy.checks]]
name = "bandit"
kind = "security"
command = ["{{python}}", "-m", "bandit", "-q", "-lll", "{{files}}"]
files = "**.py"
timeout = 60
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


def make_repo(root: Path, files: int) -> Path:
    repo = root / "repo"
    per = max(1, files // PACKAGES)
    for p in range(PACKAGES):
        pkg = repo / "src" / "app" / f"pkg{p:02d}"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("", encoding="utf-8")
        names = []
        for m in range(per):
            n = p * per + m
            (pkg / f"mod{n:04d}.py").write_text(MODULE.format(n=n), encoding="utf-8")
            names.append(n)
        tests = repo / "tests" / f"test_pkg{p:02d}.py"
        tests.parent.mkdir(exist_ok=True)
        body = "".join(
            f"from app.pkg{p:02d}.mod{n:04d} import value_{n}\n" for n in names[:5]
        ) + "".join(
            f"\n\ndef test_{n}() -> None:\n    assert value_{n}(1) == {n + 1}\n" for n in names[:5]
        )
        tests.write_text(body, encoding="utf-8")
    (repo / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["src"]\n', encoding="utf-8"
    )
    (repo / ".gitignore").write_text(".uet/\nuet.toml\n", encoding="utf-8")
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "a large project")
    return repo


def patch_for(repo: Path, run: int, per: int) -> tuple[Path, str, str]:
    """(the diff file, the changed module, its package's tests) for run ``run``."""
    p = (run * 7) % PACKAGES
    n = p * per + (run % per)
    module = f"src/app/pkg{p:02d}/mod{n:04d}.py"
    text = (repo / module).read_text(encoding="utf-8")
    (repo / module).write_text(text.replace("\nimport os\n", "\n", 1), encoding="utf-8")
    diff = git(repo, "diff")
    git(repo, "checkout", "--quiet", "--", module)
    out = repo.parent / f"run{run}.diff"
    out.write_text(diff, encoding="utf-8")
    return out, module, f"tests/test_pkg{p:02d}.py"


CPU: dict[str, list[float]] = {"uet": [], "by_hand": []}
"""CPU seconds (user + system) of each validation's processes, all descendants included."""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def uet_validate(repo: Path, diff: Path, tests: str, env: dict[str, str]) -> float:
    (repo / "uet.toml").write_text(POLICY.format(tests=tests), encoding="utf-8")
    cpu = _cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "uet", "patch", "validate", str(diff), "--json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    CPU["uet"].append(_cpu() - cpu)
    result = json.loads(done.stdout)
    if result["queue"] != "auto_merge":
        raise SystemExit(f"uet did not validate the patch cleanly: {done.stdout}{done.stderr}")
    return took


def by_hand(
    repo: Path, diff: Path, module: str, tests: str, *, env: dict[str, str], cache: Path
) -> float:
    """What a script does without uet: clone, apply, run the same checks in turn."""
    work = Path(tempfile.mkdtemp(prefix="uet-bench-hand-"))
    python = sys.executable
    cpu = _cpu()
    started = time.perf_counter()
    try:
        clone = work / "c"
        subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
        subprocess.run(["git", "apply", str(diff)], cwd=clone, check=True)
        steps = [
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests],
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests],
            [python, "-m", "ruff", "check", "--no-cache", "-q", "--select", "E,F", module],
            [
                python,
                "-m",
                "mypy",
                "--no-error-summary",
                "--follow-imports=silent",
                "--ignore-missing-imports",
                "--cache-dir",
                str(cache),
                module,
            ],
            [python, "-m", "bandit", "-q", "-lll", module],
        ]
        for argv in steps:
            subprocess.run(argv, cwd=clone, env=env, check=True, capture_output=True)
        took = time.perf_counter() - started
        CPU["by_hand"].append(_cpu() - cpu)
        return took
    finally:
        shutil.rmtree(work, ignore_errors=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="uet-bench-recovery-"))
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", UET_SANDBOX="none")
    try:
        repo = make_repo(root, args.files)
        per = max(1, args.files // PACKAGES)
        tracked = len(git(repo, "ls-files").splitlines())
        cache = root / "hand-mypy-cache"
        # one warm-up each: mypy's cache (uet's lives in .uet/cache), the page cache
        diff, module, tests = patch_for(repo, args.runs, per)
        uet_validate(repo, diff, tests, env)
        by_hand(repo, diff, module, tests, env=env, cache=cache)
        CPU["uet"].clear()
        CPU["by_hand"].clear()
        uet_times: list[float] = []
        hand_times: list[float] = []
        for run in range(args.runs):
            diff, module, tests = patch_for(repo, run, per)
            uet_times.append(uet_validate(repo, diff, tests, env))
            hand_times.append(by_hand(repo, diff, module, tests, env=env, cache=cache))
        figures = {
            "files": tracked,
            "runs": args.runs,
            "uet_p50_s": round(statistics.median(uet_times), 3),
            "uet_p95_s": round(percentile(uet_times, 0.95), 3),
            "by_hand_p50_s": round(statistics.median(hand_times), 3),
            "by_hand_p95_s": round(percentile(hand_times, 0.95), 3),
            "uet_cpu_p50_s": round(statistics.median(CPU["uet"]), 3),
            "by_hand_cpu_p50_s": round(statistics.median(CPU["by_hand"]), 3),
            "load_average": round(os.getloadavg()[0], 2),
        }
        figures["ratio_p50"] = round(figures["uet_p50_s"] / figures["by_hand_p50_s"], 2)
        figures["targets_met"] = (
            figures["uet_p50_s"] <= TARGET_P50_S and figures["uet_p95_s"] <= TARGET_P95_S
        )
        if args.json:
            print(json.dumps(figures))
            return
        f = figures
        print(f"validation of a one-file mechanical patch, {tracked} files, {args.runs} runs")
        print(
            f"  uet patch validate  p50 {f['uet_p50_s']:.2f} s  p95 {f['uet_p95_s']:.2f} s"
            f"  (targets {TARGET_P50_S:g} s / {TARGET_P95_S:g} s)"
        )
        print(
            f"  by hand             p50 {f['by_hand_p50_s']:.2f} s  p95 {f['by_hand_p95_s']:.2f} s"
        )
        print(
            f"  CPU time p50        uet {f['uet_cpu_p50_s']:.2f} s"
            f"  by hand {f['by_hand_cpu_p50_s']:.2f} s"
        )
        print(f"  uet / by hand (p50) {f['ratio_p50']:.2f}x  load average {f['load_average']}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
