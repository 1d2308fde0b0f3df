"""Process spawning designs side by side, in one run, against a bare posix_spawn floor.

    python bench/spawn.py [--tasks 2000] [--concurrency 8] [--json]

Every variant runs the same number of ``/bin/true`` processes, at most ``--concurrency`` at a
time, and waits for every one of them:

* ``floor``: ``os.posix_spawn`` + ``os.wait()``; no pipes, no process groups (the floor);
* ``thread pool + Popen``: a ThreadPoolExecutor of ``subprocess.Popen`` with a merged output
  pipe, stdin /dev/null, ``communicate()``;
* ``asyncio subprocess``: ``asyncio.create_subprocess_exec`` with the same pipes;
* ``reactor + posix_spawn``: one thread, ``os.posix_spawn`` (own process group, stdin
  /dev/null, stdout+stderr into one pipe), a pidfd per process, epoll over pipes and pidfds;
* ``reactor + Popen``: the same reactor, spawning with ``subprocess.Popen(process_group=0)``
  (vfork + exec: it honours ``cwd``, which posix_spawn cannot do on Python 3.11);
* ``uet LocalExecutor, queued``: the real executor (the reactor + Popen design), every job
  submitted at once, then polled; a log file per job, lines handed to a sink;
* ``uet LocalExecutor, paced``: as the engine drives it: 8 jobs submitted, then one more for
  each ``Finished`` that ``poll`` returns (every result crosses threads before the next start);
* ``uet ProcessExecutor, queued|paced``: the same through the per-run executor process (the
  default of ``uet run``): jobs and reports cross two pipes as frames, and every batch of
  reports is appended to the run's journal and fsynced before it is sent.

The two reactors run about as fast; uet uses Popen because ``os.posix_spawn`` holds the GIL
while the parent waits for the child to exec (the engine's thread would stall on every spawn),
and because it cannot change directory. The machine is shared: the best of ``--rounds``
interleaved rounds counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from uet.clock import SystemClock
from uet.execution import Executor, Finished, Job, LocalExecutor
from uet.execution.executor_process import ProcessExecutor

TRUE = "/bin/true"
ENV = {"PATH": os.environ.get("PATH", os.defpath)}


def floor(tasks: int, concurrency: int) -> None:
    """Bare posix_spawn and wait(): what the kernel allows, with nothing else."""
    started = running = 0
    while started < tasks or running:
        while running < concurrency and started < tasks:
            os.posix_spawn(TRUE, [TRUE], ENV)
            started += 1
            running += 1
        os.wait()
        running -= 1


def thread_pool(tasks: int, concurrency: int) -> None:
    def one(_: int) -> int:
        proc = subprocess.Popen(
            [TRUE], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        proc.communicate()
        return proc.returncode

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(tasks)))


def asyncio_subprocess(tasks: int, concurrency: int) -> None:
    async def one(gate: asyncio.Semaphore) -> None:
        async with gate:
            proc = await asyncio.create_subprocess_exec(
                TRUE, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            await proc.communicate()

    async def main() -> None:
        gate = asyncio.Semaphore(concurrency)
        await asyncio.gather(*(one(gate) for _ in range(tasks)))

    asyncio.run(main())


def spawn_posix() -> tuple[int, int]:
    """posix_spawn into a new group, stdin /dev/null, stdout+stderr into one pipe."""
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, write_fd, 1),
        (os.POSIX_SPAWN_DUP2, write_fd, 2),
    ]
    try:
        pid = os.posix_spawn(TRUE, [TRUE], ENV, file_actions=actions, setpgroup=0)
    finally:
        os.close(write_fd)
    return pid, read_fd


def spawn_popen() -> tuple[int, int]:
    """Popen into a new group with the same pipes; the reactor owns the fds afterwards."""
    proc = subprocess.Popen(
        [TRUE],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=ENV,
        cwd="/",
        process_group=0,
    )
    assert proc.stdout is not None
    read_fd = os.dup(proc.stdout.fileno())
    proc.stdout.close()
    proc.returncode = 0  # the reactor reaps it; this keeps Popen.__del__ quiet
    os.set_blocking(read_fd, False)
    return proc.pid, read_fd


def reactor(spawn: Callable[[], tuple[int, int]]) -> Callable[[int, int], None]:
    """One thread: spawn up to the limit, epoll over output pipes and pidfds, reap on exit."""

    def run(tasks: int, concurrency: int) -> None:
        poller = select.epoll()
        owners: dict[int, list[int]] = {}  # fd -> [pid, pipe fd, pidfd, open fds]
        started = running = 0
        while started < tasks or running:
            while running < concurrency and started < tasks:
                pid, pipe_fd = spawn()
                pidfd = os.pidfd_open(pid)
                state = [pid, pipe_fd, pidfd, 2]
                owners[pipe_fd] = owners[pidfd] = state
                poller.register(pipe_fd, select.EPOLLIN)
                poller.register(pidfd, select.EPOLLIN)
                started += 1
                running += 1
            for fd, _ in poller.poll():
                state = owners.pop(fd)
                if fd == state[1] and os.read(fd, 65536):
                    owners[fd] = state  # more output to come
                    continue
                poller.unregister(fd)
                if fd == state[2]:
                    os.waitpid(state[0], 0)
                os.close(fd)
                state[3] -= 1
                running -= state[3] == 0
        poller.close()

    return run


def local_executor(
    tasks: int, concurrency: int, folder: Path, *, paced: bool, process: bool = False
) -> None:
    lines: list[int] = []
    executor: Executor
    if process:  # the per-run executor process: journal fsynced per batch, frames on pipes
        journal = folder / f"journal-{time.monotonic_ns()}"
        executor = ProcessExecutor(
            journal, max_workers=concurrency, output=lambda a, batch: lines.append(len(batch))
        )
    else:
        executor = LocalExecutor(
            max_workers=concurrency,
            output=lambda attempt_id, batch: lines.append(len(batch)),
            clock=SystemClock(),
        )

    def submit(n: int) -> None:
        executor.submit(Job(n, f"t{n}", argv=[TRUE], env=ENV, log_path=folder / f"{n}.log"))

    submitted = min(tasks, concurrency) if paced else tasks
    for n in range(submitted):
        submit(n)
    done = 0
    while done < tasks:
        for report in executor.poll(1.0):
            if isinstance(report, Finished):
                done += 1
                if submitted < tasks:
                    submit(submitted)
                    submitted += 1
    executor.close()


def measure(run: Callable[[], None], tasks: int) -> dict[str, float]:
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    return {"tasks": tasks, "seconds": elapsed, "per_second": tasks / elapsed}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000, help="processes per variant")
    parser.add_argument("--concurrency", type=int, default=8, help="processes at a time")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best one counts")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    n, c = args.tasks, args.concurrency
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="uet-bench-") as folder:
        variants: list[tuple[str, Callable[[], None]]] = [
            ("floor (posix_spawn + wait)", lambda: floor(n, c)),
            ("thread pool + Popen", lambda: thread_pool(n, c)),
            ("asyncio subprocess", lambda: asyncio_subprocess(n, c)),
            ("reactor + posix_spawn", lambda: reactor(spawn_posix)(n, c)),
            ("reactor + Popen", lambda: reactor(spawn_popen)(n, c)),
            ("uet LocalExecutor, queued", lambda: local_executor(n, c, Path(folder), paced=False)),
            ("uet LocalExecutor, paced", lambda: local_executor(n, c, Path(folder), paced=True)),
            (
                "uet ProcessExecutor, queued",
                lambda: local_executor(n, c, Path(folder), paced=False, process=True),
            ),
            (
                "uet ProcessExecutor, paced",
                lambda: local_executor(n, c, Path(folder), paced=True, process=True),
            ),
        ]
        for _ in range(args.rounds):  # interleaved, so a burst of load hits every variant
            for name, run in variants:
                row = measure(run, n)
                if name not in results or row["per_second"] > results[name]["per_second"]:
                    results[name] = row
    base = results["floor (posix_spawn + wait)"]["per_second"]
    if args.json:
        print(json.dumps({"results": results, "floor_per_second": base}))
        return 0
    print(f"{n} x {TRUE}, concurrency {c}, {os.cpu_count()} cores, best of {args.rounds}\n")
    print(f"{'variant':30} {'seconds':>8} {'tasks/s':>9} {'vs floor':>9}")
    for name, row in results.items():
        ratio = row["per_second"] / base
        print(f"{name:30} {row['seconds']:>8.3f} {row['per_second']:>9,.0f} {ratio:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
