"""Starting a job's process in its own group, and finding and killing process groups.

Why ``subprocess.Popen`` (vfork + exec, ``start_new_session=True``) and not
``os.posix_spawn``, although posix_spawn costs the parent half the CPU (55 against 115 µs):
posix_spawn holds the GIL while the parent waits for the child to exec, which on a busy
machine is hundreds of microseconds per process during which the engine's thread cannot run;
Popen releases it (Python 3.11.5+). It also changes directory (posix_spawn cannot on 3.11),
searches the *job's* PATH, closes inherited descriptors, and tells a missing program from a
bad ``cwd``. In bench/spawn.py both run as fast; end to end, the GIL decides.

Why /proc and not ``os.killpg(pgid, 0)`` to decide whether a group is alive: ``kill`` succeeds on
zombies, and a zombie stays in its group until its parent reaps it. Orphaned grandchildren are
reaped by pid 1, which in some containers never does it; a dead group must not look alive
forever. A member counts as alive unless its state is Z (zombie) or X (dead).

Why the reactor holds a killed leader's zombie until its group is empty: a process group id
stays reserved while any process uses it, and the leader's zombie is such a process. With
``pid_max`` at 32768 and 2,000 spawns a second, a released number comes back within seconds;
signalling a group whose leader was already reaped could hit a stranger.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from typing import IO

from uet.execution.api import Job, Stdio

SHELL = "/bin/sh"
"""The shell that runs ``Job.shell`` (``/bin/sh -c``)."""

_POLL_S = 0.02  # seconds between looks at a group that is being killed


PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux 3.4+): what escapes
    a job's group with setsid comes back to it once its parent exits (``Orphans``)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


class SpawnError(Exception):
    """The job's process could not be started; ``str()`` says why, for ``Outcome.error``."""


def command_of(job: Job) -> list[str]:
    """The argv to execute: ``job.argv``, or ``/bin/sh -c job.shell``."""
    if (job.argv is None) == (job.shell is None):
        raise SpawnError("a job needs exactly one of argv and shell")
    if job.shell is not None:
        return [SHELL, "-c", job.shell]
    argv = [str(arg) for arg in job.argv or ()]
    if not argv:
        raise SpawnError("argv is empty")
    return argv


class Child:
    """A started job process: its pid (= its process group id), output pipes and pidfd.

    ``pipe_fd`` is the read end of its stdout (and stderr, merged, unless it has its own
    ``err_fd``); -1 when the job writes to the terminal (``Stdio.TERMINAL``).
    """

    __slots__ = ("_pipes", "_popen", "err_fd", "pid", "pidfd", "pipe_fd", "stdin")

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        pipes: list[IO[bytes] | None],
        pidfd: int,
        stdin: StdinProbe | None = None,
    ) -> None:
        self.stdin = stdin
        self._popen = popen
        self._pipes = pipes  # [stdout, stderr]; None where there is none
        self.pid = popen.pid
        self.pipe_fd = -1 if pipes[0] is None else pipes[0].fileno()  # non-blocking
        self.err_fd = -1 if pipes[1] is None else pipes[1].fileno()
        self.pidfd = pidfd  # readable once the process has exited

    def reap(self) -> int:
        """Wait for the (exited) process; its exit code, or -N when signal N killed it."""
        return self._popen.wait()

    def close_pipe(self, fd: int | None = None) -> None:
        """Close the pipe whose descriptor is ``fd`` (every pipe without it)."""
        for index, pipe in enumerate(self._pipes):
            if pipe is not None and (fd is None or fd == (self.pipe_fd, self.err_fd)[index]):
                pipe.close()
                self._pipes[index] = None

    def close_pidfd(self) -> None:
        os.close(self.pidfd)


