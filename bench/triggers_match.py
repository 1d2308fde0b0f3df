"""Matching events against event triggers: uet's EventMatcher beside bare loops.

    python bench/triggers_match.py [--events 10000] [--triggers 200] [--json]

The triggers are what a project with many automations has: most on ``run.completed`` /
``run.failed`` of one workstream each (``where: {workstream: ws-NNN}``, some with
``status``), some on ``task.*`` or ``*.failed`` with ``where`` on the outcome, a few on
exact types of their own (``deploy.finished``), one on ``**``. The events mix what runs
emit (``task.output`` most of all, task and run lifecycle events, routing) for 200
workstreams; each event's view is built by ``event_view`` as the daemon builds it.

Three ways to find the triggers of each event, with the same results (checked):

* ``EventMatcher``: uet's head-segment index, per-type cache and where index;
* ``compiled loop``: every trigger's compiled glob and where, for each event;
* ``fnmatch loop``: ``fnmatch.fnmatchcase`` on every trigger's glob (what most code does;
  its ``*`` crosses dots, so it even finds more), then the where.

Prints µs per event for each (the matcher: the best and the median of ``--repeat`` passes,
each with a fresh matcher, its build time apart) and the whole process's wall time.
The issue's target: ≤ 10 µs per event for 10,000 events x 200 triggers.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 - the clock starts before the imports
import fnmatch  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from uet.spec.triggers import TriggerSpec  # noqa: E402
from uet.triggers.globs import compile_event_glob  # noqa: E402
from uet.triggers.match import EventMatcher, compile_where, event_view  # noqa: E402

TARGET_US = 10.0
CPU_PASSES: list[float] = []  # the matcher passes' CPU time (not counting time waiting)
TASK_EVENTS = ["task.output"] * 12 + [
    "task.ready",
    "task.started",
    "task.completed",
    "task.failed",
    "task.retrying",
]
RUN_EVENTS = ["run.created", "run.started", "run.completed", "run.failed"]
OTHER_EVENTS = ["route.decided", "agent.created", "deploy.finished", "breaker.opened"]


def make_triggers(count: int, rng: random.Random) -> list[TriggerSpec]:
    specs: list[dict[str, Any]] = []
    for index in range(count):
        ws = f"ws-{index % 200:03d}"
        roll = index % 20
        if roll < 14:
            where: dict[str, Any] = {"workstream": ws}
            if roll % 3 == 0:
                where["status"] = "succeeded"
            event = "run.completed" if roll % 2 == 0 else "run.failed"
        elif roll < 17:
            event, where = "task.*", {"workstream": ws, "outcome": ["failed", "timed_out"]}
        elif roll < 19:
            event, where = "*.failed", {"workstream": [ws, f"ws-{rng.randrange(200):03d}"]}
        else:
            event, where = f"deploy.{'finished' if index % 2 else 'started'}", {"env": "prod"}
        specs.append({"id": f"t{index:04d}", "event": event, "where": where})
    specs[-1] = {"id": specs[-1]["id"], "event": "**", "where": {"workstream": "ws-007"}}
    return [TriggerSpec.model_validate({**s, "target": {"exec": ["true"]}}) for s in specs]


def make_events(count: int, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for index in range(count):
        ws = f"ws-{rng.randrange(200):03d}"
        roll = rng.random()
        if roll < 0.75:
            kind = rng.choice(TASK_EVENTS)
            payload = {"outcome": rng.choice(["succeeded", "failed"]), "line": "x" * 40}
            view = event_view(
                payload, event_type=kind, run_id=f"r{index // 50}", task_id=f"{ws}/t{index % 7}"
            )
        elif roll < 0.95:
            kind = rng.choice(RUN_EVENTS)
            payload = {"status": "succeeded" if kind == "run.completed" else "failed"}
            view = event_view(payload, event_type=kind, run_id=f"r{index // 50}", workstreams=[ws])
        else:
            kind = rng.choice(OTHER_EVENTS)
            view = event_view({"env": rng.choice(["prod", "dev"])}, event_type=kind)
        events.append((kind, view))
    return events


def run_matcher(
    specs: list[TriggerSpec], events: list[tuple[str, dict[str, Any]]], repeat: int
) -> tuple[float, list[float], list[list[str]]]:
    """The build time, each pass's time (a fresh matcher each: its cache starts cold) and
    the ids found."""
    passes, cpu, found = [], [], []
    build = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        matcher = EventMatcher(specs)
        t1, c1 = time.perf_counter(), time.process_time()
        found = [[s.id for s in matcher.match(kind, view)] for kind, view in events]
        passes.append(time.perf_counter() - t1)
        cpu.append(time.process_time() - c1)
        build = t1 - t0
    CPU_PASSES[:] = cpu
    return build, passes, found


def run_loop(
    specs: list[TriggerSpec], events: list[tuple[str, dict[str, Any]]], *, bare: bool
) -> tuple[float, list[list[str]]]:
    if bare:
        rules = [(s.id, s.event or "", compile_where(s.where)) for s in specs]
        t0 = time.perf_counter()
        found = [
            [tid for tid, glob, check in rules if fnmatch.fnmatchcase(kind, glob) and check(view)]
            for kind, view in events
        ]
    else:
        compiled = [
            (s.id, compile_event_glob(s.event or ""), compile_where(s.where)) for s in specs
        ]
        t0 = time.perf_counter()
        found = [
            [tid for tid, test, check in compiled if test(kind) and check(view)]
            for kind, view in events
        ]
    return time.perf_counter() - t0, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--triggers", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=5, help="matcher passes (min, median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    specs = make_triggers(args.triggers, rng)
    events = make_events(args.events, rng)
    build, passes, found = run_matcher(specs, events, max(1, args.repeat))
    compiled_s, compiled = run_loop(specs, events, bare=False)
    fnmatch_s, _ = run_loop(specs, events, bare=True)
    if found != compiled:
        print("the matcher and the compiled loop disagree", file=sys.stderr)
        return 1
    n = len(events)
    result = {
        "events": n,
        "triggers": len(specs),
        "fires": sum(len(ids) for ids in found),
        "matcher_us_per_event": min(passes) / n * 1e6,
        "matcher_us_per_event_median": statistics.median(passes) / n * 1e6,
        "matcher_passes": len(passes),
        "matcher_cpu_us_per_event": min(CPU_PASSES) / n * 1e6,
        "matcher_build_ms": build * 1e3,
        "compiled_loop_us_per_event": compiled_s / n * 1e6,
        "fnmatch_loop_us_per_event": fnmatch_s / n * 1e6,
        "whole_process_s": time.perf_counter() - STARTED,
        "target_us_per_event": TARGET_US,
    }
    result["speedup_vs_fnmatch"] = result["fnmatch_loop_us_per_event"] / max(
        result["matcher_us_per_event"], 1e-9
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{n} events x {len(specs)} event triggers, {result['fires']} fires")
        print(
            f"  EventMatcher   {result['matcher_us_per_event']:8.2f} us/event (best of"
            f" {len(passes)}; median {result['matcher_us_per_event_median']:.2f};"
            f" built in {result['matcher_build_ms']:.1f} ms; target <= {TARGET_US:g})\n"
            f"                 {result['matcher_cpu_us_per_event']:8.2f} us/event of CPU time"
            " (best; a loaded machine inflates the wall time, not this)"
        )
        print(f"  compiled loop  {result['compiled_loop_us_per_event']:8.2f} us/event")
        print(
            f"  fnmatch loop   {result['fnmatch_loop_us_per_event']:8.2f} us/event"
            f"  ({result['speedup_vs_fnmatch']:.0f}x the matcher)"
        )
        print(f"  whole process  {result['whole_process_s']:8.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
