"""What crosses the pipes between the orchestrator and its executor process, and the journal.

Framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one object). No
third-party codec: a job is a few small strings and its environment, and ``json`` is quick
enough that framing costs a few microseconds against a process spawn's few hundred.

The orchestrator sends ``{"op": "submit", "job": {...}}``, ``{"op": "cancel", "a": id}`` and
``{"op": "close"}``; closing its end of the pipe without ``close`` means it died. The executor
sends ``{"op": "reports", "r": [...]}`` (starts and outcomes, each already in the journal)
and ``{"op": "output", "a": id, "lines": [...]}``.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from uet.execution.api import Finished, Job, Outcome, Report, Started, Stdio
from uet.states import AttemptState

MAX_FRAME_BYTES = 64 * 1024 * 1024
"""Bytes of one frame at most: a longer length prefix means the stream is corrupt."""

_HEADER = struct.Struct(">I")


class WireError(Exception):
    """A frame that cannot be read: a corrupt stream, or the other side died mid-frame."""


def frame(message: dict[str, Any]) -> bytes:
    payload = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload)) + payload


def _read_exactly(fd: int, count: int) -> bytes | None:
    """``count`` bytes from ``fd``; None at a clean end of stream (nothing read)."""
    chunks: list[bytes] = []
    left = count
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            if left == count:
                return None
            raise WireError(f"stream ended inside a frame ({count - left} of {count} bytes)")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict[str, Any] | None:
    """The next message on ``fd`` (blocking); None when the other side closed its end."""
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise WireError(f"frame of {length} bytes is over the limit of {MAX_FRAME_BYTES}")
    payload = _read_exactly(fd, length)
    if payload is None:
        raise WireError("stream ended after a frame header")
    message = json.loads(payload)
    if not isinstance(message, dict):
        raise WireError("a frame is not a JSON object")
    return message


def job_to_wire(job: Job) -> dict[str, Any]:
    return {
        "attempt_id": job.attempt_id,
        "key": job.key,
        "argv": None if job.argv is None else list(job.argv),
        "shell": job.shell,
        "cwd": os.fsdecode(job.cwd),
        "env": dict(job.env),
        "timeout": job.timeout,
        "kill_grace": job.kill_grace,
        "log_path": None if job.log_path is None else os.fsdecode(job.log_path),
        "keep_background": job.keep_background,
        "stdio": job.stdio.value,
        "mask": list(job.mask),
    }


def job_from_wire(data: dict[str, Any]) -> Job:
    log_path = data.get("log_path")
    return Job(
        attempt_id=int(data["attempt_id"]),
        key=str(data["key"]),
        argv=data.get("argv"),
        shell=data.get("shell"),
        cwd=Path(data.get("cwd") or "."),
        env=dict(data.get("env") or {}),
        timeout=data.get("timeout"),
        kill_grace=float(data.get("kill_grace", 5.0)),
        log_path=None if log_path is None else Path(log_path),
        keep_background=bool(data.get("keep_background", False)),
        stdio=Stdio(data.get("stdio", Stdio.NULL.value)),
        mask=tuple(data.get("mask") or ()),
    )


def report_to_wire(report: Report) -> dict[str, Any]:
    if isinstance(report, Started):
        return {"k": "start", "a": report.attempt_id, "pid": report.pid, "pgid": report.pgid,
                "at": report.at}  # fmt: skip
    outcome = report.outcome
    return {
        "k": "end",
        "a": report.attempt_id,
        "state": outcome.state.value,
        "started_at": outcome.started_at,
        "ended_at": outcome.ended_at,
        "exit_code": outcome.exit_code,
        "tail": outcome.output_tail,
        "error": outcome.error,
        "log_error": outcome.log_error,
    }


def report_from_wire(data: dict[str, Any]) -> Report:
    attempt_id = int(data["a"])
    if data["k"] == "start":
        return Started(attempt_id, int(data["pid"]), int(data["pgid"]), float(data["at"]))
    outcome = Outcome(
        state=AttemptState(data["state"]),
        started_at=data.get("started_at"),
        ended_at=float(data["ended_at"]),
        exit_code=data.get("exit_code"),
        output_tail=str(data.get("tail") or ""),
        error=data.get("error"),
        log_error=data.get("log_error"),
    )
    return Finished(attempt_id, outcome)
