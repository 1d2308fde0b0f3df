"""Child process of test_crash.py: emits events for one run until it is killed.

Usage: ``python crash_writer.py DB_URL RUN_ID CYCLE SEED``

Prints ``ready`` once the store is open, then loops: emit a few ``crash.tick`` events whose
payload counter ``n`` increases (starting after ``CYCLE * 1_000_000``), ``flush()``, and print
the highest ``n`` that flush() acknowledged, one line per flush, flushed at once.
"""

from __future__ import annotations

import random
import sys

from uet.events.bus import EventBus
from uet.state.store import Store

CYCLE_SPAN = 1_000_000
"""Counters of cycle c are c * CYCLE_SPAN + 1, + 2, …"""


def main(url: str, run_id: str, cycle: int, seed: int) -> None:
    rng = random.Random(seed)
    store = Store.open(url)
    bus = EventBus(store, batch_size=8)  # several transactions per flush: more places to die
    print("ready", flush=True)
    n = cycle * CYCLE_SPAN
    while True:
        for _ in range(rng.randint(1, 24)):
            n += 1
            bus.emit("crash.tick", {"n": n, "cycle": cycle}, run_id=run_id)
        bus.flush()
        print(n, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
