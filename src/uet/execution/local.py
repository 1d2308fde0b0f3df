"""``LocalExecutor``: runs jobs as processes on this machine, driven by one reactor thread.

The caller's thread only enqueues (``submit``, ``cancel``) and collects (``poll``); the reactor
thread (``reactor.Reactor``) spawns, reads output, enforces deadlines and kills. Reports cross
over in one ``SimpleQueue``, a list per reactor turn, so a poller is woken once for everything
that happened together, and ``poll`` sleeps in the queue's lock, never spinning.
"""

from __future__ import annotations

import logging
import os
import threading

from uet.clock import Clock, SystemClock
from uet.execution.api import Finished, Job, Outcome, OutputSink, ReportQueue
from uet.execution.reactor import Command, Reactor
from uet.states import AttemptState

log = logging.getLogger("uet.execution")


def _discard(attempt_id: int, lines: object) -> None:
    """The default sink: output goes to log files only."""


class LocalExecutor(ReportQueue):
    """Runs each job in its own process group on this machine (the ``Executor`` protocol).

    ``max_workers`` caps the processes alive at once (``None``: as many as are submitted;
    the engine applies its own limits). ``output`` receives complete lines, in batches, from
    the executor's thread: it must be quick and thread-safe (the event bus's ``emit`` is).
    ``clock`` stamps ``Started.at`` and the outcome's times: one reading at the start of a
    job and one at its end.

    Use it as a context manager, or call ``close()``: it stops every running process group
    (SIGTERM, SIGKILL after each job's ``kill_grace``) and joins the thread. Their
    ``Finished(canceled)`` reports can still be collected by ``poll`` afterwards.

    ``reaper=True`` is for a process that made itself a child subreaper (the executor
    process, ``uet.execution.spawner``): processes of a job that escaped its group with
    setsid are adopted by it, and the reactor stops them when their job ends.

    ``stdio_fds`` (stdout, stderr): where ``Stdio.PASSTHROUGH`` jobs copy their output, and
    the sign that this process's own stdio may be handed to ``Stdio.TERMINAL`` jobs
    (``uet exec``). Without it such jobs end as ``error`` (an executor process's stdio is
    its pipe to the orchestrator).
    """

    def __init__(
        self,
        max_workers: int | None = None,
        output: OutputSink = _discard,
        clock: Clock | None = None,
        *,
        reaper: bool = False,
        stdio_fds: tuple[int, int] | None = None,
    ) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        super().__init__()
        self._clock = clock if clock is not None else SystemClock()
        self._reactor = Reactor(
            max_workers, output, self._clock, self._reports.put, reaper=reaper, stdio_fds=stdio_fds
        )
        self._lock = threading.Lock()  # orders commands against the reactor's end
        self._stopped = False  # the reactor accepts no more commands
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="uet-executor", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        reason = "executor failed (see the log)"
        try:
            self._reactor.run()
            reason = "executor is closed"
        except Exception:  # a bug in the loop: every job must still end, as an error
            log.exception("the executor's reactor failed; its jobs are reported as errors")
        finally:
            with self._lock:  # from now on no command is queued, and no wake-up written
                self._stopped = True
            try:
                self._reactor.abandon(reason)
            finally:
                self._reactor.close_fds()

    def _command(self, verb: Command, arg: Job | int | None) -> bool:
        """Hand a command to the reactor; False when it no longer takes any.

        The wake-up is written under the lock: once the reactor has stopped, its descriptor
        is closed and its number may belong to someone else.
        """
        with self._lock:
            if self._stopped or (self._closed and verb is not Command.CLOSE):
                return False
            self._reactor.commands.append((verb, arg))
            os.eventfd_write(self._reactor.wake_fd, 1)
        return True

    def submit(self, job: Job) -> None:
        """Queue ``job``; it starts as soon as a worker is free. Never raises for a bad job:
        what cannot run ends as a ``Finished`` with state ``error``."""
        self._submitted += 1
        if not self._command(Command.SUBMIT, job):
            note = "executor is closed" if self._closed else "executor failed (see the log)"
            outcome = Outcome(AttemptState.ERROR, None, self._clock.now(), error=note)
            self._reports.put([Finished(job.attempt_id, outcome)])

    def cancel(self, attempt_id: int) -> None:
        """Stop a job (a ``Finished`` with state ``canceled`` follows); unknown ids are ignored."""
        self._command(Command.CANCEL, attempt_id)

    def drain(self) -> None:
        """Start nothing more: queued jobs end ``canceled`` as never started, running ones go
        on to their end (timeouts still apply); then the executor closes by itself."""
        self._command(Command.DRAIN, None)

    def close(self) -> None:
        """Stop every running job's process group and join the reactor thread (idempotent)."""
        if not self._closed:
            self._closed = True
            self._command(Command.CLOSE, None)
        if self._thread is not threading.current_thread():
            self._thread.join()


def run_job(job: Job, output: OutputSink = _discard) -> Outcome:
    """Run one job to its end on this machine and return its outcome (a command outside
    any run: ``uet agents exec``, a merge gate). Its lines go to ``output`` as they come."""
    with LocalExecutor(max_workers=1, output=output) as executor:
        executor.submit(job)
        while True:
            for report in executor.poll(0.5):
                if isinstance(report, Finished):
                    return report.outcome
