"""Starting the runs a daemon fired: each one driven by a process of its own.

``uet launch RUN_ID`` (:func:`uet.engine.api.launch_run`) in a new session, stdin
``/dev/null``, its output to ``.uet/logs/<run>/launch.log``: a daemon that dies (kill -9
included) never takes a run down with it, and a run is driven exactly once whoever starts
it twice (the run's lease decides, then its status). The daemon reaps the processes it
started; a restarted daemon starts the fires' runs nobody started (``fires.unlaunched``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from uet.config import Settings

LAUNCH_LOG = "launch.log"
"""The orchestrator's own output, in the run's log folder."""


class Launcher:
    """Starts ``uet launch`` processes and keeps track of them until they end."""

    def __init__(self, settings: Settings, *, env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.env = {**(os.environ if env is None else env), "UET_DB": settings.db}
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def launch(self, run_id: str, *, resume: bool = False) -> int:
        """Start the process that drives ``run_id`` (``resume``: ``uet resume``, for a run
        that was interrupted after it started); returns its pid."""
        folder = self.settings.home / "logs" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LAUNCH_LOG, "ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "uet", "resume" if resume else "launch", run_id],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.settings.root,
                env=self.env,
                start_new_session=True,
                close_fds=True,
            )
        self.children[run_id] = child
        return child.pid

    def reap(self) -> dict[str, int]:
        """Forget the processes that ended: ``{run id: exit code}``."""
        ended = {run: c.returncode for run, c in self.children.items() if c.poll() is not None}
        for run_id in ended:
            del self.children[run_id]
        return ended

    def running(self) -> set[str]:
        self.reap()
        return set(self.children)

    def interrupt(self, timeout: float) -> None:
        """SIGTERM every run this daemon drives (each stops resumable, ``interrupted``) and
        wait ``timeout`` seconds at most for them to end."""
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
        self.wait(timeout)

    def wait(self, timeout: float | None) -> bool:
        """Wait for every child to end (``timeout`` None: however long); whether they did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.running():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


def log_path(home: Path, run_id: str) -> Path:
    return home / "logs" / run_id / LAUNCH_LOG
