"""One file watcher for every file trigger of a daemon (``watchfiles``, inotify on Linux).

One watcher, whatever the number of triggers (inotify instances are few: 128 per user
here), over the folders the triggers' globs can reach (a glob's literal leading folders;
the project root when it starts with a wildcard). uet's home (``.uet``) and VCS folders are
filtered out before anything else. Changes go to a queue the daemon drains each tick, and
``wake`` is set so that a save fires within one watcher step (50 ms), not one daemon tick.

When the native watcher cannot start (inotify limits reached) it falls back to polling
(``force_polling``) and says so through ``on_degraded`` (``trigger.degraded``);
``WATCHFILES_FORCE_POLLING`` set in the environment forces that fallback too.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import watchfiles

STEP_MS = 50
"""Quiet time that ends a batch of changes (watchfiles' ``step``)."""

DEBOUNCE_MS = 200
"""Longest time watchfiles groups changes into one batch: well under a trigger's debounce
window (500 ms by default), so that a steady stream of changes reaches the trigger's
debouncer as a stream (one fire per ``max_wait``), not as separate batches 1.6 s apart
(watchfiles' default) that each look like a burst of its own."""

POLL_DELAY_MS = 300
"""Between two scans when polling."""

_SEGMENT_WILDCARDS = frozenset("*?[{")


def roots_of(globs: Iterable[str], root: Path) -> list[Path]:
    """The folders to watch for ``globs`` (relative to ``root``): each glob's leading
    literal folders that exist, else ``root``; none inside another."""
    found: set[Path] = set()
    for glob in globs:
        parts = glob.split("/")
        literal: list[str] = []
        for part in parts[:-1]:
            if _SEGMENT_WILDCARDS & set(part):
                break
            literal.append(part)
        folder = root.joinpath(*literal) if literal else root
        while not folder.is_dir() and folder != root:
            folder = folder.parent
        found.add(folder.resolve())
    ordered = sorted(found, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for folder in ordered:
        if not any(folder.is_relative_to(k) for k in kept):
            kept.append(folder)
    return kept


class FileWatcher:
    """A thread running one ``watchfiles.watch`` over ``roots`` until :meth:`stop`."""

    def __init__(
        self,
        roots: list[Path],
        *,
        wake: threading.Event,
        on_degraded: Callable[[str], None],
        ignore_dirs: Iterable[str] = (".uet",),
    ) -> None:
        self.roots = roots
        self.wake = wake
        self.on_degraded = on_degraded
        self.changes: queue.SimpleQueue[tuple[float, str]] = queue.SimpleQueue()
        self.ready = threading.Event()  # the watcher runs (its first scan is done)
        self._stop = threading.Event()
        self._filter = watchfiles.DefaultFilter(
            ignore_dirs=(*watchfiles.DefaultFilter.ignore_dirs, *ignore_dirs)
        )
        self._thread = threading.Thread(target=self._run, name="uet-file-watcher", daemon=True)
        self.polling = bool(os.environ.get("WATCHFILES_FORCE_POLLING"))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)

    def drain(self) -> list[tuple[float, str]]:
        """The changes seen since the last drain: ``(monotonic time, absolute path)``."""
        out = []
        while True:
            try:
                out.append(self.changes.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        if self.polling:
            self.on_degraded("WATCHFILES_FORCE_POLLING is set: polling for file changes")
        while not self._stop.is_set():
            try:
                self._watch(force_polling=self.polling)
                return
            except OSError as error:  # inotify limits: poll instead, and say so
                if self.polling:
                    raise
                self.polling = True
                self.on_degraded(f"native file watching failed ({error}): polling instead")

    def _watch(self, *, force_polling: bool) -> None:
        self.ready.set()
        for batch in watchfiles.watch(
            *self.roots,
            watch_filter=self._filter,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=self._stop,
            force_polling=force_polling,
            poll_delay_ms=POLL_DELAY_MS,
            raise_interrupt=False,
            ignore_permission_denied=True,
            yield_on_timeout=False,
        ):
            now = time.monotonic()
            for _change, path in batch:
                self.changes.put((now, path))
            self.wake.set()
