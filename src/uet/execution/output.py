"""One job's output: every byte to its log file, complete lines for the sink, a bounded tail.

Memory per job is bounded whatever the process prints: one partial line (at most
``OUTPUT_LINE_MAX_BYTES``; a longer line is cut into pieces), the lines waiting for the sink
(the reactor hands them over once they pass ``OUTPUT_BATCH_MAX_BYTES``) and the tail
(``OUTPUT_TAIL_BYTES``). The log file is created when the first output arrives (a task
that prints nothing costs no file: creating one costs more than spawning a process on some
filesystems), then written with ``os.write``: no Python buffer to flush, nothing lost if
uet dies right after.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from uet.contain.env import Masker
from uet.execution.api import OUTPUT_LINE_MAX_BYTES, OUTPUT_TAIL_BYTES

log = logging.getLogger("uet.execution")

_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW  # no link


def open_log(path: Path) -> int:
    """Open ``path`` for appending (parent folders created); returns the descriptor."""
    try:
        return os.open(path, _LOG_FLAGS, 0o644)
    except FileNotFoundError:  # the first log of a run: create its folder once
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, _LOG_FLAGS, 0o644)


def _cut(line: bytes, limit: int = OUTPUT_LINE_MAX_BYTES) -> list[bytes]:
    """Pieces of at most ``limit`` bytes, never splitting a UTF-8 character when avoidable."""
    pieces = []
    while len(line) > limit:
        end = limit
        while end > limit - 3 and (line[end] & 0xC0) == 0x80:  # a continuation byte
            end -= 1
        pieces.append(line[:end])
        line = line[end:]
    pieces.append(line)
    return pieces


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class OutputStream:
    """The merged stdout+stderr of one job, fed chunk by chunk by the reactor (or one of
    them, for a job whose streams are kept apart: both append to the same log file and
    share one ``tail``, in the order their chunks were read). Such a stream writes its log
    in whole lines (``whole_lines``): a line one stream has not ended yet (a prompt) is held,
    up to ``OUTPUT_LINE_MAX_BYTES``, so the other stream's output never lands inside it; at
    the end a held line is written with a newline of its own. With a ``mask`` (the secrets
    uet knows), the log is written in whole lines too, and the log, the lines and the tail
    have every secret replaced (a secret inside a line longer than ``OUTPUT_LINE_MAX_BYTES``
    may be cut in two and escape)."""

    __slots__ = (
        "_held",
        "_log_fd",
        "_log_path",
        "_mask",
        "_partial",
        "_tail",
        "log_error",
        "pending",
        "pending_bytes",
        "whole_lines",
    )

    def __init__(
        self,
        log_path: Path | None,
        tail: bytearray | None = None,
        *,
        whole_lines: bool = False,
        mask: Masker | None = None,
    ) -> None:
        self._log_path = log_path  # opened on the first output
        self._log_fd: int | None = None
        self._mask = mask
        self.whole_lines = whole_lines or mask is not None
        self._held = b""  # the log's unfinished line, in whole-lines mode
        self._partial = b""
        self._tail = bytearray() if tail is None else tail  # shared by a job's two streams
        self.pending: list[str] = []  # complete lines not yet handed to the sink
        self.pending_bytes = 0
        self.log_error: str | None = None  # why the log file stopped receiving output

    def feed(self, chunk: bytes) -> None:
        """Take a chunk read from the pipe."""
        if self.whole_lines:
            self._log_lines(chunk)
        else:
            self._write_log(chunk)
        tail = self._tail
        tail += chunk[-OUTPUT_TAIL_BYTES:]
        if len(tail) > OUTPUT_TAIL_BYTES:
            del tail[: len(tail) - OUTPUT_TAIL_BYTES]
        data = self._partial + chunk if self._partial else chunk
        end = data.rfind(b"\n")
        if end < 0:
            self._partial = data
            if len(data) > OUTPUT_LINE_MAX_BYTES:
                *pieces, self._partial = _cut(data)
                self._add([_decode(piece) for piece in pieces], len(data) - len(self._partial))
            return
        self._partial = data[end + 1 :]
        if len(self._partial) > OUTPUT_LINE_MAX_BYTES:
            *pieces, self._partial = _cut(self._partial)
            data = data[: end + 1] + b"\n".join(pieces)
            end = len(data)
        self._add_region(data[:end])

    def _add_region(self, region: bytes) -> None:
        """Complete lines, newline-separated; one decode for the common case of short lines."""
        if len(region) <= OUTPUT_LINE_MAX_BYTES:
            self._add(_decode(region).split("\n"), len(region))
            return
        lines = [_decode(piece) for raw in region.split(b"\n") for piece in _cut(raw)]
        self._add(lines, len(region))

    def _add(self, lines: list[str], size: int) -> None:
        if self._mask is not None:
            lines = [self._mask(line) for line in lines]
        self.pending.extend(lines)
        self.pending_bytes += size

    def _log_lines(self, chunk: bytes) -> None:
        data = self._held + chunk if self._held else chunk
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) <= OUTPUT_LINE_MAX_BYTES:
            self._held = data
            return
        if end == 0:  # a line too long to hold: written as it is
            end = len(data)
        self._held = data[end:]
        self._write_log(data[:end] if self._mask is None else self._mask.bytes(data[:end]))

    def _flush_held(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            self._write_log((held if self._mask is None else self._mask.bytes(held)) + b"\n")

    def finish(self) -> None:
        """The pipe is closed: a last line without a newline is still a line."""
        self._flush_held()
        if self._partial:
            self._add([_decode(self._partial)], len(self._partial))
            self._partial = b""

    def take(self) -> list[str]:
        """The complete lines gathered since the last call."""
        lines, self.pending, self.pending_bytes = self.pending, [], 0
        return lines

    def tail(self) -> str:
        """The last ``OUTPUT_TAIL_BYTES`` of output, decoded (a cut character is dropped)."""
        tail = bytes(self._tail)
        if len(tail) == OUTPUT_TAIL_BYTES:
            start = 0
            while start < 3 and start < len(tail) and (tail[start] & 0xC0) == 0x80:
                start += 1
            tail = tail[start:]
        return _decode(tail) if self._mask is None else self._mask(_decode(tail))

    def _write_log(self, chunk: bytes) -> None:
        if self._log_fd is None:
            if self._log_path is None:
                return
            path, self._log_path = self._log_path, None  # one try
            try:
                self._log_fd = open_log(path)
            except OSError as exc:  # the job goes on; its outcome says the log is missing
                self.log_error = (
                    f"cannot open log file {os.fsdecode(path)!r}: {exc.strerror or exc}"
                )
                log.warning("output log: %s", self.log_error)
                return
        view = memoryview(chunk)
        try:
            while view:
                view = view[os.write(self._log_fd, view) :]
        except OSError as exc:  # disk full, quota: the job goes on, the log stops here
            self.log_error = f"log file incomplete: {exc.strerror or exc}"
            log.warning("output log: %s", self.log_error)
            self.close()

    def close(self) -> None:
        """Close the log file (idempotent)."""
        self._flush_held()
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None
