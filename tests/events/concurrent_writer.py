"""Child process of test_concurrency.py: one of several writers sharing one database.

Usage: ``python concurrent_writer.py DB_URL WRITER OWN SHARED BATCH_SIZE GO_FILE``

Opens the store and an EventBus, prints ``ready``, waits until GO_FILE exists, then emits OWN
``load.own`` events to run ``own-WRITER`` with SHARED ``load.shared`` events to run ``shared``
spread among them (payload ``{"w": WRITER, "i": i}``), flushes, closes and exits 0.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from uet.events.bus import EventBus
from uet.state.store import Store

GO_WAIT_S = 120.0


def main(argv: list[str]) -> None:
    url, go = argv[0], Path(argv[5])
    writer, own, shared, batch_size = (int(arg) for arg in argv[1:5])
    store = Store.open(url)
    bus = EventBus(store, batch_size=batch_size)
    print("ready", flush=True)
    deadline = time.monotonic() + GO_WAIT_S
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit(f"writer {writer}: no go file after {GO_WAIT_S} s")
        time.sleep(0.002)
    every = max(1, own // shared)
    shared_sent = 0
    for i in range(own):
        bus.emit("load.own", {"w": writer, "i": i}, run_id=f"own-{writer}")
        if i % every == 0 and shared_sent < shared:
            bus.emit("load.shared", {"w": writer, "i": shared_sent}, run_id="shared")
            shared_sent += 1
    for i in range(shared_sent, shared):
        bus.emit("load.shared", {"w": writer, "i": i}, run_id="shared")
    bus.flush()
    bus.close()
    store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