class StdinProbe:
    """A job's stdin, a pipe nobody writes to, whose write end uet holds for its first
    :data:`STDIN_PROBE_S` (then closes it: from then on a read gets end-of-file, as from
    /dev/null). A process of the job blocked reading that pipe meanwhile is seen
    (:meth:`read_seen`: its fd 0 is the pipe, a thread of it is in ``read(0, …)``), and the
    write end is closed at once, so it gets its end-of-file a moment later than from
    /dev/null. Whether the job read its closed stdin is then known: one that failed after
    it wanted input (``read x``, ``grep`` with nothing to read) is ``needs_input``; one
    that read it to the end and succeeded (``cat``, ``wc -l``) is not."""

    __slots__ = ("close_at", "inode", "read", "write_fd")

    def __init__(self, write_fd: int, inode: int) -> None:
        self.write_fd = write_fd
        self.inode = inode
        self.read = False
        self.close_at = time.monotonic() + STDIN_PROBE_S

    @property
    def open(self) -> bool:
        return self.write_fd >= 0

    def close(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def look(self, leader: int, now: float) -> None:
        """Close the pipe if its time is up, or if a process of the job reads it now."""
        if not self.open:
            return
        if now >= self.close_at:
            self.close()
        elif self.read_seen(leader):
            self.read = True
            self.close()

    def read_seen(self, leader: int) -> bool:
        """Whether ``leader`` or one of its descendants is blocked in ``read(0, …)`` on this
        pipe: the thread's current system call (``/proc/PID/task/TID/syscall``), not its
        wait channel, which says "pipe_read" for a read of any pipe."""
        wanted = f"pipe:[{self.inode}]"
        pending, seen = [leader], set()
        while pending:
            pid = pending.pop()
            if pid in seen:
                continue
            seen.add(pid)
            try:
                ours = os.readlink(f"/proc/{pid}/fd/0") == wanted
                for task in os.listdir(f"/proc/{pid}/task"):
                    if ours and _reads_stdin(f"/proc/{pid}/task/{task}/syscall"):
                        return True
                    with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as kids:
                        pending += [int(kid) for kid in kids.read().split()]
            except (OSError, ValueError):
                continue  # gone, or not ours to look at
        return False


_READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}.get(os.uname().machine)
"""The number of ``read`` on this machine; elsewhere no read is ever seen (as /dev/null)."""


def _reads_stdin(syscall_file: str) -> bool:
    """Whether the thread is in ``read`` on file descriptor 0 now."""
    if _READ_SYSCALL is None:
        return False
    with open(syscall_file, encoding="ascii") as file:
        fields = file.read().split()
    return len(fields) > 1 and fields[0] == _READ_SYSCALL and int(fields[1], 16) == 0


STDIN_PROBE_S = 0.5
"""How long a job's stdin pipe stays open for uet to see whether the job reads it."""
STDIN_LOOK_S = 0.02
"""How often the reactor looks, meanwhile."""

_STREAMS = {  # stdio -> (stdin, stdout, stderr, new session)
    Stdio.NULL: (subprocess.DEVNULL, subprocess.PIPE, subprocess.STDOUT, True),
    Stdio.PASSTHROUGH: (subprocess.DEVNULL, subprocess.PIPE, subprocess.PIPE, True),
    Stdio.TERMINAL: (None, None, None, False),
}


def spawn(job: Job) -> Child:
    """Start ``job`` leading a new session (so a new process group, no controlling terminal),
    stdin at end-of-file (a :class:`StdinProbe`, closed within 0.5 s: as /dev/null, but uet
    sees a read of it), stdout+stderr on one pipe (two with ``Stdio.PASSTHROUGH``; the
    terminal's own with ``Stdio.TERMINAL``, in uet's session and group).

    The environment is exactly ``job.env``; a program name without a slash is looked up on
    the job's ``PATH``; descriptors other than 0-2 are closed; SIGPIPE is reset to default.
    A pidfd (Linux 5.3+) tells the reactor when the process exits, without SIGCHLD. Raises
    :class:`SpawnError` with a message that names what could not be used (the program, the
    working directory).
    """
    argv = command_of(job)
    _stdin, _stdout, _stderr, session = _STREAMS[job.stdio]
    proc, probe = _popen(argv, job)
    pipes: list[IO[bytes] | None] = [proc.stdout, proc.stderr]
    for pipe in pipes:
        if pipe is not None:
            os.set_blocking(pipe.fileno(), False)
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError as exc:  # out of descriptors: a process we cannot watch must not run
        if session:
            signal_group(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()
        for pipe in pipes:
            if pipe is not None:
                pipe.close()
        if probe is not None:
            probe.close()
        raise SpawnError(f"{argv[0]!r} cannot be watched: {exc.strerror or exc}") from exc
    return Child(proc, pipes, pidfd, probe)


def _popen(argv: list[str], job: Job) -> tuple[subprocess.Popen[bytes], StdinProbe | None]:
    """The started process, and its stdin probe (a pipe instead of /dev/null)."""
    stdin, stdout, stderr, session = _STREAMS[job.stdio]
    probe = None
    if stdin == subprocess.DEVNULL:  # a pipe that ends soon, once uet had a look
        read_fd, write_fd = os.pipe()
        probe = StdinProbe(write_fd, os.fstat(read_fd).st_ino)
        stdin = read_fd
    try:
        proc = subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            cwd=job.cwd,
            env=job.env,  # the engine made it for this job
            start_new_session=session,
        )
    except OSError as exc:
        if probe is not None:
            probe.close()
        raise SpawnError(_describe(exc, argv[0], job)) from exc
    except (ValueError, subprocess.SubprocessError) as exc:  # NUL in an argument, bad env
        if probe is not None:
            probe.close()
        raise SpawnError(f"{argv[0]!r} cannot be run: {exc}") from exc
    finally:
        if probe is not None and stdin is not None:
            os.close(stdin)  # the child has its copy
    return proc, probe


