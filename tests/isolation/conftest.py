"""Fixtures for the isolation tests: a git that ignores the machine's configuration, and a
small real repository to work on."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def git_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """git reads a fresh global config (identity, default branch) and no system config, so
    no test depends on the developer's git setup; returns that config file."""
    config = tmp_path_factory.mktemp("git-home") / "gitconfig"
    config.write_text(
        "[user]\n\tname = uet test\n\temail = test@uet.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
        "[advice]\n\tdetachedHead = false\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_AUTHOR_DATE"):
        monkeypatch.delenv(name, raising=False)
    return config


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository on ``main`` with two commits: README.md, src/app/{core,io}.py,
    docs/guide.md; ``.uet/`` is ignored (agent clones live in ``.uet/agents/<id>``)."""
    path = tmp_path / "repo"
    path.mkdir()
    files = {
        "README.md": "# demo\n",
        "src/app/core.py": "CORE = 1\n",
        "src/app/io.py": "IO = 1\n",
        "docs/guide.md": "guide\n",
        ".uet/.gitignore": "*\n",
    }
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    for argv in (
        ["init", "--quiet", "--initial-branch=main"],
        ["add", "README.md", "src", "docs"],
        ["commit", "--quiet", "-m", "initial"],
    ):
        subprocess.run(["git", *argv], cwd=path, check=True, capture_output=True)
    (path / "docs" / "guide.md").write_text("guide, second edition\n", encoding="utf-8")
    subprocess.run(
        ["git", "commit", "--quiet", "-am", "second"], cwd=path, check=True, capture_output=True
    )
    return path
