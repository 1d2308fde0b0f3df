"""Helpers around the fake agent: scripts, its tool profile, its call log; event capture."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from uet.spec.tools import ToolCheck, ToolProfile
from uet.testing.fake_agent import VERSION, counter_path, log_path

if TYPE_CHECKING:
    from uet.events.bus import EventBus
    from uet.state.records import EventRecord

FAKE_RATE_LIMIT_PATTERNS = [r"rate limit", r"\b429\b"]
FAKE_QUOTA_PATTERNS = [r"quota exceeded", r"usage limit"]


def write_script(
    path: str | PathLike[str],
    steps: Sequence[dict[str, Any]] | None = None,
    *,
    calls: Sequence[Sequence[dict[str, Any]]] | None = None,
    then: str = "repeat_last",
) -> Path:
    """Write a fake-agent script (``steps`` for every call, or one list per call) and reset
    its call counter and log. Returns the script's path."""
    if (steps is None) == (calls is None):
        raise ValueError("give either steps or calls")
    data: object = list(steps) if steps is not None else {"calls": list(calls or []), "then": then}
    script = Path(path)
    script.write_text(json.dumps(data, indent=2), encoding="utf-8")
    reset_script(script)
    return script


def reset_script(path: str | PathLike[str]) -> None:
    """Forget the calls made so far: the next call is call 1 again."""
    script = Path(path)
    counter_path(script).unlink(missing_ok=True)
    log_path(script).unlink(missing_ok=True)


def script_calls(path: str | PathLike[str]) -> list[dict[str, Any]]:
    """The calls made so far, in order: ``call``, ``argv``, ``cwd``, ``prompt``, ``files``."""
    log = log_path(Path(path))
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]


def fake_tool_profile(
    name: str,
    script: str | PathLike[str],
    *,
    capabilities: Sequence[str] = ("code_edit", "refactor", "test_fix", "docs", "review"),
    max_parallel: int | None = None,
    timeout: float | None = None,
    prompt_via: Literal["file", "arg"] = "file",
    env: dict[str, str] | None = None,
    min_version: str | None = None,
) -> ToolProfile:
    """A profile that runs the fake agent with ``script``; its patterns match the fake
    agent's ``rate_limit`` and ``quota`` messages. ``prompt_via`` is ``file`` or ``arg``."""
    prompt = ["--prompt-file", "{prompt_file}"] if prompt_via == "file" else ["--prompt={prompt}"]
    module = ["-m", "uet.testing.fake_agent"]
    return ToolProfile(
        name=name,
        argv=[sys.executable, *module, "--script", str(Path(script).resolve()), *prompt, "{files}"],
        env=env or {},
        timeout=timeout,
        capabilities=list(capabilities),
        max_parallel=max_parallel,
        check=ToolCheck(version_args=[*module, "--version"], min_version=min_version),
        rate_limit_patterns=FAKE_RATE_LIMIT_PATTERNS,
        quota_patterns=FAKE_QUOTA_PATTERNS,
        description=f"fake agent ({VERSION}) running {Path(script).name}",
        source="uet.testing",
    )


def capture_events(bus: EventBus, pattern: str = "*") -> list[EventRecord]:
    """A list that receives every committed event whose type matches ``pattern`` (a glob).

    Events arrive after they are written: call ``bus.flush()`` before looking at the list.
    """
    captured: list[EventRecord] = []
    bus.subscribe(pattern, captured.append)
    return captured