def _describe(exc: OSError, program: str, job: Job) -> str:
    """Name the culprit: Popen reports a failed chdir with the cwd as the filename.

    The messages are what ``uet.state.reasons`` shows a user: ``cwd '…' does not exist``,
    ``'pytst' not found on PATH``, ``'x' cannot be run: Permission denied``.
    """
    reason = exc.strerror or str(exc)
    if exc.filename is not None and os.fsdecode(exc.filename) == os.fsdecode(job.cwd):
        cwd = os.fsdecode(job.cwd)
        if isinstance(exc, FileNotFoundError):
            return f"cwd {cwd!r} does not exist"
        if isinstance(exc, NotADirectoryError):
            return f"cwd {cwd!r} is not a directory"
        return f"cwd {cwd!r} cannot be used: {reason}"
    if isinstance(exc, FileNotFoundError):
        if os.sep not in program:
            return f"{program!r} not found on PATH"
        return f"{program!r} does not exist"
    return f"{program!r} cannot be run: {reason}"


def _live_processes() -> Iterator[tuple[int, int]]:
    """(pid, pgid) of every process that is not a zombie, read from /proc."""
    for entry in os.scandir("/proc"):
        name = entry.name
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # exited while we looked
            continue
        try:
            stat = os.read(fd, 512)
        except OSError:
            continue
        finally:
            os.close(fd)
        # "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split(b" ", 3)
        if len(fields) > 2 and fields[0] not in (b"Z", b"X"):
            yield int(name), int(fields[2])


def live_members(pgid: int) -> list[int]:
    """Pids of the processes of group ``pgid`` that are not zombies."""
    return [pid for pid, group in _live_processes() if group == pgid]


def live_groups() -> set[int]:
    """Every process group id with a live process: one /proc scan for many groups."""
    return {group for _, group in _live_processes()}


def group_alive(pgid: int) -> bool:
    """Whether group ``pgid`` has a live (non-zombie) process; cheap when it has none."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's group: alive, but never ours to judge
        return True
    return bool(live_members(pgid))


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to group ``pgid``; False when the group has no process left."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def _environ(pid: int) -> set[bytes] | None:
    """The ``NAME=value`` entries of a process's environment; None when gone or not ours."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as file:
            return set(file.read().split(b"\0"))
    except OSError:
        return None


def _environ_matches(pid: int, expect_env: Mapping[str, str]) -> bool:
    pairs = _environ(pid)
    wanted = {os.fsencode(f"{key}={value}") for key, value in expect_env.items()}
    return pairs is not None and wanted <= pairs


def environments_with(name: str, value: str) -> Iterator[tuple[int, set[bytes]]]:
    """(process group, environment entries) of every live process whose environment has
    ``name=value``: how a task process nobody recorded is found again."""
    marker = os.fsencode(f"{name}={value}")
    for pid, pgid in _live_processes():
        pairs = _environ(pid)
        if pairs is not None and marker in pairs:
            yield pgid, pairs


def _wait_until_dead(pgid: int, seconds: float) -> bool:
    """Wait up to ``seconds`` for the group to have no live process; True if it has none."""
    deadline = time.monotonic() + seconds
    while group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)
    return True


