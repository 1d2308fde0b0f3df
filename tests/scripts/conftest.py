"""A project folder with a script registry, and the real ``uet`` command line run in it."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result, Uet, project
from uet.cli import main

__all__ = ["CORPUS", "Result", "Uet", "Write", "project", "uet"]

CORPUS = Path(__file__).parents[2] / "examples" / "scripts"
"""The example registry (config/scripts.yaml) and its CI workstream."""

Write = Callable[[str, str], Path]


@pytest.fixture
def uet(project: Path, capfd: pytest.CaptureFixture[str]) -> Uet:
    """``uet(*args)``: the command line in the project, its code and what reached the file
    descriptors 1 and 2 (a script's output is passed through byte for byte, not by click)."""

    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capfd.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def write(project: Path) -> Write:
    """``write("config/scripts.yaml", text)``: a file of the project (text dedented)."""

    def make(relative: str, text: str) -> Path:
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return make


@pytest.fixture
def corpus(project: Path) -> Path:
    """The project holds the example registry and workstream."""
    shutil.copytree(CORPUS, project, dirs_exist_ok=True)
    return project
