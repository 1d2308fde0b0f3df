"""``ProcessExecutor``: the ``Executor`` protocol, served by a per-run executor process.

The orchestrator's side of ``uet.execution.spawner``: it starts the process (a session of its
own, so a terminal's Ctrl-C reaches uet first and uet decides), writes ``submit``/``cancel``
frames to its stdin and reads reports and output lines from its stdout on one thread.

Why a separate process (figures in docs/execution.md): outcomes survive the orchestrator —
each is in the run's journal (fsynced, batched) before the orchestrator hears of it, and a
task that ends after the orchestrator died is still journaled, so ``uet resume`` adopts its
real outcome; and spawning (fork, exec, reaping, the /proc work of killing groups) leaves
the orchestrator's GIL.

If the executor process dies (it should not: kill -9), every job it had is reported
``error`` with a note naming its exit status; their processes, in their own groups, are
found and stopped by reconciliation like a dead orchestrator's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

from uet.clock import Clock, SystemClock
from uet.execution.api import Finished, Job, Outcome, OutputSink, ReportQueue
from uet.execution.wire import WireError, frame, job_to_wire, read_frame, report_from_wire
from uet.states import AttemptState

_UET_FOLDER = os.fspath(Path(__file__).resolve().parents[2])
SPAWNER_COMMAND = (
    sys.executable,
    "-S",  # no site: the spawner needs the stdlib and uet only (~30 ms less to start)
    "-c",
    "import sys; sys.path.append(sys.argv.pop(1)); "
    "from uet.execution.spawner import main; sys.exit(main())",
    _UET_FOLDER,  # this uet, wherever it was imported from (PYTHONPATH still applies)
)
"""How the executor process is started: ``uet.execution.spawner`` of this same uet."""


def _discard(attempt_id: int, lines: object) -> None:
    """The default sink: output goes to log files only."""


class ProcessExecutor(ReportQueue):
    """Runs jobs through an executor process that journals every outcome to ``journal``.

    Same contract as ``LocalExecutor`` (``uet.execution.api``). ``clock`` only stamps the
    outcomes this side makes up (the executor process died, or is closed).
    """

    def __init__(
        self,
        journal: Path,
        max_workers: int | None = None,
        output: OutputSink = _discard,
        clock: Clock | None = None,
    ) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        super().__init__()
        self._clock = clock if clock is not None else SystemClock()
        self._output = output
        self.journal = journal
        argv = [*SPAWNER_COMMAND, "--journal", os.fsdecode(journal)]
        if max_workers is not None:
            argv += ["--max-workers", str(max_workers)]
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # its own session and group: Ctrl-C is uet's to handle
        )
        if self._proc.stdin is None or self._proc.stdout is None:  # pragma: no cover - PIPE
            raise RuntimeError("the executor process has no pipes")
        self._stdin = self._proc.stdin
        self._stdout_fd = self._proc.stdout.fileno()
        self.pid = self._proc.pid
        self._lock = threading.Lock()  # writes to the pipe, and the set of open jobs
        self._open: set[int] = set()  # submitted, no Finished read from the process yet
        self._gone: str | None = None  # why the process can take no more jobs
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="uet-executor-reader", daemon=True)
        self._reader.start()

    # -- the reader thread ------------------------------------------------------------------

    def _read(self) -> None:
        try:
            while (message := read_frame(self._stdout_fd)) is not None:
                if message.get("op") == "output":
                    self._output(int(message["a"]), message["lines"])
                elif message.get("op") == "reports":
                    reports = [report_from_wire(item) for item in message["r"]]
                    with self._lock:
                        for report in reports:
                            if isinstance(report, Finished):
                                self._open.discard(report.attempt_id)
                    self._reports.put(reports)
        except (OSError, WireError, ValueError, KeyError, TypeError):
            pass  # a broken stream is a dead process: handled below
        finally:
            self._ended()

    def _ended(self) -> None:
        """The process's stdout closed: every job still open ends as an error."""
        code = self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        with self._lock:
            if self._closed and not self._open:
                self._gone = "executor is closed"
                return
            self._gone = f"the executor process (pid {self.pid}) ended with status {code}"
            orphans, self._open = sorted(self._open), set()
        now = self._clock.now()
        note = f"{self._gone}; its processes are stopped by `uet resume`"
        self._reports.put(
            [Finished(a, Outcome(AttemptState.ERROR, None, now, error=note)) for a in orphans]
        )

    # -- the protocol -----------------------------------------------------------------------

    def _send(self, message: dict[str, object]) -> bool:
        data = frame(message)
        with self._lock:
            if self._gone is not None:
                return False
            try:
                self._stdin.write(data)
                self._stdin.flush()
            except (OSError, ValueError):  # EPIPE: it died; the reader reports its jobs
                return False
            return True

    def submit(self, job: Job) -> None:
        """Queue ``job`` in the executor process; never raises for a bad job."""
        self._submitted += 1
        with self._lock:
            refused = self._gone or ("executor is closed" if self._closed else None)
            if refused is None:
                self._open.add(job.attempt_id)
        if refused is None and self._send({"op": "submit", "job": job_to_wire(job)}):
            return
        with self._lock:
            if job.attempt_id not in self._open and refused is None:
                return  # the reader reported it already, as the process died
            self._open.discard(job.attempt_id)
        note = refused or self._gone or "executor process is gone"
        outcome = Outcome(AttemptState.ERROR, None, self._clock.now(), error=note)
        self._reports.put([Finished(job.attempt_id, outcome)])

    def cancel(self, attempt_id: int) -> None:
        self._send({"op": "cancel", "a": attempt_id})

    def close(self) -> None:
        """Stop every running job (the process kills their groups), wait for the process."""
        if not self._closed:
            self._send({"op": "close"})
            with self._lock:
                self._closed = True
                with contextlib.suppress(OSError):
                    self._stdin.close()
        if self._reader is not threading.current_thread():
            self._reader.join()
