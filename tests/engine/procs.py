"""Helpers for tests that drive the real ``uet`` command line as separate processes.

Everything here works from the outside: ``python -m uet`` subprocesses, the SQLite file they
write (read with the stdlib ``sqlite3``, never through uet's code; written only to build a
state that a crash in a window too narrow to hit on purpose would leave) and ``/proc``, where
every process a run started carries ``UET_RUN_ID`` in its environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def unique_run_id(prefix: str) -> str:
    """A run id no other test (or other checkout's test session) on this machine uses:
    /proc scans by ``UET_RUN_ID`` must only ever see this test's processes."""
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class Project:
    """A project folder and the SQLite state file every ``uet`` command of a test uses."""

    root: Path
    db: Path

    @classmethod
    def create(cls, tmp_path: Path) -> Project:
        root = tmp_path / "project"
        (root / ".uet").mkdir(parents=True)
        return cls(root=root, db=tmp_path / "state.db")

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("UET_")}
        env["UET_DB"] = f"sqlite:///{self.db}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        return path

    def start(self, *args: str, log: str | None = None) -> subprocess.Popen[bytes]:
        """``python -m uet ARGS`` in the background, leading its own session (so a signal to
        it reaches no one else), output to ``<root>/../<log>.out`` for diagnostics."""
        out = self.root.parent / f"{log or args[0]}.out"
        with out.open("ab") as sink:
            return subprocess.Popen(
                [sys.executable, "-m", "uet", *args],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def uet(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """``python -m uet ARGS`` to its end; stdout and stderr captured."""
        return subprocess.run(
            [sys.executable, "-m", "uet", *args],
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def uet_json(self, *args: str) -> Any:
        done = self.uet(*args, "--json")
        assert done.stdout, f"uet {' '.join(args)} printed nothing: {done.stderr}"
        return json.loads(done.stdout)

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the state file directly (a fresh connection each time)."""
        conn = sqlite3.connect(self.db, timeout=30)
        try:
            return list(conn.execute(query, params))
        finally:
            conn.close()

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        """Write to the state file directly (to build a state only a crash could leave)."""
        conn = sqlite3.connect(self.db, timeout=30)
        try:
            with conn:
                conn.execute(statement, params)
        finally:
            conn.close()

    def run_status(self, run_id: str) -> str | None:
        row = self.run_row(run_id)
        return None if row is None else row[0]

    def run_row(self, run_id: str) -> tuple[str, int | None] | None:
        """(status, orchestrator pid) of a run; None while the run (or the database, or its
        tables: a command killed while creating them leaves none) does not exist."""
        if not self.db.exists():
            return None
        try:
            rows = self.sql("SELECT status, pid FROM runs WHERE id = ?", (run_id,))
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return None
            raise
        return (rows[0][0], rows[0][1]) if rows else None


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _stat_fields(pid: int) -> list[bytes] | None:
    """Fields of /proc/PID/stat after the command name (state first); None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is neither a zombie nor dead."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (with the pid, an identity that
    survives pid reuse); None when it is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def processes_with_env(variables: Mapping[str, str]) -> dict[int, int]:
    """Live (non-zombie) processes whose environment holds ``variables``: pid -> start time."""
    wanted = {f"{key}={value}".encode() for key, value in variables.items()}
    found: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/environ", "rb") as file:
                pairs = set(file.read().split(b"\0"))
        except OSError:  # exited meanwhile, or another user's
            continue
        started = start_time(pid)
        if wanted <= pairs and started is not None and alive(pid):
            found[pid] = started
    return found


def run_processes(run_id: str) -> dict[int, int]:
    """Live processes started for run ``run_id`` (tasks and their children)."""
    return processes_with_env({"UET_RUN_ID": run_id})


def still_alive(snapshot: Mapping[int, int]) -> list[int]:
    """Pids of ``snapshot`` (pid -> start time) that are the same process and alive."""
    return [pid for pid, started in snapshot.items() if start_time(pid) == started and alive(pid)]


def kill_run_processes(run_id: str) -> None:
    """Clean-up after a failed test: no process of the run may outlive it."""
    for pid in run_processes(run_id):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Clean-up: kill the session a ``Project.start`` process leads, and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
