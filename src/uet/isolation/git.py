"""The one way uet runs git: argv lists, clear errors, per-repository order, lock patience.

Every git command of uet goes through :class:`Git`::

    git = Git(Path("repo"))
    head = git.out("rev-parse", "HEAD")               # stdout, stripped; GitError if it fails
    git.run("commit", "-q", "-m", msg, "--", *paths)  # GitResult; check=False to inspect

* **argv, never a shell**: arguments reach git as they are; a path cannot become an option
  where git accepts ``--end-of-options`` or ``--``, and callers put them there.
* **A clean environment**: the ``GIT_DIR``/``GIT_WORK_TREE``/``GIT_INDEX_FILE`` family is
  removed (a hook that calls uet would otherwise aim every command at the hook's repository),
  messages are in English (``LC_ALL=C``, so lock messages can be recognised), git never
  prompts (``GIT_TERMINAL_PROMPT=0``, no editor) and skips optional locks.
* **One writer per repository**: commands that take a repository's locks (everything but the
  read-only plumbing in :data:`READ_ONLY`) are serialised per repository — a thread lock in
  this process and an ``flock`` on ``<git-dir>/uet-git.flock`` across uet processes. The
  kernel drops an ``flock`` with its process, so this lock can never go stale.
* **Patience with other people's locks**: when git reports a held lock (``index.lock``,
  ``refs/heads/x.lock``, ``config.lock``…), the command is retried with exponential backoff
  and jitter for up to ``lock_timeout`` seconds. uet never deletes a lock file: a lock that no
  live process holds and that is older than ``stale_after`` raises :class:`StaleLockError`
  (its path, age and what to do), anything else :class:`LockTimeoutError`.
"""

from __future__ import annotations

import fcntl
import os
import random
import re
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from uet.backoff import compute_backoff
from uet.errors import ExitCode, UetError

GIT_LOCK_TIMEOUT_S = 30.0
"""Seconds a git command keeps retrying while another process holds one of its locks."""

GIT_STALE_LOCK_S = 60.0
"""Seconds after which a lock file that no live process holds is reported as stale."""

FLOCK_NAME = "uet-git.flock"
"""File in a repository's git directory that serialises uet's writers across processes."""

READ_ONLY = frozenset(
    {
        "blame",
        "cat-file",
        "check-ignore",
        "diff",
        "diff-tree",
        "for-each-ref",
        "hash-object",
        "log",
        "ls-files",
        "ls-remote",
        "ls-tree",
        "merge-base",
        "name-rev",
        "rev-list",
        "rev-parse",
        "show",
        "show-ref",
        "status",
        "symbolic-ref",
        "var",
        "version",
    }
)
"""Subcommands that take no repository lock (``status`` with optional locks off): never
serialised. ``symbolic-ref`` writes when given two arguments; uet only reads with it."""

NEW_REPOSITORY = frozenset({"clone", "init"})
"""Subcommands that make a new repository: not serialised on the one they run in."""

_SCRUBBED = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
)

_LOCK_HELD = re.compile(
    r"Unable to create '(?P<path>[^']+\.lock)': File exists"
    r"|could not lock config file (?P<config>\S+): File exists"
)


