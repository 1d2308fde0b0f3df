"""What the engine hands an executor, and what it gets back.

The engine drives executors from one thread, by pulling::

    executor.submit(job)               # returns at once; the process starts as soon as it can
    for report in executor.poll(0.05): # blocks until something happened or the timeout passed
        match report:
            case Started(attempt_id, pid, pgid): ...   # record the process group (store)
            case Finished(attempt_id, outcome): ...    # record the outcome (store)
    executor.cancel(attempt_id)        # kills the process group; a Finished(canceled) follows
    executor.close()                   # kills whatever still runs, releases threads

Output never passes through ``poll``: the executor appends every byte to the job's log file and
hands complete lines, batched, to the ``OutputSink`` it was built with (the engine turns them
into ``task.output`` events). Memory per job stays bounded whatever the process prints.

Every job ends in exactly one ``Finished`` whose ``Outcome`` is a value, never an exception:
``succeeded`` (exit 0), ``failed`` (exit ≠ 0 or killed by a signal), ``timed_out``,
``needs_input`` (it failed or timed out waiting for an answer: ``uet.execution.prompts``),
``canceled``, or ``error`` (uet could not start it: missing binary, bad cwd — ``exit_code`` is
None and ``error`` says why).
"""

from __future__ import annotations

import enum
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

from uet.states import AttemptState

OUTPUT_TAIL_BYTES = 4096
"""Bytes of a job's last output kept in its Outcome (the log file has everything)."""

OUTPUT_LINE_MAX_BYTES = 65_536
"""Bytes of one output line at most; a longer line reaches the sink cut into pieces."""

OUTPUT_FLUSH_INTERVAL_S = 0.1
"""Seconds a complete output line may wait before it is handed to the sink."""

OUTPUT_BATCH_MAX_BYTES = 65_536
"""Bytes of lines of one job gathered before they are handed over without waiting."""


class Stdio(enum.StrEnum):
    """Where a job's standard streams go.

    - ``null`` (every task by default): stdin at end-of-file (as /dev/null: a pipe uet
      closes within 0.5 s, ``process.StdinProbe``), stdout and stderr on one pipe to
      the log and the sink; the process leads a new *session* (no controlling terminal:
      opening /dev/tty fails with ENXIO instead of waiting for a person);
    - ``passthrough`` (``uet exec``): the same, but stdout and stderr on two pipes, each
      also copied byte for byte to the executor's own stdout and stderr;
    - ``terminal`` (``uet exec --tty``, ``interactive: true`` tasks): the job inherits the
      executor's stdin, stdout and stderr and stays in its session and process group (the
      terminal's Ctrl-C reaches it); nothing is captured, a timeout kills the leader only.
    """

    NULL = "null"
    PASSTHROUGH = "passthrough"
    TERMINAL = "terminal"


@dataclass(frozen=True, slots=True)
class Job:
    """One attempt of one task, ready to run.

        Exactly one of ``argv`` (exec form, no shell) and ``shell`` (run by ``/bin/sh -c``).
        ``env`` is the complete environment of the process (the engine merges os.environ, the
        workstream's and the task's env, and UET_RUN_ID / UET_TASK_ID / UET_NON_INTERACTIVE /
        NON_INTERACTIVE and the rest of ``defaults.NON_INTERACTIVE_ENV``). ``stdio`` says where
    its standard streams go (:class:`Stdio`); by default stdin is /dev/null and the process
    leads a new session (so a new process group, whose id is its pid).
        When it exits, what is left of its group is stopped (SIGTERM, SIGKILL after
        ``kill_grace``) before its ``Finished`` is reported, unless ``keep_background``.
        ``mask``: secret values replaced by ``***`` in everything uet keeps of the output
    (its log file, its lines, its tail); a passthrough job's own streams stay untouched.
    """

    attempt_id: int
    key: str  # the task's key in its run, for messages
    argv: Sequence[str] | None = None
    shell: str | None = None
    cwd: Path = Path()
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None  # seconds; past it the whole process group is killed
    kill_grace: float = 5.0  # seconds between SIGTERM and SIGKILL
    log_path: Path | None = None  # every byte of stdout and stderr is appended here
    keep_background: bool = False  # True: what is left of its group when it exits lives on
    stdio: Stdio = Stdio.NULL
    mask: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    state: AttemptState  # succeeded | failed | timed_out | needs_input | canceled | error
    started_at: float | None
    ended_at: float
    exit_code: int | None = None  # negative: killed by that signal
    output_tail: str = ""
    error: str | None = None  # why it could not run (state error), or how it was stopped
    log_error: str | None = None  # why its log file could not take all of its output


@dataclass(frozen=True, slots=True)
class Started:
    attempt_id: int
    pid: int
    pgid: int
    at: float


@dataclass(frozen=True, slots=True)
class Finished:
    attempt_id: int
    outcome: Outcome


Report = Started | Finished


class OutputSink(Protocol):
    """Receives complete output lines (decoded UTF-8, errors replaced, without newline)."""

    def __call__(self, attempt_id: int, lines: Sequence[str]) -> None: ...


class Executor(Protocol):
    """Runs jobs. Implementations: ``LocalExecutor`` (this machine); Ray later."""

    def submit(self, job: Job) -> None: ...

    def poll(self, timeout: float) -> list[Report]: ...

    def cancel(self, attempt_id: int) -> None: ...

    def running(self) -> int: ...

    def close(self) -> None: ...


class ReportQueue:
    """What every executor of this package shares: a queue its threads put batches of
    reports in, ``poll`` and ``running`` over it, and closing as a context manager.
    Subclasses count ``_submitted`` jobs and implement ``submit``, ``cancel``, ``close``."""

    def __init__(self) -> None:
        self._reports: queue.SimpleQueue[list[Report]] = queue.SimpleQueue()
        self._submitted = 0
        self._finished = 0

    def poll(self, timeout: float) -> list[Report]:
        """Reports since the last call; waits up to ``timeout`` seconds for the first one."""
        wait = min(timeout, threading.TIMEOUT_MAX)
        source = self._reports
        try:
            reports = source.get(True, wait) if wait > 0 else source.get(False)
        except queue.Empty:
            return []
        while True:
            try:
                reports += source.get(False)
            except queue.Empty:
                break
        self._finished += sum(isinstance(report, Finished) for report in reports)
        return reports

    def wake(self) -> None:
        """Make a ``poll`` waiting now return at once (with no reports)."""
        self._reports.put([])

    def running(self) -> int:
        """Jobs submitted whose ``Finished`` has not been returned by ``poll`` yet."""
        return self._submitted - self._finished

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