def kill_process_group(
    pgid: int, grace: float, *, expect_env: Mapping[str, str] | None = None
) -> bool:
    """Kill a stray process group (of a dead orchestrator): SIGTERM, wait ``grace`` s, SIGKILL.

    Returns whether anything of the group was alive. A group with no live process, a group of
    another user, our own group and pgid 0/1 are left alone. ``expect_env`` guards against a
    recycled number: when given, the group is only killed if one of its live processes has
    these variables (e.g. ``UET_RUN_ID``) in its environment. Blocks for at most ``grace``
    seconds plus a short wait for SIGKILL to take effect.
    """
    if pgid <= 1 or pgid == os.getpgrp():
        return False
    try:
        os.killpg(pgid, 0)  # cheap: no /proc scan for a group that is gone
    except (ProcessLookupError, PermissionError):  # gone, or another user's: not ours
        return False
    members = live_members(pgid)
    if not members:
        return False
    if expect_env and not any(_environ_matches(pid, expect_env) for pid in members):
        return False
    try:
        signal_group(pgid, signal.SIGTERM)
    except PermissionError:
        return False
    if not _wait_until_dead(pgid, grace):
        signal_group(pgid, signal.SIGKILL)
        _wait_until_dead(pgid, max(grace, 1.0))
    return True


MARKER_KEYS = ("UET_RUN_ID", "UET_TASK_ID", "UET_ATTEMPT")
"""The environment variables that tie a process to one attempt of one task of one run."""

Marker = tuple[str, str, str]


def attempt_marker(env: Mapping[str, str]) -> Marker | None:
    """The (run, task, attempt) a job's environment marks; None when it lacks one of them."""
    try:
        return (env[MARKER_KEYS[0]], env[MARKER_KEYS[1]], env[MARKER_KEYS[2]])
    except KeyError:
        return None


def _marker_of(pid: int) -> Marker | None:
    pairs = _environ(pid)
    if pairs is None:
        return None
    found: dict[str, str] = {}
    for entry in pairs:
        name, sep, value = entry.partition(b"=")
        key = name.decode("utf-8", "replace")
        if sep and key in MARKER_KEYS:
            found[key] = value.decode("utf-8", "replace")
    return attempt_marker(found)


def _children() -> set[int]:
    """Pids of this process's children (every thread's), from /proc/self/task/*/children."""
    pids: set[int] = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children", "rb") as file:
                pids.update(int(pid) for pid in file.read().split())
        except OSError:  # the thread ended while we looked
            continue
    return pids


def _state(pid: int) -> bytes | None:
    """The one-letter state of ``pid`` (b"Z" for a zombie); None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read(512)
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :][:1]


class Orphans:
    """What a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``) does with adopted children.

    A process that left its task's group (``setsid``) and outlived its parent is reparented
    to the subreaper. ``sweep`` looks at every child that is not a job's leader: zombies are
    reaped; a live one whose environment marks an attempt that is over is sent SIGTERM (its
    group too, if it leads one) and SIGKILL ``grace`` seconds later; one that marks a running
    attempt, or an attempt that keeps its background, is left alone. A child without a marker
    (it cleared its environment) is stopped too, unless some job kept its background: then
    it may be that job's daemon. Only the thread that spawns jobs may call ``sweep``: a
    leader it has not reaped yet must be in ``leaders``, or its exit status would be stolen.
    """

    def __init__(self, grace: float = 5.0) -> None:
        self.grace = grace
        self.watched: dict[int, float] = {}  # pid -> monotonic time of its SIGKILL
        self._kept: set[Marker] = set()

    @property
    def busy(self) -> bool:
        """Whether a periodic sweep has something to do (kill, or reap a kept daemon)."""
        return bool(self.watched or self._kept)

    def ended(self, job: Job) -> None:
        marker = attempt_marker(job.env)
        if job.keep_background and marker is not None:
            self._kept.add(marker)

    def sweep(self, leaders: set[int], running: set[Marker | None], now: float) -> None:
        for pid in _children() - leaders:
            state = _state(pid)
            if state is None or state in (b"Z", b"X"):
                self._reap(pid)
                continue
            if pid in self.watched:
                if now >= self.watched[pid]:
                    _signal(pid, signal.SIGKILL)
                    self.watched[pid] = now + self.grace
                continue
            marker = _marker_of(pid)
            if marker in self._kept or (marker is not None and marker in running):
                continue
            if marker is None and self._kept:
                continue
            _signal(pid, signal.SIGTERM)
            self.watched[pid] = now + self.grace

    def _reap(self, pid: int) -> None:
        self.watched.pop(pid, None)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def _signal(pid: int, signum: int) -> None:
    """Signal ``pid``, and its group when it leads one (an escapee that ran setsid)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
