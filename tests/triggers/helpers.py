"""A project folder with triggers, and ``uet`` run as a real process in it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from uet.config import Settings, load_settings
from uet.state.store import Store


def write_project(root: Path, toml: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "uet.toml").write_text(toml)
    return root


def env_for(db: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UET_")}
    env["UET_DB"] = db
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(root: Path, db: str, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """``uet ARGS`` as a process of its own (a new session), output to ``log``."""
    out = open(log or (root / f"uet-{time.monotonic_ns()}.log"), "ab")  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "uet", *args],
            cwd=root,
            env=env_for(db),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        out.close()


def run(root: Path, db: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uet", *args],
        cwd=root,
        env=env_for(db),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_until(check: Callable[[], object], timeout: float, step: float = 0.05) -> object:
    """``check()``'s first true value within ``timeout`` s; AssertionError past it."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        time.sleep(step)


def kill9(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def settings_of(root: Path, db: str) -> Settings:
    return load_settings({"db": db}, env={}, cwd=root)


def store_of(db: str) -> Store:
    return Store.open(db)
