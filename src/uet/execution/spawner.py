"""The executor process: runs a run's jobs for its orchestrator and outlives it if need be.

    python -m uet.execution.spawner --journal .uet/runs/RUN/journal [--max-workers N]

Started by ``ProcessExecutor`` in a session of its own (a terminal's Ctrl-C reaches uet, not
it), it makes itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``: what escapes a
task's group with setsid comes back to it, see ``process.Orphans``), holds the run's journal
and serves frames (``wire``) on stdin/stdout. Three threads:

* the reader: frames from the orchestrator become ``LocalExecutor`` calls. End of stream
  without ``close`` means the orchestrator died: the executor drains (starts nothing new,
  running jobs go on to their end, timeouts included) and the process ends after them;
* the reactor (inside ``LocalExecutor``): spawns, reads, kills; output lines go straight to
  stdout as ``output`` frames (lost once the orchestrator is gone; the log files have them);
* the main thread: takes every report there is, appends them to the journal (one fsync),
  *then* sends them. What it took while an fsync ran goes into the next one.

SIGTERM and SIGINT close the executor (every group stopped, outcomes journaled). SIGUSR1
releases it from its orchestrator, which another one took over (``uet resume`` on PostgreSQL
after the first was stopped past its lease): it sends nothing more, starts nothing new, lets
the running jobs end, journals them, and ends, so that the new owner can adopt them.
Exit status: 0, or 3 when the journal cannot be held (another executor holds it).
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from uet.execution.api import Finished, Report
from uet.execution.journal import JournalBusy, JournalWriter
from uet.execution.local import LocalExecutor
from uet.execution.wire import WireError, frame, job_from_wire, read_frame, report_to_wire

log = logging.getLogger("uet.execution")

PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
_FULL_PIPE_WAIT_S = 0.2  # a send to a full pipe looks again this often for a release


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux 3.4+)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


class Outbox:
    """Frames to the orchestrator, from two threads; silent once it has gone."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self.gone = False
        # never blocked for good by an orchestrator that stopped reading (SIGSTOP): a full
        # pipe is waited on in slices, and ``gone`` (set by a release) ends the wait
        os.set_blocking(fd, False)

    def send(self, message: dict[str, object]) -> None:
        data = memoryview(frame(message))
        with self._lock:
            while data and not self.gone:
                try:
                    data = data[os.write(self._fd, data) :]
                except BlockingIOError:
                    select.select([], [self._fd], [], _FULL_PIPE_WAIT_S)
                except OSError:  # EPIPE: the orchestrator died; the journal still has it all
                    self.gone = True


class Server:
    """One executor process's state (see the module docstring)."""

    def __init__(
        self, journal: JournalWriter | None, max_workers: int | None, fault: str | None = None
    ) -> None:
        self.journal = journal
        self.fault = fault  # why outcomes cannot be journaled: every outcome says so
        self.outbox = Outbox(sys.stdout.fileno())
        self.executor = LocalExecutor(max_workers, output=self._output, reaper=True)
        self.reading = True

    def _output(self, attempt_id: int, lines: Sequence[str]) -> None:
        if not self.outbox.gone:
            self.outbox.send({"op": "output", "a": attempt_id, "lines": list(lines)})

    def read(self, fd: int) -> None:
        """The reader thread: orchestrator frames until it closes (or dies)."""
        closed = False
        try:
            while (message := read_frame(fd)) is not None:
                op = message.get("op")
                if op == "submit":
                    self.executor.submit(job_from_wire(message["job"]))
                elif op == "cancel":
                    self.executor.cancel(int(message["a"]))
                elif op == "close":
                    closed = True
                    break
        except (OSError, WireError, ValueError, KeyError, TypeError):
            log.exception("the orchestrator's stream broke; running jobs go on to their end")
        finally:
            self.reading = False
            if closed:
                self.executor.close()
            else:
                self.executor.drain()

    def release(self) -> None:
        """Another orchestrator owns the run now: send nothing more, start nothing new, let
        the running jobs end (journaled), then end."""
        self.outbox.gone = True
        self.reading = False
        self.executor.drain()

    def serve(self) -> None:
        """The main thread: journal, then report, until every job has ended."""
        executor = self.executor
        while self.reading or executor.running():
            reports = executor.poll(0.2)
            if not reports:
                continue
            self._journal(reports)
            if self.fault is not None:  # the orchestrator ends the run: exit 3, resumable
                reports = [_with_fault(r, self.fault) for r in reports]
            self.outbox.send({"op": "reports", "r": [report_to_wire(r) for r in reports]})
        executor.close()
        if self.journal is not None:
            self.journal.close(clean=True)

    def _journal(self, reports: list[Report]) -> None:
        if self.journal is None or self.fault is not None:
            return
        try:
            self.journal.append(reports)
        except OSError as exc:
            self.fault = f"journal {self.journal.path} cannot be written: {exc.strerror or exc}"


def _with_fault(report: Report, fault: str) -> Report:
    """A Finished whose outcome carries ``fault`` as its log error (a storage fault)."""
    if not isinstance(report, Finished) or report.outcome.log_error is not None:
        return report
    return Finished(report.attempt_id, dataclasses.replace(report.outcome, log_error=fault))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m uet.execution.spawner")
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--max-workers", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(format="uet executor: %(message)s", level=logging.WARNING)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # a release before we serve: nothing to do
    become_subreaper()
    journal: JournalWriter | None = None
    fault = None
    try:
        journal = JournalWriter(args.journal)
    except JournalBusy as busy:
        print(f"uet executor: {busy}", file=sys.stderr)
        return 3
    except OSError as exc:  # disk full, read-only: the run ends at its first outcome, exit 3
        fault = f"journal {args.journal} cannot be written: {exc.strerror or exc}"
    server = Server(journal, args.max_workers, fault)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.executor.close, daemon=True).start()

    def release(signum: int, frame: object) -> None:
        threading.Thread(target=server.release, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGUSR1, release)
    reader = threading.Thread(
        target=server.read, args=(sys.stdin.fileno(),), name="uet-orchestrator", daemon=True
    )
    reader.start()
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
