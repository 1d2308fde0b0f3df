"""Real git repositories for tests: made with plain git, never through the code under test."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

DEFAULT_FILES = {
    "README.md": "# sample\n",
    "src/app/io.py": "def read():\n    return 1\n",
    "src/app/core.py": "VALUE = 1\n",
    "tests/test_io.py": "def test_read():\n    assert True\n",
}


def git(repo: Path, *args: str, check: bool = True) -> str:
    """stdout of ``git -C repo ARGS`` (stripped)."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def make_repo(path: Path, files: Mapping[str, str] = DEFAULT_FILES) -> Path:
    """A repository at ``path`` with ``files`` committed on ``main``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    write(path, files)
    git(path, "add", "--", *files)
    git(path, "commit", "--quiet", "-m", "initial")
    return path


def write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def commit(repo: Path, files: Mapping[str, str], message: str) -> str:
    """Write ``files`` and commit them (plain git); returns the new commit."""
    write(repo, files)
    git(repo, "add", "--", *files)
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")
