"""Run the real ``uet`` entry point in-process, in a project folder of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from uet.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


Uet = Callable[..., Result]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder, made the working directory."""
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def uet(project: Path, capsys: pytest.CaptureFixture[str]) -> Uet:
    """``uet(*args)`` runs the command line in the project and returns code, stdout, stderr."""

    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
