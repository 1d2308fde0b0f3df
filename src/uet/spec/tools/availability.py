"""Is a tool usable here? Its binary on PATH, its version, at least the minimum asked for.

The version command runs as an argv list with stdin from /dev/null, in a process group of
its own that is killed whole when it overruns ``check.timeout`` (Node-based CLIs start
helpers that would otherwise keep the pipes open). Nothing here runs git.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from uet.spec.tools.profile import ToolProfile

_VERSION = re.compile(r"\d+(?:\.\d+)+")
CHECK_THREADS = 8
"""Version commands run at once by :func:`check_tools`."""


@dataclass(frozen=True, slots=True)
class ToolStatus:
    """What :func:`check_tool` found: ``usable``, or the ``problem`` that makes it not."""

    name: str
    usable: bool
    binary_path: str | None = None
    version: str | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def check_tool(profile: ToolProfile, env: Mapping[str, str] | None = None) -> ToolStatus:
    """Look for the profile's binary on ``PATH`` (of ``env``, default the process's own, plus
    the profile's ``env``), run its version command, compare with ``check.min_version``."""
    environment = {**(os.environ if env is None else env), **profile.env}
    binary = shutil.which(profile.binary, path=environment.get("PATH"))
    if not profile.enabled:
        why = next((n for n in profile.notes if n.startswith("disabled")), None)
        return ToolStatus(profile.name, False, binary, problem=why or "disabled in configuration")
    if binary is None:
        return ToolStatus(profile.name, False, problem=f"{profile.binary!r} not found on PATH")
    if not profile.check.version_args:
        return ToolStatus(profile.name, True, binary)
    output, problem = _run_version(profile, binary, environment)
    if problem is not None:
        return ToolStatus(profile.name, False, binary, problem=problem)
    return _judge_version(profile, binary, output)


def check_tools(
    profiles: Iterable[ToolProfile], env: Mapping[str, str] | None = None
) -> list[ToolStatus]:
    """:func:`check_tool` for each profile, several at once; results in the given order."""
    with ThreadPoolExecutor(CHECK_THREADS, thread_name_prefix="uet-tool-check") as pool:
        return list(pool.map(lambda p: check_tool(p, env), profiles))


def unavailable_tools(
    profiles: Iterable[ToolProfile], env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Name -> why, for each of ``profiles`` that is not usable here (checked at once)."""
    return {s.name: s.problem or "not usable" for s in check_tools(profiles, env) if not s.usable}


def parse_version(text: str) -> tuple[int, ...] | None:
    """The first dotted number in ``text`` (``aider 0.86.1`` → ``(0, 86, 1)``), or None."""
    match = _VERSION.search(text)
    return None if match is None else tuple(int(p) for p in match.group(0).split("."))


def _run_version(
    profile: ToolProfile, binary: str, env: Mapping[str, str]
) -> tuple[str, str | None]:
    argv = [binary, *(profile.check.version_args or [])]
    shown = " ".join([profile.binary, *argv[1:]])
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        return "", f"`{shown}` cannot start: {exc.strerror or exc}"
    try:
        raw, _ = process.communicate(timeout=profile.check.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        return "", f"`{shown}` did not answer within {profile.check.timeout:g} s"
    output = raw.decode("utf-8", errors="replace").strip()
    if process.returncode != 0:
        first = output.splitlines()[0] if output else "no output"
        return output, f"`{shown}` exited {process.returncode}: {first}"
    return output, None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)


def _judge_version(profile: ToolProfile, binary: str, output: str) -> ToolStatus:
    found = parse_version(output)
    lines = output.splitlines()
    shown = ".".join(map(str, found)) if found else (lines[0] if lines else None)
    minimum = profile.check.min_version
    if minimum is None:
        return ToolStatus(profile.name, True, binary, shown)
    if found is None:
        problem = f"cannot read a version from its output (need >= {minimum})"
        return ToolStatus(profile.name, False, binary, shown, problem)
    if found < tuple(int(p) for p in minimum.split(".")):
        return ToolStatus(profile.name, False, binary, shown, f"version {shown} < {minimum}")
    return ToolStatus(profile.name, True, binary, shown)
