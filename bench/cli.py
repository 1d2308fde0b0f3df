"""uet as users meet it: whole processes, measured side by side in one benchmark run.

    python bench/cli.py [--tasks 5000] [-j 8] [--repeat 3] [--startup 5] [--json]

Throughput (each variant a whole process, in a fresh folder, interleaved round by round so
that the machine's load falls on all of them alike; the median of ``--repeat`` rounds):

* ``uet run``: a generated workstream file of N ``/bin/true`` tasks at ``-j J``, in a fresh
  project (a new SQLite database each time), stdout and stderr to a pipe (not a terminal);
* ``doit``: ``doit -n J -P process`` on a generated ``dodo.py`` of the same N actions
  (``pip install -e '.[bench]'`` installs doit);
* ``make``: ``make -jJ`` on a generated Makefile of the same N phony targets;
* ``thread pool``: a Python process running N ``subprocess.run`` in a
  ``ThreadPoolExecutor(J)``, the bare baseline.

Start-up (the median of ``--startup`` runs of each, interleaved): ``uet --version``,
``uet --help``, ``uet status``, ``uet runs`` and ``uet events RUN`` in a project that has one
run, a 1-task ``uet run`` in that project and in a fresh one, ``uet exec -- true`` (when this
uet has ``exec``), and two floors: ``python -c pass`` (the interpreter's start) and a Python
process that runs ``sh -c true`` (what any Python wrapper of a command costs at least).
``--startup-only`` skips the throughput rounds.

Ratios are of throughput (tasks/s): ``uet/doit`` ≥ 1 means uet is faster than doit.
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
from collections.abc import Callable
from pathlib import Path

TRUE = "/bin/true"

POOL = """\
import subprocess, sys
from concurrent.futures import ThreadPoolExecutor
count, jobs = int(sys.argv[1]), int(sys.argv[2])
with ThreadPoolExecutor(jobs) as pool:
    for done in pool.map(lambda _: subprocess.run(["/bin/true"]).returncode, range(count)):
        assert done == 0
"""

SH_TRUE = "import subprocess; subprocess.run(['sh', '-c', 'true'], check=True)"

DODO = """\
COUNT = {count}


def task_bench():
    for n in range(COUNT):
        yield {{"name": f"t{{n:06d}}", "actions": [["/bin/true"]], "verbosity": 0}}
