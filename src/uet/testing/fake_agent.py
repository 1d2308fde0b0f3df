"""A scriptable fake AI coding CLI, for testing agent workstreams without real AI tools.

Run as ``python -m uet.testing.fake_agent --script SCRIPT.json [--prompt-file F |
--prompt TEXT] [FILES…]``. It works in its current directory (the agent's clone), does
what the script says, and never runs git.

The script is JSON: either a list of steps, run on every call, or an object
``{"calls": [[steps of call 1], [steps of call 2], …], "then": "repeat_last"}`` whose
call N runs the N-th list (``then`` says what calls past the end do: ``repeat_last``, the
default; ``cycle``, start over; or ``fail``, exit 1). Calls are counted in
``SCRIPT.json.calls`` next to the script (under a lock, so parallel calls count right),
and each call is logged as one JSON line in ``SCRIPT.json.log`` (argv, cwd, prompt,
files). Steps, each a mapping with an ``action``:

=================  ========================================================================
``write``          ``path``, ``content``: create or replace a file (folders made as needed)
``append``         ``path``, ``content``: add to the end of a file
``copy``           ``from``, ``path``: replace a file with a copy of another (an answer key)
``delete``         ``path``: remove a file (missing is fine)
``print``          ``text``, ``stream`` (``stdout``\\|``stderr``): print a line
``rate_limit``     ``message``, ``exit_code`` (75): print a rate-limit error, exit
``quota``          ``message``, ``exit_code`` (75): print a quota-exhausted error, exit
``fail``           ``exit_code`` (1), ``message``: exit with that code
``sleep``          ``seconds``: wait, then go on
``hang``           ``seconds`` (3600), ``ignore_sigterm`` (false): wait, as a stuck tool does
=================  ========================================================================

``content``, ``text``, ``message``, ``path`` and ``from`` may use ``{prompt}``, ``{call}``
(1-based) and ``{files}``. Editing out of scope is just a ``write`` to a path outside the
task's scope. After the last step the fake agent exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

RATE_LIMIT_EXIT = 75  # EX_TEMPFAIL: try again later
RATE_LIMIT_MESSAGE = "Error: 429 Too Many Requests: rate limit exceeded, please retry later"
QUOTA_MESSAGE = "Error: quota exceeded: you have reached your usage limit for this period"
HANG_S = 3600.0
VERSION = "fake-agent 1.0.0"

Step = Mapping[str, Any]
_TOKENS = re.compile(r"\{(call|prompt|files)\}")


class ScriptError(Exception):
    """The script is not what the fake agent understands (exit 2, message on stderr)."""


def counter_path(script: Path) -> Path:
    return script.with_name(script.name + ".calls")


def log_path(script: Path) -> Path:
    return script.with_name(script.name + ".log")


def steps_for_call(script: Any, call: int) -> list[Step]:
    """The steps of the ``call``-th call (1-based) of a parsed script."""
    if isinstance(script, list):
        return _steps(script, "script")
    if not isinstance(script, dict) or not isinstance(script.get("calls"), list):
        raise ScriptError('a script is a list of steps or {"calls": [[...], ...]}')
    calls: list[Any] = script["calls"]
    then = script.get("then", "repeat_last")
    if not calls:
        raise ScriptError("calls: must not be empty")
    if call <= len(calls):
        chosen = calls[call - 1]
    elif then == "repeat_last":
        chosen = calls[-1]
    elif then == "cycle":
        chosen = calls[(call - 1) % len(calls)]
    elif then == "fail":
        chosen = [{"action": "fail", "message": f"fake agent: no step for call {call}"}]
    else:
        raise ScriptError(f"then: must be repeat_last, cycle or fail, got {then!r}")
    return _steps(chosen, f"calls[{min(call, len(calls)) - 1}]")


def _steps(steps: Any, where: str) -> list[Step]:
    if not isinstance(steps, list):
        raise ScriptError(f"{where}: expected a list of steps")
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or step.get("action") not in _ACTIONS:
            known = ", ".join(sorted(_ACTIONS))
            raise ScriptError(f"{where}[{index}]: a step needs an action among {known}")
    return steps


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


def next_call(script: Path) -> int:
    """Count this call in the counter file next to the script; return its number (1-based)."""
    with _locked(counter_path(script)) as fd:
        raw = os.read(fd, 64).decode() or "0"
        call = int(raw.strip() or 0) + 1
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, str(call).encode())
    return call


class _Run:
    """One call of the fake agent: the values steps may use, and the actions."""

    def __init__(self, call: int, prompt: str, files: Sequence[str]) -> None:
        self.values = {"call": str(call), "prompt": prompt, "files": " ".join(files)}

    def text(self, step: Step, key: str, default: str = "") -> str:
        """The step's ``key`` with {call}, {prompt} and {files} filled in, in one pass."""
        value = str(step.get(key, default))
        return _TOKENS.sub(lambda match: self.values[match.group(1)], value)

    def write(self, step: Step) -> None:
        path = Path(self.text(step, "path"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text(step, "content"), encoding="utf-8")

    def append(self, step: Step) -> None:
        path = Path(self.text(step, "path"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(self.text(step, "content"))

    def copy(self, step: Step) -> None:
        path = Path(self.text(step, "path"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Path(self.text(step, "from")).read_bytes())

    def delete(self, step: Step) -> None:
        Path(self.text(step, "path")).unlink(missing_ok=True)

    def print(self, step: Step) -> None:
        stream = sys.stderr if step.get("stream") == "stderr" else sys.stdout
        print(self.text(step, "text"), file=stream, flush=True)

    def rate_limit(self, step: Step) -> NoReturn:
        _exit(self.text(step, "message", RATE_LIMIT_MESSAGE), step, RATE_LIMIT_EXIT)

    def quota(self, step: Step) -> NoReturn:
        _exit(self.text(step, "message", QUOTA_MESSAGE), step, RATE_LIMIT_EXIT)

    def fail(self, step: Step) -> NoReturn:
        _exit(self.text(step, "message", "fake agent: failing as scripted"), step, 1)

    def sleep(self, step: Step) -> None:
        time.sleep(float(step.get("seconds", 0)))

    def hang(self, step: Step) -> None:
        if step.get("ignore_sigterm"):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("fake agent: working…", flush=True)
        time.sleep(float(step.get("seconds", HANG_S)))


def _exit(message: str, step: Step, default_code: int) -> NoReturn:
    if message:
        print(message, file=sys.stderr, flush=True)
    sys.stdout.flush()
    raise SystemExit(int(step.get("exit_code", default_code)))


_ACTIONS: dict[str, Callable[[_Run, Step], None]] = {
    "write": _Run.write,
    "append": _Run.append,
    "copy": _Run.copy,
    "delete": _Run.delete,
    "print": _Run.print,
    "rate_limit": _Run.rate_limit,
    "quota": _Run.quota,
    "fail": _Run.fail,
    "sleep": _Run.sleep,
    "hang": _Run.hang,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m uet.testing.fake_agent", description="A scriptable fake AI coding CLI."
    )
    parser.add_argument("--script", type=Path, help="the JSON script of steps")
    prompt = parser.add_mutually_exclusive_group()
    prompt.add_argument("--prompt-file", type=Path, help="read the prompt from this file")
    prompt.add_argument("--prompt", help="the prompt text")
    parser.add_argument("--version", action="version", version=VERSION)
    parser.add_argument("files", nargs="*", help="files the task is about")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.script is None:
        _parser().error("--script is required")
    script_path: Path = args.script.resolve()
    try:
        script = json.loads(script_path.read_text(encoding="utf-8"))
        prompt = args.prompt_file.read_text(encoding="utf-8") if args.prompt_file else args.prompt
        call = next_call(script_path)
        _log(script_path, call, prompt or "", args.files)
        steps = steps_for_call(script, call)
    except (OSError, ValueError, ScriptError) as exc:
        print(f"fake agent: {exc}", file=sys.stderr)
        return 2
    run = _Run(call, prompt or "", args.files)
    for step in steps:
        _ACTIONS[step["action"]](run, step)
    return 0


def _log(script: Path, call: int, prompt: str, files: Sequence[str]) -> None:
    record = {"call": call, "argv": sys.argv, "cwd": os.getcwd(), "prompt": prompt}
    record["files"] = list(files)
    with _locked(log_path(script)) as fd:
        os.lseek(fd, 0, os.SEEK_END)
        os.write(fd, (json.dumps(record) + "\n").encode())


if __name__ == "__main__":
    sys.exit(main())