class GitError(UetError):
    """A git command failed: carries the command, where it ran, its exit code and stderr."""

    exit_code = ExitCode.INFRA

    def __init__(self, argv: Sequence[str], cwd: Path, returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.cwd = cwd
        self.returncode = returncode
        self.stderr = stderr.strip()
        command = " ".join(self.argv)
        detail = self.stderr.splitlines()[0] if self.stderr else "no message"
        super().__init__(f"`{command}` failed in {cwd} (exit {returncode}): {detail}")


class LockTimeoutError(GitError):
    """Another process held a lock of the repository for longer than the timeout."""

    def __init__(self, result: GitResult, lock: Path, waited: float) -> None:
        self.lock = lock
        self.waited = waited
        super().__init__(result.argv, result.cwd, result.returncode, result.stderr)
        self.args = (
            f"`{' '.join(result.argv)}` in {result.cwd}: {lock} was held by another process "
            f"for {waited:.1f} s; nothing was changed. Retry when that process has finished.",
        )


class StaleLockError(GitError):
    """A lock file that no live process holds, left by a git that crashed.

    uet never removes it (a process it cannot see may hold it): the message says how.
    """

    def __init__(self, result: GitResult, lock: Path, age: float) -> None:
        self.lock = lock
        self.age = age
        super().__init__(result.argv, result.cwd, result.returncode, result.stderr)
        self.args = (
            f"stale git lock {lock}: {age:.0f} s old and no running process holds it "
            f"(a git crashed while holding it). uet does not delete lock files: check that "
            f"no git runs in {result.cwd}, then remove it (rm {lock}); for an agent clone, "
            f"`uet agents recycle` replaces the clone instead.",
        )


@dataclass(frozen=True, slots=True)
class GitResult:
    argv: list[str]
    cwd: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def without_git_redirections(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) without the variables that aim git at another
    repository (``GIT_DIR``…): for git, and for commands run in a clone (a hook that starts
    uet exports them)."""
    return {k: v for k, v in (os.environ if base is None else base).items() if k not in _SCRUBBED}


def git_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment git runs with: ``base`` (default os.environ) without repository
    redirections, in English, never prompting, without optional locks, and with paths taken
    literally (uet names the exact paths it means)."""
    env = without_git_redirections(base)
    env.update(
        LC_ALL="C",
        LANGUAGE="C",
        GIT_TERMINAL_PROMPT="0",
        GIT_EDITOR="true",
        GIT_SEQUENCE_EDITOR="true",
        GIT_MERGE_AUTOEDIT="no",
        GIT_OPTIONAL_LOCKS="0",
        GIT_LITERAL_PATHSPECS="1",  # a file named ":(glob)*" is that file, not every file
    )
    return env


class _RepoLocks:
    """One thread lock per git directory, for the life of the process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}

    def get(self, key: str) -> threading.RLock:
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.RLock()
            return lock


_REPO_LOCKS = _RepoLocks()


class Git:
    """Runs git in one repository (``cwd``); see the module docstring for the guarantees."""

    def __init__(
        self,
        cwd: Path,
        *,
        env: Mapping[str, str] | None = None,
        lock_timeout: float = GIT_LOCK_TIMEOUT_S,
        stale_after: float = GIT_STALE_LOCK_S,
        rng: random.Random | None = None,
        shielded: bool = False,
    ) -> None:
        self.cwd = Path(cwd).absolute()
        # shielded: each git runs in a session of its own, out of reach of a signal to our
        # process group (a task timeout): for the steps that must finish once begun.
        self.shielded = shielded
        self.env = git_environment(env)
        self.lock_timeout = lock_timeout
        self.stale_after = stale_after
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._git_dir: Path | None = None

    # -- running ----------------------------------------------------------------------------

    def run(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> GitResult:
        """Run ``git ARGS`` here; raises :class:`GitError` on failure when ``check``."""
        argv = ["git", *args]
        subcommand = _subcommand(args)
        if subcommand in READ_ONLY:
            result = self._once(argv, input, env, timeout)
        elif subcommand in NEW_REPOSITORY:  # makes a repository: holds none of this one's locks
            result = self._patiently(argv, input, env, timeout)
        else:
            with self._serialised():
                result = self._patiently(argv, input, env, timeout)
        if check and not result.ok:
            raise GitError(result.argv, result.cwd, result.returncode, result.stderr)
        return result

    def out(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """stdout of ``git ARGS``, without its trailing newline; GitError when it fails."""
        return self.run(*args, env=env).stdout.rstrip("\n")

    def ok(self, *args: str) -> bool:
        """Whether ``git ARGS`` exits 0 (for predicates: ``merge-base --is-ancestor``…)."""
        return self.run(*args, check=False).ok

    def _once(
        self,
        argv: list[str],
        input: str | None,
        env: Mapping[str, str] | None,
        timeout: float | None,
    ) -> GitResult:
        merged = self.env if env is None else {**self.env, **env}
        try:
            done = subprocess.run(  # argv list, never a shell
                argv,
                cwd=self.cwd,
                env=merged,
                input=input,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="surrogateescape",
                timeout=timeout,
                check=False,
                stdin=None if input is not None else subprocess.DEVNULL,
                start_new_session=self.shielded,
            )
        except FileNotFoundError as exc:
            if not self.cwd.is_dir():
                raise GitError(argv, self.cwd, -1, f"no such directory: {self.cwd}") from exc
            raise GitError(argv, self.cwd, -1, "git is not installed (not on PATH)") from exc
        except subprocess.TimeoutExpired as exc:
            raise GitError(argv, self.cwd, -1, f"timed out after {timeout} s") from exc
        return GitResult(argv, self.cwd, done.returncode, done.stdout, done.stderr)

    def _patiently(
        self,
        argv: list[str],
        input: str | None,
        env: Mapping[str, str] | None,
        timeout: float | None,
    ) -> GitResult:
        """Run, retrying while another process holds one of the repository's locks."""
        started = time.monotonic()
        retry = 0
        while True:
            result = self._once(argv, input, env, timeout)
            lock = None if result.ok else held_lock(result.stderr, self.cwd)
            if lock is None:
                return result
            waited = time.monotonic() - started
            age = lock_age(lock)
            if age is not None and age >= self.stale_after and not lock_in_use(lock, self.cwd):
                raise StaleLockError(result, lock, age)
            if waited >= self.lock_timeout:
                raise LockTimeoutError(result, lock, waited)
            retry += 1
            delay = compute_backoff(
                retry, base=0.02, factor=2.0, cap=1.0, jitter=0.3, rng=self._rng
            )
            time.sleep(min(delay, max(0.0, self.lock_timeout - waited) + 0.01))

    # -- serialisation ------------------------------------------------------------------------

    @property
    def git_dir(self) -> Path:
        """The repository's common git directory (shared by its worktrees), absolute."""
        if self._git_dir is None:
            plain = self.cwd / ".git"
            if plain.is_dir() and (plain / "HEAD").is_file():  # the usual case: no spawn
                self._git_dir = plain
                return plain
            found = self._once(
                ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
                None,
                None,
                None,
            )
            if not found.ok:
                raise GitError(found.argv, found.cwd, found.returncode, found.stderr)
            self._git_dir = Path(found.stdout.strip())
        return self._git_dir

    @contextmanager
    def _serialised(self) -> Iterator[None]:
        try:
            git_dir = self.git_dir
        except GitError:  # not a repository (yet): init, clone, or an error git will report
            yield
            return
        with _REPO_LOCKS.get(str(git_dir)), _flock(git_dir / FLOCK_NAME):
            yield


@contextmanager
def _flock(path: Path) -> Iterator[None]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:  # a read-only repository: nothing of ours can write there either
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _subcommand(args: Sequence[str]) -> str:
    """The git subcommand among ``args`` (skipping ``-c k=v``, ``-C dir`` and flags)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-c", "-C"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return ""


def held_lock(stderr: str, cwd: Path) -> Path | None:
    """The lock file git says another process holds, from its stderr; None if none."""
    found = _LOCK_HELD.search(stderr)
    if found is None:
        return None
    raw = found.group("path") or found.group("config")
    path = Path(raw)
    if not raw.endswith(".lock"):  # "could not lock config file .git/config"
        path = path.with_name(path.name + ".lock")
    return path if path.is_absolute() else cwd / path


def lock_age(lock: Path) -> float | None:
    """Seconds since the lock file was last changed; None when it is gone."""
    try:
        return max(0.0, time.time() - lock.stat().st_mtime)
    except OSError:
        return None


def lock_in_use(lock: Path, repo: Path) -> bool:
    """Whether a live process may hold ``lock``: one has it open, or a git process works in
    ``repo``. When a process cannot be inspected (another user's), it counts as holding it."""
    target = os.path.realpath(lock)
    roots = {os.path.realpath(repo), os.path.realpath(_repo_top(lock))}
    with os.scandir("/proc") as processes:
        pids = [int(e.name) for e in processes if e.name.isdigit()]
    me = os.getpid()
    return any(_holds(f"/proc/{pid}", target, roots) for pid in pids if pid != me)


def _holds(proc: str, target: str, roots: set[str]) -> bool:
    """Whether process ``proc`` has ``target`` open or is a git working in ``roots``.

    A process that cannot be inspected (another user's) counts as holding the lock when it
    is a git: counting every such process would make every lock look held to a non-root
    user (init and system daemons are never readable).
    """
    comm = ""
    try:
        with open(f"{proc}/comm", encoding="utf-8", errors="replace") as file:
            comm = file.read().strip()
        if comm.startswith("git") and _inside(os.readlink(f"{proc}/cwd"), roots):
            return True
        with os.scandir(f"{proc}/fd") as fds:
            return any(os.readlink(fd.path) == target for fd in fds)
    except FileNotFoundError:  # it exited while we looked
        return False
    except PermissionError:
        return comm.startswith("git")
    except OSError:
        return False


def _repo_top(lock: Path) -> Path:
    """The working tree (or bare repository) a lock file in a ``.git`` directory belongs to."""
    for parent in lock.parents:
        if parent.name == ".git":
            return parent.parent
    return lock.parent


def _inside(path: str, roots: set[str]) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def lock_files(git_dir: Path) -> list[Path]:
    """Every ``*.lock`` file git may have left in ``git_dir`` (index, HEAD, refs, config…)."""
    found = [
        path
        for name in ("index.lock", "HEAD.lock", "config.lock", "packed-refs.lock", "shallow.lock")
        if (path := git_dir / name).exists()
    ]
    refs = git_dir / "refs"
    if refs.is_dir():
        found.extend(sorted(refs.rglob("*.lock")))
    worktrees = git_dir / "worktrees"
    if worktrees.is_dir():
        found.extend(sorted(worktrees.glob("*/index.lock")))
        found.extend(sorted(worktrees.glob("*/HEAD.lock")))
    return found
