"""A run's journal: what its executor process started and how each attempt ended, on disk.

One JSON object a line (``wire.report_to_wire``), appended by the executor process only,
and made durable (``fsync``) *before* the orchestrator hears of it: one write and one fsync
per batch of reports (everything that happened while the previous fsync ran), never one per
task. So an outcome the orchestrator could have recorded is always in the journal, and one it
never heard of is there too once the task ended, whether the orchestrator lives or not.

Sessions: each executor process appends ``{"k": "open", "pid": P}`` first and, when it ends
with every job accounted for, ``{"k": "close"}``. It holds an exclusive ``flock`` on the
file for its whole life: ``holder`` tells a reader whether an executor still runs (and its
pid), without trusting a pid that may have been recycled. A torn last line (a crash in the
middle of a write) is ignored by the reader.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from uet.execution.api import Finished, Outcome, Report, Started
from uet.execution.wire import report_from_wire, report_to_wire

JOURNAL_NAME = "journal"
"""File name of a run's journal, in the run's folder (``.uet/runs/<run_id>/``)."""


def journal_path(home: Path, run_id: str) -> Path:
    """Where the journal of ``run_id`` lives under uet's ``home``."""
    return home / "runs" / run_id / JOURNAL_NAME


class JournalBusy(Exception):
    """Another executor process holds the journal (``pid`` names it when known)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(f"journal {os.fsdecode(path)!r} is held by executor pid {pid}")
        self.path = path
        self.pid = pid


class JournalWriter:
    """The executor process's side: lock, append, fsync. Not thread-safe: one writer thread."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalBusy(path, read_journal(path).pid) from None
        self.path = path
        self._fd = fd
        self.syncs = 0  # fsyncs done (one per batch)
        self.broken = False  # a write failed: nothing more is written
        self._sync_dir(path.parent)
        self._append([json.dumps({"k": "open", "pid": os.getpid()})])

    @staticmethod
    def _sync_dir(folder: Path) -> None:
        """The file's name is durable too (a journal that vanishes after a crash is no use)."""
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _append(self, lines: Sequence[str]) -> None:
        data = ("\n".join(lines) + "\n").encode()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)
        self.syncs += 1

    def append(self, reports: Sequence[Report]) -> None:
        """Write ``reports`` and make them durable; returns once they are on disk. Raises
        OSError (disk full, I/O error) and then takes no more (a journal with a hole in it
        must not look whole)."""
        if reports and not self.broken:
            try:
                self._append(
                    [json.dumps(report_to_wire(r), separators=(",", ":")) for r in reports]
                )
            except OSError:
                self.broken = True
                raise

    def close(self, *, clean: bool) -> None:
        """End the session; ``clean``: every job submitted to it has a record."""
        try:
            if clean and not self.broken:
                self._append([json.dumps({"k": "close"})])
        except OSError:
            pass  # the session then reads as not clean: nothing is taken as "not started"
        finally:
            os.close(self._fd)  # releases the lock


@dataclass(slots=True)
class Journal:
    """What a journal says (the last session decides ``pid`` and ``closed``)."""

    started: dict[int, Started] = field(default_factory=dict)
    finished: dict[int, Outcome] = field(default_factory=dict)
    pid: int | None = None  # the last session's executor process
    closed: bool = False  # the last session ended with every job accounted for
    exists: bool = False


def read_journal(path: Path) -> Journal:
    """Parse ``path`` (a missing file is an empty journal; a torn last line is skipped)."""
    journal = Journal()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return journal
    journal.exists = True
    for raw in data.split(b"\n"):
        try:
            record = json.loads(raw)
        except ValueError:
            continue  # the empty tail, or a line torn by a crash
        if not isinstance(record, dict):
            continue
        kind = record.get("k")
        if kind == "open":
            journal.pid, journal.closed = record.get("pid"), False
        elif kind == "close":
            journal.closed = True
        elif kind in ("start", "end"):
            report = report_from_wire(record)
            if isinstance(report, Finished):
                journal.finished[report.attempt_id] = report.outcome
            else:
                journal.started[report.attempt_id] = report
    return journal


def holder(path: Path) -> int | None:
    """The pid of the executor process that holds ``path`` now; None when none does.

    (0 when one holds it but its pid cannot be read from the journal.)
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_journal(path).pid or 0
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