"""


def uet_command() -> list[str]:
    """The ``uet`` console script next to this Python, else ``python -m uet``."""
    script = Path(sys.executable).with_name("uet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "uet"]


def doit_command() -> list[str] | None:
    script = Path(sys.executable).with_name("doit")
    if script.exists():
        return [str(script)]
    found = shutil.which("doit")
    return None if found is None else [found]


def environment() -> dict[str, str]:
    """The environment of every measured process: this one's, with bytecode caching on (a
    user's Python writes ``__pycache__``; without it every start compiles uet's sources)."""
    env = {**os.environ, "UET_NON_INTERACTIVE": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


CPU_SECONDS: dict[str, list[float]] = {}
"""CPU seconds (user + system, the process and all it waited for) of each timed command,
by the name of its variant: on a loaded machine wall time says more about the load than about
the program, CPU time much less so."""


def timed(argv: list[str], cwd: Path, label: str | None = None) -> float:
    """Wall seconds of one whole process; raises when it fails."""
    env = environment()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if label is not None:
        CPU_SECONDS.setdefault(label, []).append(cpu)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).decode(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode} in {cwd}:\n{tail}")
    return elapsed


def fresh(base: Path, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))


def workstream_file(folder: Path, count: int) -> Path:
    path = folder / "bench.json"
    tasks = [{"id": f"t{n:06d}", "argv": [TRUE]} for n in range(count)]
    path.write_text(json.dumps({"id": "bench", "tasks": tasks}))
    return path


def makefile(folder: Path, count: int) -> None:
    names = " ".join(f"t{n:06d}" for n in range(count))
    (folder / "Makefile").write_text(
        f"TASKS := {names}\n.PHONY: all $(TASKS)\nall: $(TASKS)\n$(TASKS):\n\t@{TRUE}\n"
    )


def throughput_variants(base: Path, count: int, jobs: int) -> dict[str, Callable[[], float]]:
    """Each variant: set up a fresh folder, then time the whole process."""
    uet = uet_command()

    def run_uet() -> float:
        folder = fresh(base, "uet")
        workstream_file(folder, count)
        return timed([*uet, "run", "bench.json", "-j", str(jobs)], folder, "uet run")

    def run_pool() -> float:
        folder = fresh(base, "pool")
        return timed([sys.executable, "-c", POOL, str(count), str(jobs)], folder, "thread pool")

    variants: dict[str, Callable[[], float]] = {"uet run": run_uet, "thread pool": run_pool}
    doit = doit_command()
    if doit is not None:

        def run_doit() -> float:
            folder = fresh(base, "doit")
            (folder / "dodo.py").write_text(DODO.format(count=count))
            return timed([*doit, "-n", str(jobs), "-P", "process"], folder, "doit")

        variants["doit"] = run_doit
    make = shutil.which("make")
    if make is not None:

        def run_make() -> float:
            folder = fresh(base, "make")
            makefile(folder, count)
            return timed([make, "-s", f"-j{jobs}"], folder, "make")

        variants["make"] = run_make
    return variants


def startup_variants(base: Path) -> dict[str, Callable[[], float]]:
    uet = uet_command()
    project = fresh(base, "project")
    (project / "one.yaml").write_text(f"id: one\ntasks: [{{id: t, argv: [{TRUE}]}}]\n")
    timed([*uet, "run", "one.yaml"], project)  # the project has a database and one run
    listed = subprocess.run(
        [*uet, "runs", "--json"], cwd=project, env=environment(), capture_output=True, check=True
    )
    run_id = json.loads(listed.stdout)[0]["id"]

    def in_project(*args: str, label: str) -> Callable[[], float]:
        return lambda: timed([*uet, *args], project, label)

    def fresh_run() -> float:
        folder = fresh(base, "first")
        shutil.copy(project / "one.yaml", folder / "one.yaml")
        return timed([*uet, "run", "one.yaml"], folder, "uet run (1 task, fresh project)")

    def floor(code: str, label: str) -> Callable[[], float]:
        return lambda: timed([sys.executable, "-c", code], project, label)

    variants = {
        "python -c pass": floor("pass", "python -c pass"),
        "python: sh -c true": floor(SH_TRUE, "python: sh -c true"),
        "uet --version": in_project("--version", label="uet --version"),
        "uet --help": in_project("--help", label="uet --help"),
        "uet status": in_project("status", label="uet status"),
        "uet runs": in_project("runs", label="uet runs"),
        "uet events RUN": in_project("events", run_id, label="uet events RUN"),
        "uet run (1 task)": in_project("run", "one.yaml", label="uet run (1 task)"),
        "uet run (1 task, fresh project)": fresh_run,
    }
    has_exec = subprocess.run(
        [*uet, "exec", "--help"], cwd=project, env=environment(), capture_output=True, check=False
    )
    if has_exec.returncode == 0:
        variants["uet exec -- true"] = in_project("exec", "--", "true", label="uet exec -- true")
    return variants


def interleaved(variants: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """``rounds`` timings of each variant, one of each per round, after one untimed warm-up
    round (it fills the page cache and ``__pycache__``)."""
    for variant in variants.values():
        variant()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, variant in variants.items():
            times[name].append(variant())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000, help="tasks per variant")
    parser.add_argument("-j", "--jobs", type=int, default=8, help="parallel tasks")
    parser.add_argument("--repeat", type=int, default=3, help="throughput rounds")
    parser.add_argument("--startup", type=int, default=5, help="runs of each start-up case")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--startup-only", action="store_true", help="skip the throughput rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="uet-bench-cli-") as tmp:
        base = Path(tmp)
        loads = os.getloadavg()
        walls: dict[str, list[float]] = {}
        if not args.startup_only:
            walls = interleaved(throughput_variants(base, args.tasks, args.jobs), args.repeat)
        starts = interleaved(startup_variants(base), args.startup)
    wall = {name: statistics.median(values) for name, values in walls.items()}
    rate = {name: args.tasks / seconds for name, seconds in wall.items()}
    ratios = {f"uet/{other}": rate["uet run"] / rate[other] for other in rate if other != "uet run"}
    startup = {name: statistics.median(values) for name, values in starts.items()}
    cpu = {name: statistics.median(values) for name, values in CPU_SECONDS.items()}
    cpu_ratios = {
        f"uet/{other}": cpu[other] / cpu["uet run"] for other in wall if other != "uet run"
    }
    report = {
        "tasks": args.tasks,
        "jobs": args.jobs,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in loads],
        "wall_s": wall,
        "wall_s_all": walls,
        "tasks_per_s": rate,
        "ratios": ratios,
        "startup_median_s": startup,
        "startup_s_all": starts,
        "cpu_s_median": cpu,
        "cpu_ratios": cpu_ratios,
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"(load average before: {', '.join(f'{x:.2f}' for x in loads)}; {os.cpu_count()} CPUs)")
    if wall:
        print(f"{args.tasks} x {TRUE} at -j {args.jobs}, whole processes, median of {args.repeat}")
    for name, seconds in wall.items():
        print(f"  {name:14} {seconds:7.2f} s  {rate[name]:8.0f} tasks/s  {cpu[name]:7.2f} CPU s")
    for name, value in ratios.items():
        print(f"  {name:14} {value:7.2f}x throughput, {cpu_ratios[name]:5.2f}x by CPU per task")
    print(f"start-up, whole process, median of {args.startup}:")
    for name, seconds in startup.items():
        print(f"  {name:32} {seconds:6.3f} s")
    print("CPU seconds of start-up (user + system), median:")
    for name in startup:
        print(f"  {name:32} {cpu[name]:6.3f} s")
    print(f"(load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
