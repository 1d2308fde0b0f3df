"""``uet scan`` as users meet it: whole processes on the seeded corpus, side by side.

    python bench/scan.py [--repeat 3] [--copies 1] [--checker NAME]… [--json]

In a fresh copy of the seeded corpus (tests/recovery/checkers/corpus.py: 51 Python files,
258 injected findings; ``--copies N`` makes N packages of it, N*40 modules), each round:

* ``uet scan (first)``: ``uet scan --output f.jsonl`` in a fresh project (no cache, no
  database): ruff, mypy, bandit and pytest as the tasks of one run;
* ``uet scan (cached)``: the same command again on the unchanged tree;
* ``uet scan (one file changed)``: after one module is edited (ruff and bandit check that
  file; mypy and pytest run again);
* ``tools in a row``: what a user would script without uet, the bare baseline: ``ruff check
  --output-format json``, ``mypy -O json``, ``bandit -f json``, ``pytest --junitxml`` one
  after the other (each with its own cache off, as uet's first scan).

Prints each variant's median seconds and the ratios ``first/cached`` (the cache's speed-up;
the target is ≥ 5) and ``tools in a row / first`` (≥ 1: uet's parallel first scan is faster
than the tools run one after the other).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.recovery.checkers import corpus

BIN = Path(sys.executable).parent
CHECKERS = ("ruff", "mypy", "bandit", "pytest")


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        sys.exit(f"bench/scan.py: {name} is not installed (pip install -e '.[dev]')")
    return found


def _project(folder: Path, copies: int) -> Path:
    tree, _ = corpus.build()
    root = folder / "seeded"
    for n in range(copies):
        for path, text in tree.items():
            if n and not path.startswith(("pkg/", "tests/")):
                continue
            target, body = path, text
            if n:  # its own package and test module names (pytest and mypy need them unique)
                target = path.replace("pkg/", f"pkg{n}/", 1)
                target = target.replace("tests/test_", f"tests{n}/test_c{n}_", 1)
                body = text.replace("from pkg.", f"from pkg{n}.")
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            (root / target).write_text(body, encoding="utf-8")
    identity = ["-c", "user.name=uet bench", "-c", "user.email=bench@uet.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "seeded"]):
        subprocess.run(["git", *identity, *args], cwd=root, check=True, capture_output=True)
    return root


def _timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"bench/scan.py: {argv[0]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return took


def _bare(
    root: Path, files: list[str], tests: list[str], scratch: Path, checkers: list[str]
) -> float:
    commands = {
        "ruff": [_tool("ruff"), "check", "--output-format", "json", "--no-cache", "--", *files],
        "mypy": [_tool("mypy"), "-O", "json", "--cache-dir", str(scratch / "mypy"), "--",
                 *files],
        "bandit": [_tool("bandit"), "-f", "json", "-q", "-c", "pyproject.toml", "--", *files],
        "pytest": [_tool("pytest"), "-q", "-p", "no:cacheprovider",
                   f"--junitxml={scratch / 'j.xml'}", "--", *tests],
    }  # fmt: skip
    shutil.rmtree(scratch / "mypy", ignore_errors=True)
    return sum(_timed(commands[name], root) for name in checkers)


def one_round(folder: Path, copies: int, checkers: list[str]) -> dict[str, float]:
    root = _project(folder, copies)
    uet = [_tool("uet"), "scan", "--output", "f.jsonl"]
    for name in checkers:
        uet += ["--checker", name]
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    tests = [f for f in files if f.rsplit("/", 1)[-1].startswith("test_")]
    figures = {"tools in a row": _bare(root, files, tests, folder, checkers)}
    figures["uet scan (first)"] = _timed(uet, root)
    figures["uet scan (cached)"] = _timed(uet, root)
    module = root / "pkg" / "m01.py"
    module.write_text(module.read_text(encoding="utf-8") + "\n\nEXTRA = 1\n", encoding="utf-8")
    figures["uet scan (one file changed)"] = _timed(uet, root)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--checker", action="append", choices=CHECKERS, default=[],
                        help="only these checkers (repeat) [all four]")  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    checkers = args.checker or list(CHECKERS)
    rounds = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="uet-bench-scan-") as folder:
            rounds.append(one_round(Path(folder), args.copies, checkers))
    medians = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    ratios = {
        "first/cached": medians["uet scan (first)"] / medians["uet scan (cached)"],
        "tools in a row/first": medians["tools in a row"] / medians["uet scan (first)"],
    }
    if args.json:
        print(json.dumps({"seconds": medians, "ratios": ratios, "rounds": rounds}, indent=2))
        return
    files = 51 * args.copies
    print(f"seeded corpus x{args.copies} ({files} Python files), {', '.join(checkers)}, "
          f"median of {args.repeat}:")  # fmt: skip
    for name, value in medians.items():
        print(f"  {name:<30} {value:7.2f} s")
    for name, value in ratios.items():
        print(f"  {name:<30} {value:7.2f}x")


if __name__ == "__main__":
    main()
