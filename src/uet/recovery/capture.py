"""A checker task's command: run the tool, keep its machine output in a file.

``uet scan`` makes each checker a task of a recorded run whose argv is::

    python -m uet.recovery.capture --out OUT --status STATUS --ok 0,1 [--merge-stderr] -- TOOL…

The tool's stdout goes to ``OUT`` (with ``--merge-stderr``, its stderr too); its stderr is
also passed on to the task's log. ``STATUS`` gets ``{"exit": N, "stderr": TAIL}`` (``exit``
null and ``error`` set when the tool could not start). The task succeeds when the tool's
exit code is one of ``--ok`` (ruff exits 1 when it found something: the check *ran*), and
fails with the tool's own exit code otherwise, so ``uet status`` shows which checker broke.

Only the standard library is imported: this process starts once per checker.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

STDERR_TAIL = 4000
"""Characters of the tool's stderr kept in the status file."""

EXIT_NOT_FOUND = 127
EXIT_CANNOT_RUN = 126


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="uet.recovery.capture")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--status", type=Path, required=True)
    parser.add_argument("--ok", default="0")
    parser.add_argument("--merge-stderr", action="store_true")
    parser.add_argument("--no-stdout", action="store_true", help="the tool writes OUT itself")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    ok = {int(code) for code in args.ok.split(",") if code.strip()}
    if not command:
        parser.error("no command given")
    try:
        code, stderr = _run(command, args.out, merge=args.merge_stderr, keep=not args.no_stdout)
    except FileNotFoundError:
        _status(args.status, None, "", f"{command[0]}: not found")
        return EXIT_NOT_FOUND
    except OSError as exc:
        _status(args.status, None, "", f"{command[0]}: {exc.strerror}")
        return EXIT_CANNOT_RUN
    _status(args.status, code, stderr, None)
    if code in ok:
        return 0
    return code if code > 0 else 128 - code


def _run(command: list[str], out: Path, *, merge: bool, keep: bool) -> tuple[int, str]:
    target = out if keep else Path(os.devnull)
    with target.open("wb") as handle:
        proc = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=handle if keep else sys.stdout.buffer,
            stderr=subprocess.STDOUT if merge and keep else subprocess.PIPE,
            check=False,
        )
    stderr = (proc.stderr or b"").decode("utf-8", errors="replace")
    if stderr:
        sys.stderr.write(stderr)
    return proc.returncode, stderr[-STDERR_TAIL:]


def _status(path: Path, code: int | None, stderr: str, error: str | None) -> None:
    path.write_text(json.dumps({"exit": code, "stderr": stderr, "error": error}), "utf-8")


if __name__ == "__main__":
    sys.exit(main())
