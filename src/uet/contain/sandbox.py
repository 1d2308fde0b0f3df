"""The sandbox a tool process runs in: bubblewrap (``bwrap``) on Linux.

Inside, the agent's clone is the only writable place: the rest of the file system is
mounted read-only, the base repository and uet's home (``.uet/``: the store, other agents'
clones, logs) are covered by empty tmpfs mounts, ``/tmp`` is private, ``$HOME`` is an empty
tmpfs but for the profile's ``home_paths``, the tool has its own PID namespace (it cannot
see or signal uet; everything it started dies with it: ``--die-with-parent``), and no
network when the profile (or task) says ``network: false``.

:func:`probe` says once per process whether bubblewrap can start here (found, and user
namespaces allowed); :func:`wrap` builds the argv.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from uet.errors import ExitCode, UetError

BWRAP_ENV = "UET_BWRAP"
"""The bubblewrap program (default: ``bwrap`` on PATH); a test points it elsewhere."""

PROBE_TIMEOUT_S = 10.0
"""Seconds the start-up probe may take."""


@dataclass(frozen=True, slots=True)
class Probe:
    """Whether the sandbox can start here, and if not why."""

    available: bool
    program: str | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"available": self.available, "program": self.program, "reason": self.reason}


def bwrap_program() -> str | None:
    named = os.environ.get(BWRAP_ENV, "bwrap")
    return shutil.which(named) if named else None


def probe(program: str | None = None) -> Probe:
    """Can bubblewrap start a sandbox here? (Run once per process and program; the
    program is found first, so ``UET_BWRAP`` changing meanwhile is heeded.)"""
    return _probe(program or bwrap_program())


@functools.cache
def _probe(program: str | None) -> Probe:
    if program is None:
        return Probe(False, None, "bubblewrap (bwrap) is not installed (Debian: bubblewrap)")
    argv = [program, *_base_args(network=False), "--", "true"]
    try:
        done = subprocess.run(  # argv, no shell
            argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(False, program, f"bubblewrap cannot start: {exc}")
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return Probe(False, program, f"bubblewrap cannot start here: {why}")
    return Probe(True, program, "bubblewrap works here")


def _base_args(*, network: bool) -> list[str]:
    args = [
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",  # noqa: S108 - a private, empty /tmp inside the sandbox
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--die-with-parent",
    ]  # fmt: skip
    if not network:
        args.append("--unshare-net")
    return args


def wrap(
    argv: Sequence[str],
    *,
    program: str,
    workdir: Path,
    hidden: Sequence[Path],
    home: Path | None,
    home_paths: Sequence[str] = (),
    readable: Sequence[Path] = (),
    read_only: Sequence[Path] = (),
    network: bool = True,
) -> list[str]:
    """``argv`` run by bubblewrap: ``workdir`` writable, ``hidden`` folders covered (those
    inside ``workdir`` too), ``home`` empty but for ``home_paths`` (``~/…``, bound writable
    when they exist), ``readable`` files (the prompt file) and ``read_only`` paths inside
    ``workdir`` (the clone's hooks and git config) bound read-only; it starts in ``workdir``."""
    args = [program, *_base_args(network=network)]
    if home is not None:
        args += ["--tmpfs", str(home)]
        for path in program_paths(argv[0], os.environ.get("PATH", ""), home):
            args += ["--ro-bind", str(path), str(path)]
        for entry in home_paths:
            path = home / entry.removeprefix("~/")
            if path.exists():
                args += ["--bind", str(path), str(path)]
    within = [f for f in hidden if f.is_relative_to(workdir) and f != workdir]
    for folder in hidden:
        if folder.exists() and folder not in within:
            args += ["--tmpfs", str(folder)]
    args += ["--bind", str(workdir), str(workdir)]
    for folder in within:
        if folder.exists():
            args += ["--tmpfs", str(folder)]
    for path in read_only:
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    for file in readable:
        args += ["--ro-bind", str(file), str(file)]
    args += ["--chdir", str(workdir), "--", *argv]
    return args


def program_paths(program: str, path_env: str, home: Path) -> list[Path]:
    """What of ``home`` the tool's program needs to start, shown read-only: the folders of
    ``PATH`` inside ``home`` (``~/.local/bin``, ``~/.cargo/bin``), and the installation the
    program and this Python resolve to (``~/.pyenv/versions/3.12.1`` for
    ``…/bin/python3.12``). Nothing else of ``home`` is visible."""
    found: list[Path] = []
    for entry in path_env.split(os.pathsep):
        if entry and Path(entry).is_absolute() and Path(entry).is_relative_to(home):
            found.append(Path(entry))
    for candidate in (shutil.which(program, path=path_env), sys.executable):
        if not candidate:
            continue
        real = Path(os.path.realpath(candidate))
        prefix = real.parent.parent if real.parent.name == "bin" else real.parent
        found.append(prefix)
    top = Path(os.path.realpath(home))
    return [
        path
        for path in dict.fromkeys(found)
        if path.exists()
        and (path.is_relative_to(home) or path.is_relative_to(top))
        and path not in (home, top)
    ]


NPROC_HEADROOM = 1024
"""Processes a sandboxed tool may add to those its user already runs (``RLIMIT_NPROC``
counts every process of the user, so the limit is what runs now plus this)."""


def nproc_limit(
    uid: int, *, headroom: int = NPROC_HEADROOM, proc: Path = Path("/proc")
) -> int | None:
    """The ``RLIMIT_NPROC`` for a sandboxed tool of user ``uid``: the user's processes now
    plus ``headroom``; None for root, whom the kernel does not limit (the PID namespace
    still ends every process of the tool with it)."""
    if uid == 0:
        return None
    count = 0
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                count += entry.stat().st_uid == uid
            except OSError:  # it ended meanwhile
                continue
    return count + headroom


def limit_processes() -> None:
    """``preexec_fn`` of a sandboxed tool: cap its user's processes (see :func:`nproc_limit`)."""
    limit = nproc_limit(os.getuid())
    if limit is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, hard))


class SandboxUnavailableError(UetError):
    """``sandbox: required`` and bubblewrap cannot start here (exit 3: the machine, not the
    workstream, lacks it)."""

    exit_code = ExitCode.INFRA
