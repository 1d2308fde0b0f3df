"""One producer process: ``python producer.py URL COUNT PAUSE`` writes COUNT ``work.done``
events (one transaction each), PAUSE seconds apart."""

from __future__ import annotations

import sys
import time

from uet.state.store import Store


def main() -> None:
    url, count, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    store = Store.open(url)
    for n in range(count):
        store.insert_events([("work.done", time.time(), None, None, None, {"n": n})])
        time.sleep(pause)
    store.close()


if __name__ == "__main__":
    main()
