"""Task throughput of uet's engine against bare process loops, in one run.

    python bench/throughput.py [--tasks 1000] [--diamond 200] [-j 8] [--plan 100000]
                               [--memory 0] [--json]

* ``posix_spawn loop`` (the floor) and ``thread pool + Popen``: the baselines of
  ``bench/spawn.py`` (bare ``os.posix_spawn`` + ``wait``; 8 threads of ``Popen``);
* ``uet``: the same tasks as a workstream through ``uet.engine.api.start_run`` — what
  ``uet run`` does after parsing its arguments — with full durable state: every attempt
  recorded before its process starts, every completion committed before dependents start,
  events, log files, a fresh SQLite database per variant;
* ``uet diamond``: one task, then N-2 in parallel, then one that waits for all of them;
* ``uet, independent, in-process executor``: the same as ``uet`` with ``--executor
  local-inproc`` (tasks spawned by a thread of the engine's process, no journal), for
  comparison with the default per-run executor process.

Also: planning a DAG of ``--plan`` tasks (loading a JSON workstream file, validating,
ordering it, building the scheduler), and with ``--memory N`` the engine's peak memory over
runs of N/10 and N tasks (flat means the second is not ~10x the first).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from spawn import floor, thread_pool  # bench/spawn.py: the same baselines
from uet.config import load_settings
from uet.engine.api import start_run
from uet.engine.model import RunOptions
from uet.engine.progress import Progress
from uet.engine.scheduler import Scheduler
from uet.spec import load_files
from uet.state.store import Store

TRUE = "/bin/true"


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def workstream(path: Path, tasks: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"id": "bench", "tasks": tasks}))
    return path


def independent(count: int) -> list[dict[str, object]]:
    return [{"id": f"t{n:06d}", "argv": [TRUE]} for n in range(count)]


def diamond(count: int) -> list[dict[str, object]]:
    middle = [f"m{n:06d}" for n in range(count - 2)]
    return [
        {"id": "source", "argv": [TRUE]},
        *({"id": m, "argv": [TRUE], "depends_on": ["source"]} for m in middle),
        {"id": "sink", "argv": [TRUE], "depends_on": middle},
    ]


def through_uet(
    folder: Path,
    name: str,
    tasks: list[dict[str, object]],
    concurrency: int,
    progress: Progress | None = None,
    *,
    executor: str = "local",
) -> float:
    project = folder / name
    project.mkdir()
    settings = load_settings(cwd=project, env={}).model_copy(update={"executor": executor})
    store = Store.open(settings)
    plan = load_files([workstream(project / "bench.json", tasks)])
    start = time.perf_counter()
    result = start_run(
        plan,
        settings=settings,
        store=store,
        options=RunOptions(concurrency=concurrency),
        progress=progress,
    )
    elapsed = time.perf_counter() - start
    store.close()
    if result.status.value != "succeeded":
        raise SystemExit(f"{name}: run {result.run_id} {result.status.value}")
    return elapsed


def planning(folder: Path, count: int) -> tuple[float, float]:
    """Seconds to load+validate+order a ``count``-task file, and to build its scheduler."""
    tasks: list[dict[str, object]] = [{"id": "t000000", "argv": [TRUE]}]
    for n in range(1, count):  # a chain with fan-in: each task needs one or two earlier ones
        deps = [f"t{n - 1:06d}"] + ([f"t{n // 2:06d}"] if n % 7 == 0 else [])
        tasks.append({"id": f"t{n:06d}", "argv": [TRUE], "depends_on": deps})
    path = workstream(folder / "plan.json", tasks)
    start = time.perf_counter()
    plan = load_files([path])
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    Scheduler(plan.tasks, concurrency=8)
    return loaded, time.perf_counter() - start


class MemorySampler:
    """A ``uet.engine.progress.Progress`` that reads this process's resident memory when
    10 %, 50 % and 100 % of the tasks are done: flat means the three stay close."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.samples: dict[int, float] = {}

    def started(self, run_id: str, total: int) -> None:
        self.total = total

    def tick(self, counts: object, dispatched: object) -> None:
        pass

    def task_done(self, key: str, status: object) -> None:
        self.done += 1
        for percent in (10, 50, 100):
            if percent not in self.samples and self.done * 100 >= percent * self.total:
                with open("/proc/self/status", encoding="ascii") as status_file:
                    rss = next(line for line in status_file if line.startswith("VmRSS"))
                self.samples[percent] = int(rss.split()[1]) / 1024


def memory_of_run(count: int, concurrency: int) -> dict[int, float]:
    """Resident MB of a fresh process when 10/50/100 % of ``count`` tasks are done."""
    here = str(Path(__file__).parent)
    code = (
        "import sys, json, tempfile, pathlib\n"
        f"sys.path.insert(0, {here!r})\n"
        "import throughput\n"
        "sampler = throughput.MemorySampler()\n"
        "folder = pathlib.Path(tempfile.mkdtemp())\n"
        f"throughput.through_uet(folder, 'm', throughput.independent({count}), {concurrency},\n"
        "                        progress=sampler)\n"
        "print(json.dumps(sampler.samples))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {int(k): v for k, v in json.loads(out.stdout.splitlines()[-1]).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--diamond", type=int, default=200)
    parser.add_argument("-j", "--concurrency", type=int, default=8)
    parser.add_argument("--plan", type=int, default=100_000, help="tasks in the planning test")
    parser.add_argument("--memory", type=int, default=0, help="tasks in the memory test (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    n, j = args.tasks, args.concurrency
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="uet-bench-") as tmp:
        folder = Path(tmp)
        for round_ in range(args.rounds):  # interleaved, best of each: the machine is noisy
            results = {
                "posix_spawn loop (floor)": n / timed(lambda: floor(n, j)),
                "thread pool + Popen": n / timed(lambda: thread_pool(n, j)),
                "uet, independent tasks": n
                / through_uet(folder, f"flat{round_}", independent(n), j),
                "uet, independent, in-process executor": n
                / through_uet(
                    folder, f"inproc{round_}", independent(n), j, executor="local-inproc"
                ),
                "uet, diamond DAG": args.diamond
                / through_uet(folder, f"diamond{round_}", diamond(args.diamond), j),
            }
            for name, rate in results.items():
                rates[name] = max(rates.get(name, 0.0), rate)
        loaded, scheduled = planning(folder, args.plan) if args.plan else (0.0, 0.0)
    memory = {}
    if args.memory:
        memory = {args.memory: memory_of_run(args.memory, j)}
    base = rates["posix_spawn loop (floor)"]
    report = {
        "rates": rates,
        "ratio_to_floor": {name: rate / base for name, rate in rates.items()},
        "planning_seconds": {
            "load_validate_order": loaded,
            "scheduler": scheduled,
            "tasks": args.plan,
        },
        "peak_rss_mb": memory,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    setup = f"({n} tasks, diamond {args.diamond}, -j {j})"
    print(f"{'variant':32} {'tasks/s':>9} {'of floor':>9}   {setup}")
    for name, rate in rates.items():
        print(f"{name:32} {rate:>9,.0f} {rate / base:>8.0%}")
    if args.plan:
        print(
            f"planning {args.plan:,} tasks: load+validate+order {loaded:.2f} s, "
            f"scheduler {scheduled:.2f} s (target: < 2 s)"
        )
    for count, samples in memory.items():
        shown = ", ".join(f"{mb:.0f} MB at {pct} %" for pct, mb in sorted(samples.items()))
        print(f"resident memory over a {count:,}-task run: {shown}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this benchmark: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
