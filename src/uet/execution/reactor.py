"""The reactor: one thread that starts jobs and watches their pipes, exits and deadlines.

Why one thread with epoll over pipes and pidfds (``bench/spawn.py`` has the figures): it spawns
as fast as a bare ``posix_spawn`` loop, needs no thread per job, never polls, and owns every
piece of per-job state alone, so nothing but the command queue needs a lock.

A job, once started, moves through::

    running ──(exit)──────────────────────────────────────────► finished
       │
       └─(timeout, cancel, close)─► stopping: SIGTERM sent to the group
                                       │ leader exited and no live member ─► finished
                                       └─(kill_grace)─► SIGKILL to the group ─► finished

A stopping job's leader is reaped only after its group is empty (see ``process``), so the
group id cannot be recycled while we still signal it. A job finishes when its leader exits:
the pipe is drained then, and a background process that still holds it loses its output.

When a leader exits by itself, what is left of its group is stopped too (systemd's
``KillMode=control-group``), unless the job keeps its background (``Job.keep_background``):
the leader is reaped, then SIGTERM goes to the group. ``ESRCH`` is the common case (nothing
was left, one syscall); otherwise the group stays in ``stopping`` (SIGKILL after the grace)
and its ``Finished``, with the leader's own exit status, waits until the group is empty, so
a background process never overlaps the task's retry or its dependents. Reaping first is
safe: the group's number stays taken while any member lives, and a freed number comes back
only after the kernel has cycled through ``pid_max`` others.

With ``reaper=True`` (the executor process, a child subreaper) processes that left the group
with ``setsid`` come back as our children once their parent exits: after each job and every
``SWEEP_INTERVAL_S`` the reactor lists its children, stops those whose environment marks an
attempt that is over (``UET_TASK_ID`` / ``UET_ATTEMPT``) and reaps the zombies among them.
"""

from __future__ import annotations

import contextlib
import enum
import heapq
import itertools
import logging
import os
import select
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from uet.clock import Clock
from uet.contain.env import Masker
from uet.execution import process
from uet.execution.api import (
    OUTPUT_BATCH_MAX_BYTES,
    OUTPUT_FLUSH_INTERVAL_S,
    Finished,
    Job,
    Outcome,
    OutputSink,
    Report,
    Started,
    Stdio,
)
from uet.execution.output import OutputStream
from uet.execution.prompts import waited_for_input
from uet.states import AttemptState

log = logging.getLogger("uet.execution")

NO_TERMINAL = "this executor cannot pass a terminal through (an executor process has none)"
"""``error`` of a passthrough or terminal job given to an executor without uet's own stdio."""

NOT_STARTED = "not started: its orchestrator had gone"
"""``error`` of a job the executor dropped from its queue because the orchestrator died."""

READ_BYTES = 65_536  # one read from a pipe
STOP_TICK_S = 0.02  # seconds between looks at the groups of stopping jobs
KILL_WAIT_S = 5.0  # seconds after SIGKILL before a group that will not die is given up on
_DRAIN_READS = 32  # reads at most when a leader exits (a pipe holds 64 KiB)
SWEEP_INTERVAL_S = 1.0  # seconds between looks at our adopted children (reaper mode)


class Command(enum.Enum):
    """What the caller's thread asks of the reactor (through ``Reactor.commands``)."""

    SUBMIT = "submit"  # argument: the Job
    CANCEL = "cancel"  # argument: the attempt id
    CLOSE = "close"  # argument: None
    DRAIN = "drain"  # argument: None; start nothing more, let running jobs finish, then end


@dataclass(eq=False, slots=True)
class Run:
    """A started job and everything the reactor knows about it."""

    job: Job
    child: process.Child
    pidfd: int
    pipe_fd: int  # the read end of stdout+stderr; closed once drained (-1: none)
    stream: OutputStream
    started_at: float
    err_fd: int = -1  # the read end of stderr when it is kept apart (Stdio.PASSTHROUGH)
    err_stream: OutputStream | None = None
    pipe_open: bool = True
    err_open: bool = False
    exited: bool = False
    stop: AttemptState | None = None  # TIMED_OUT or CANCELED once we decided to stop it
    note: str | None = None  # how it was stopped, for Outcome.error
    kill_at: float = 0.0  # monotonic time of SIGKILL
    give_up_at: float = 0.0  # monotonic time to stop waiting for a group that will not die
    killed: bool = False
    done: bool = False
    returncode: int | None = None  # once the leader is reaped (leftovers being stopped)

    @property
    def pgid(self) -> int:
        return self.child.pid

    @property
    def own_group(self) -> bool:
        """False for a terminal job: it stays in uet's group, only its pid is signalled."""
        return self.job.stdio is not Stdio.TERMINAL

    def signal(self, signum: int) -> bool:
        """Signal the job's group (its leader alone for a terminal job); False if gone."""
        if self.own_group:
            return process.signal_group(self.pgid, signum)
        if self.returncode is not None:
            return False  # reaped: the number may be someone else's now
        try:
            os.kill(self.child.pid, signum)
        except ProcessLookupError:
            return False
        return True


