"""The git runner against real repositories: errors, environment, locks held and stale."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.isolation.gitrepo import git, make_repo, write
from uet.errors import ExitCode
from uet.isolation.git import (
    Git,
    GitError,
    LockTimeoutError,
    StaleLockError,
    held_lock,
    lock_in_use,
)

HOLD_LOCK = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
os.close(fd)
if sys.argv[3] == "release":
    os.unlink(sys.argv[1])
"""


@contextmanager
def _hold(lock: Path, seconds: float, *, release: bool = True) -> Iterator[None]:
    """A process that creates ``lock`` like git does, keeps it open, then (maybe) removes it;
    killed when the block ends."""
    argv = [sys.executable, "-c", HOLD_LOCK, str(lock), str(seconds)]
    with subprocess.Popen(
        [*argv, "release" if release else "keep"], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        try:
            yield
        finally:
            proc.kill()


def test_a_failed_command_names_itself_its_directory_and_git_s_message(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with pytest.raises(GitError) as caught:
        Git(repo).run("checkout", "no-such-branch")
    error = caught.value
    assert error.exit_code == ExitCode.INFRA
    assert error.argv == ["git", "checkout", "no-such-branch"]
    assert "no-such-branch" in error.stderr
    assert str(repo) in str(error)
    assert Git(repo).run("checkout", "no-such-branch", check=False).returncode != 0


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="no such directory"):
        Git(tmp_path / "gone").run("status")


def test_inherited_git_dir_does_not_redirect_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hook exports GIT_DIR and GIT_INDEX_FILE; commands uet runs from it must still aim at
    the repository they were given."""
    repo = make_repo(tmp_path / "repo")
    other = make_repo(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    assert Git(repo).out("rev-parse", "--show-toplevel") == str(repo)


def test_a_held_index_lock_is_waited_out_and_the_index_stays_sound(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    write(repo, {"new.txt": "new\n"})
    with _hold(repo / ".git" / "index.lock", 1.0):
        started = time.monotonic()
        Git(repo, lock_timeout=20).run("add", "--", "new.txt")
        waited = time.monotonic() - started
    assert waited >= 0.5  # it really met the lock, and waited rather than failing
    assert git(repo, "diff", "--cached", "--name-only") == "new.txt"
    git(repo, "fsck", "--strict", "--no-dangling")
    assert not (repo / ".git" / "index.lock").exists()


def test_a_stale_lock_is_reported_with_its_age_and_never_deleted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    two_hours_ago = time.time() - 7200
    os.utime(lock, (two_hours_ago, two_hours_ago))
    write(repo, {"new.txt": "new\n"})
    started = time.monotonic()
    with pytest.raises(StaleLockError) as caught:
        Git(repo, lock_timeout=30, stale_after=60).run("add", "--", "new.txt")
    assert time.monotonic() - started < 5  # reported at once, not after the timeout
    assert caught.value.lock == lock
    assert caught.value.age > 7000
    assert "rm " in str(caught.value)
    assert str(lock) in str(caught.value)
    assert lock.exists()


def test_an_old_lock_that_a_live_process_holds_is_not_stale_and_not_deleted(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    lock = repo / ".git" / "index.lock"
    write(repo, {"new.txt": "new\n"})
    with _hold(lock, 60, release=False):
        two_hours_ago = time.time() - 7200
        os.utime(lock, (two_hours_ago, two_hours_ago))
        assert lock_in_use(lock, repo)
        with pytest.raises(LockTimeoutError) as caught:
            Git(repo, lock_timeout=1.0, stale_after=60).run("add", "--", "new.txt")
        assert not isinstance(caught.value, StaleLockError)
        assert "held by another process" in str(caught.value)
        assert lock.exists()
    time.sleep(0.2)  # the holder is killed: nobody holds it now
    assert not lock_in_use(lock, repo)
    assert lock.exists()


def test_writers_in_one_repository_from_many_threads_never_fail(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        runner = Git(repo)
        try:
            for n in range(5):
                name = f"w{worker}-{n}.txt"
                write(repo, {name: f"{worker} {n}\n"})
                runner.run("add", "--", name)
                runner.run("commit", "--quiet", "-m", name, "--", name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert git(repo, "rev-list", "--count", "HEAD") == "31"
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            "fatal: Unable to create '/r/.git/index.lock': File exists.\n\nAnother git process",
            "/r/.git/index.lock",
        ),
        (
            "error: cannot lock ref 'refs/heads/main': Unable to create "
            "'/r/.git/refs/heads/main.lock': File exists.",
            "/r/.git/refs/heads/main.lock",
        ),
        ("error: could not lock config file .git/config: File exists", "/w/.git/config.lock"),
        ("fatal: not a git repository", None),
    ],
)
def test_lock_messages_are_recognised(stderr: str, expected: str | None) -> None:
    found = held_lock(stderr, Path("/w"))
    assert (str(found) if found else None) == expected