class Reactor:
    """The state and loop of the executor thread; ``LocalExecutor`` is its only user.

    ``emit`` receives the reports of one loop turn at once (fewer wake-ups of the poller).
    """

    def __init__(
        self,
        max_workers: int | None,
        sink: OutputSink,
        clock: Clock,
        emit: Callable[[list[Report]], None],
        *,
        reaper: bool = False,
        stdio_fds: tuple[int, int] | None = None,
    ) -> None:
        self._max = max_workers
        self._stdio_fds = stdio_fds  # (stdout, stderr) passthrough jobs copy theirs to
        self._sink = sink
        self._clock = clock
        self._emit = emit
        self._epoll = select.epoll()
        self.wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._epoll.register(self.wake_fd, select.EPOLLIN)
        self.commands: deque[tuple[Command, Job | int | None]] = deque()
        self._fds: dict[int, Run] = {}  # pipe fds and pidfds of running jobs
        self._runs: dict[int, Run] = {}  # by attempt id
        self._queued: deque[Job] = deque()
        self._timeouts: list[tuple[float, int, Run]] = []
        self._seq = itertools.count()
        self._stopping: set[Run] = set()
        self._dirty: set[Run] = set()  # runs with lines waiting for the sink
        self._flush_at: float | None = None
        self._out: list[Report] = []
        self._closing = False
        self._reaper = process.Orphans() if reaper else None
        self._sweep_at = time.monotonic() + SWEEP_INTERVAL_S
        self._probing: set[Run] = set()  # runs whose stdin pipe is still open (StdinProbe)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until closed and every job has finished."""
        while not self.finished:
            self.turn(self.wait_seconds())

    @property
    def finished(self) -> bool:
        return self._closing and not self._runs and not self._queued

    def turn(self, wait: float) -> None:
        """Wait up to ``wait`` seconds (-1: until something happens), handle what happened."""
        for fd, _ in self._epoll.poll(wait):
            run = self._fds.get(fd)
            if run is None:
                if fd == self.wake_fd:
                    self._take_commands()
                # else: a descriptor that a job finished earlier in this turn closed
            elif fd == run.pipe_fd:
                self._read(run)
            elif fd == run.err_fd:
                self._read_err(run)
            else:
                self._exited(run)
        now = time.monotonic()
        if self._probing:
            self._look_at_stdin(now)
        self._fire_timeouts(now)
        if self._stopping:
            self._advance_stopping(now)
        if self._flush_at is not None and now >= self._flush_at:
            self._flush_all()
        if self._reaper is not None and now >= self._sweep_at:
            self._sweep(now)
        self._start_queued()
        if self._out:
            batch, self._out = self._out, []
            self._emit(batch)

    def wait_seconds(self) -> float:
        """Seconds until the next deadline (-1: none)."""
        deadlines = []
        if self._timeouts:
            deadlines.append(self._timeouts[0][0])
        if self._flush_at is not None:
            deadlines.append(self._flush_at)
        if self._reaper is not None and self._reaper.busy:
            deadlines.append(self._sweep_at)
        if self._probing:
            deadlines.append(time.monotonic() + process.STDIN_LOOK_S)
        if not deadlines:
            return STOP_TICK_S if self._stopping else -1
        wait = max(0.0, min(deadlines) - time.monotonic())
        return min(wait, STOP_TICK_S) if self._stopping else wait

    def _look_at_stdin(self, now: float) -> None:
        """Whether a job reads its stdin (``process.StdinProbe``); each is closed in time."""
        for run in list(self._probing):
            probe = run.child.stdin
            if probe is None or run.exited:
                self._probing.discard(run)
                continue
            probe.look(run.child.pid, now)
            if not probe.open:
                self._probing.discard(run)

    def close_fds(self) -> None:
        """Release the epoll and the wake-up descriptors (after ``run`` returned)."""
        self._epoll.close()
        os.close(self.wake_fd)

    # -- commands from the caller's thread -------------------------------------------------

    def _take_commands(self) -> None:
        with contextlib.suppress(BlockingIOError):  # another turn took the wake-up already
            os.eventfd_read(self.wake_fd)
        while self.commands:
            verb, arg = self.commands.popleft()
            if verb is Command.SUBMIT and isinstance(arg, Job):
                self._queued.append(arg)
            elif verb is Command.CANCEL and isinstance(arg, int):
                self._cancel(arg, AttemptState.CANCELED, "canceled")
            elif verb is Command.CLOSE:
                self._close()
            elif verb is Command.DRAIN:
                self._drain_queue()

    def _cancel(self, attempt_id: int, state: AttemptState, note: str) -> None:
        run = self._runs.get(attempt_id)
        if run is not None:
            self._begin_stop(run, state, note)
            return
        for job in self._queued:
            if job.attempt_id == attempt_id:
                self._queued.remove(job)
                self._out.append(Finished(attempt_id, self._unstarted(state, note)))
                return

    def _close(self) -> None:
        self._closing = True
        while self._queued:
            job = self._queued.popleft()
            outcome = self._unstarted(AttemptState.CANCELED, "executor closed")
            self._out.append(Finished(job.attempt_id, outcome))
        for run in list(self._runs.values()):
            self._begin_stop(run, AttemptState.CANCELED, "executor closed")

    def _drain_queue(self) -> None:
        """The orchestrator is gone: queued jobs never start (their outcome says so), running
        ones go on to their end (timeouts still apply); then the loop ends."""
        self._closing = True
        while self._queued:
            job = self._queued.popleft()
            outcome = self._unstarted(AttemptState.CANCELED, NOT_STARTED)
            self._out.append(Finished(job.attempt_id, outcome))

    def _unstarted(self, state: AttemptState, note: str) -> Outcome:
        return Outcome(state, started_at=None, ended_at=self._clock.now(), error=note)

    # -- starting -------------------------------------------------------------------------

    def _start_queued(self) -> None:
        while self._queued and (self._max is None or len(self._runs) < self._max):
            self._start(self._queued.popleft())

    def _start(self, job: Job) -> None:
        if job.log_path is not None and job.log_path.is_dir():  # the file comes with output
            path = os.fsdecode(job.log_path)
            self._refuse(job, f"cannot open log file {path!r}: it is a folder")
            return
        if job.stdio is not Stdio.NULL and self._stdio_fds is None:
            self._refuse(job, NO_TERMINAL)
            return
        try:
            child = process.spawn(job)
        except process.SpawnError as exc:
            self._refuse(job, str(exc))
            return
        mask = Masker(job.mask) if job.mask else None
        stream = OutputStream(job.log_path, whole_lines=child.err_fd >= 0, mask=mask)
        run = Run(job, child, child.pidfd, child.pipe_fd, stream, self._clock.now())
        run.pipe_open = child.pipe_fd >= 0
        if child.err_fd >= 0:
            run.err_fd, run.err_open = child.err_fd, True
            run.err_stream = OutputStream(
                job.log_path, tail=stream._tail, whole_lines=True, mask=mask
            )
        self._runs[job.attempt_id] = run
        self._fds[run.pidfd] = run
        for fd in (run.pipe_fd, run.err_fd):
            if fd >= 0:
                self._fds[fd] = run
                self._epoll.register(fd, select.EPOLLIN)
        self._epoll.register(run.pidfd, select.EPOLLIN)
        if child.stdin is not None:
            self._probing.add(run)
        if job.timeout is not None:
            deadline = time.monotonic() + job.timeout
            heapq.heappush(self._timeouts, (deadline, next(self._seq), run))
        self._out.append(Started(job.attempt_id, child.pid, child.pid, run.started_at))

    def _refuse(self, job: Job, note: str) -> None:
        """``job`` could not start: its one report is Finished(error)."""
        self._out.append(Finished(job.attempt_id, self._unstarted(AttemptState.ERROR, note)))

    # -- output ---------------------------------------------------------------------------

    def _read(self, run: Run) -> None:
        try:
            chunk = os.read(run.pipe_fd, READ_BYTES)
        except BlockingIOError:
            return
        if not chunk:  # every writer closed it
            self._close_pipe(run)
            return
        self._take_output(run, chunk)

    def _read_err(self, run: Run) -> None:
        try:
            chunk = os.read(run.err_fd, READ_BYTES)
        except BlockingIOError:
            return
        if not chunk:
            self._close_err(run)
            return
        self._take_output(run, chunk, err=True)

    def _take_output(self, run: Run, chunk: bytes, *, err: bool = False) -> None:
        stream = run.err_stream if err and run.err_stream is not None else run.stream
        if run.job.stdio is Stdio.PASSTHROUGH and self._stdio_fds is not None:
            _copy(self._stdio_fds[1 if err else 0], chunk)
        stream.feed(chunk)
        if stream.pending_bytes >= OUTPUT_BATCH_MAX_BYTES:
            self._flush(run)  # a fast writer: hand over now, memory stays bounded
        elif stream.pending:
            self._dirty.add(run)
            if self._flush_at is None:
                self._flush_at = time.monotonic() + OUTPUT_FLUSH_INTERVAL_S

    def _close_pipe(self, run: Run) -> None:
        if run.pipe_open:
            run.pipe_open = False
            self._epoll.unregister(run.pipe_fd)
            del self._fds[run.pipe_fd]
            run.child.close_pipe(run.pipe_fd)

    def _close_err(self, run: Run) -> None:
        if run.err_open:
            run.err_open = False
            self._epoll.unregister(run.err_fd)
            del self._fds[run.err_fd]
            run.child.close_pipe(run.err_fd)

    def _drain(self, run: Run) -> None:
        """Read what the exited leader left in the pipe, then close it."""
        for _ in range(_DRAIN_READS):
            if not run.pipe_open:
                break
            try:
                chunk = os.read(run.pipe_fd, READ_BYTES)
            except BlockingIOError:  # a background process still holds the pipe
                break
            if not chunk:
                break
            self._take_output(run, chunk)
        self._close_pipe(run)
        run.stream.finish()
        for _ in range(_DRAIN_READS):
            if not run.err_open:
                break
            try:
                chunk = os.read(run.err_fd, READ_BYTES)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._take_output(run, chunk, err=True)
        self._close_err(run)
        if run.err_stream is not None:
            run.err_stream.finish()

    def _flush(self, run: Run) -> None:
        lines = run.stream.take()
        if run.err_stream is not None:
            lines += run.err_stream.take()
        self._dirty.discard(run)
        if not lines:
            return
        try:
            self._sink(run.job.attempt_id, lines)
        except Exception:  # a failing sink must not stop every other job's output
            log.exception("output sink failed for attempt %s (%s)", run.job.attempt_id, run.job.key)

    def _flush_all(self) -> None:
        for run in list(self._dirty):
            self._flush(run)
        self._flush_at = None

    # -- exits, timeouts, stopping ----------------------------------------------------------

    def _exited(self, run: Run) -> None:
        run.exited = True
        self._epoll.unregister(run.pidfd)  # level-triggered: it would fire on every turn
        del self._fds[run.pidfd]
        if run.stop is not None:
            return  # a stopping run is finished by _advance_stopping once its group is empty
        if run.job.keep_background:
            self._finish(run)
            return
        run.returncode = run.child.reap()  # see the module docstring: why reaping first is safe
        if not run.own_group or not process.signal_group(run.pgid, signal.SIGTERM):
            self._finish(run)  # nothing was left of its group: the common case
            return
        run.kill_at = time.monotonic() + max(0.0, run.job.kill_grace)
        self._stopping.add(run)

    def _fire_timeouts(self, now: float) -> None:
        heap = self._timeouts
        while heap and heap[0][0] <= now:
            _, _, run = heapq.heappop(heap)
            if not run.done and run.stop is None and not run.exited:
                note = f"timed out after {run.job.timeout:g} s (killed the process group)"
                self._begin_stop(run, AttemptState.TIMED_OUT, note)
        if len(heap) > 2 * len(self._runs) + 64:  # finished runs' entries: drop them
            self._timeouts = [entry for entry in heap if not entry[2].done]
            heapq.heapify(self._timeouts)

    def _begin_stop(self, run: Run, state: AttemptState, note: str) -> None:
        if run.stop is not None or run.returncode is not None:
            return  # stopping already (or only its leftovers are, the leader being gone)
        run.stop, run.note = state, note
        run.kill_at = time.monotonic() + max(0.0, run.job.kill_grace)
        run.signal(signal.SIGTERM)
        self._stopping.add(run)

    def _advance_stopping(self, now: float) -> None:
        """SIGKILL groups past their grace; finish runs whose leader exited and group is empty."""
        groups = process.live_groups() if any(run.exited for run in self._stopping) else set()
        for run in list(self._stopping):
            if not run.killed and now >= run.kill_at:
                run.signal(signal.SIGKILL)
                run.killed, run.give_up_at = True, now + KILL_WAIT_S
                sigkill = f"SIGKILL after {run.job.kill_grace:g} s"
                if run.stop is None:  # leftovers of a leader that exited by itself
                    sigkill = f"what it left in its group needed {sigkill}"
                run.note = sigkill if run.note is None else f"{run.note}; {sigkill}"
            if not run.exited:
                continue
            if run.pgid not in groups or not run.own_group:
                self._finish(run)
            elif run.killed and now >= run.give_up_at:
                stuck = f"some processes of group {run.pgid} would not die"
                run.note = stuck if run.note is None else f"{run.note}; {stuck}"
                self._finish(run)

    # -- the end ------------------------------------------------------------------------------

    def _finish(self, run: Run) -> None:
        self._drain(run)
        returncode = run.returncode
        if returncode is None:
            returncode = run.child.reap()  # the leader has exited: this does not block
        run.child.close_pidfd()
        if run.child.stdin is not None:
            run.child.stdin.close()
            self._probing.discard(run)
        run.stream.close()
        if run.err_stream is not None:
            run.err_stream.close()
        self._flush(run)
        run.done = True
        self._stopping.discard(run)
        del self._runs[run.job.attempt_id]
        log_error = run.stream.log_error
        if log_error is None and run.err_stream is not None:
            log_error = run.err_stream.log_error
        state = run.stop or (AttemptState.SUCCEEDED if returncode == 0 else AttemptState.FAILED)
        tail = run.stream.tail()
        error = run.note or _signal_note(returncode) or log_error
        if state in _JUDGED and run.job.stdio is not Stdio.TERMINAL:
            prompt = waited_for_input(tail, succeeded=state is AttemptState.SUCCEEDED)
            if prompt is None and state is AttemptState.FAILED and _read_stdin(run):
                prompt = "stdin: it read its stdin, which is closed here, then failed"
            if prompt is not None:
                state = AttemptState.NEEDS_INPUT
                error = f"needs input ({prompt})" + ("" if error is None else f"; {error}")
        outcome = Outcome(
            state=state,
            started_at=run.started_at,
            ended_at=self._clock.now(),
            exit_code=returncode,
            output_tail=tail,
            error=error,
            log_error=log_error,
        )
        self._out.append(Finished(run.job.attempt_id, outcome))
        if self._reaper is not None:
            self._reaper.ended(run.job)
            self._sweep(time.monotonic())

    def _sweep(self, now: float) -> None:
        """Reaper mode: stop and reap adopted children whose attempt is over."""
        reaper = self._reaper
        if reaper is None:
            return
        self._sweep_at = now + SWEEP_INTERVAL_S
        leaders = {run.child.pid for run in self._runs.values() if run.returncode is None}
        running = {process.attempt_marker(run.job.env) for run in self._runs.values()}
        reaper.sweep(leaders, running, now)

    def abandon(self, reason: str) -> None:
        """The loop has ended (closed, or broken by a bug): end every job left as ``error``.

        After a normal close only submissions that raced with it are left; after a bug, running
        groups are killed so that no process outlives its executor.
        """
        while self.commands:
            verb, arg = self.commands.popleft()
            if verb is Command.SUBMIT and isinstance(arg, Job):
                self._queued.append(arg)
        for run in list(self._runs.values()):
            run.signal(signal.SIGKILL)
            run.stop, run.note = AttemptState.ERROR, reason
            if not run.exited:
                run.exited = True
                self._epoll.unregister(run.pidfd)
                del self._fds[run.pidfd]
            self._finish(run)
        while self._queued:
            self._refuse(self._queued.popleft(), reason)
        if self._out:
            batch, self._out = self._out, []
            self._emit(batch)


_JUDGED = (AttemptState.SUCCEEDED, AttemptState.FAILED, AttemptState.TIMED_OUT)
"""Outcomes that may be ``needs_input`` instead (see ``uet.execution.prompts``)."""


def _read_stdin(run: Run) -> bool:
    probe = run.child.stdin
    return probe is not None and probe.read


def _copy(fd: int, chunk: bytes) -> None:
    """Write ``chunk`` whole to ``fd`` (a passthrough job's stdout or stderr); a reader that
    went away (EPIPE) or a full disk loses the copy, never the job: the log has it all."""
    view = memoryview(chunk)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except BlockingIOError:  # a non-blocking terminal that is full: wait for it
        select.select([], [fd], [], 1.0)
        _copy(fd, bytes(view))
    except OSError:
        return


def _signal_note(returncode: int) -> str | None:
    if returncode >= 0:
        return None
    try:
        return f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"
