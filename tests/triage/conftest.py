"""The real ``uet`` command line run in a project folder (as tests/scripts does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Result, Uet, project
from uet.cli import main

__all__ = ["Result", "Uet", "project", "uet"]


@pytest.fixture
def uet(project: Path, capfd: pytest.CaptureFixture[str]) -> Uet:
    """``uet(*args)``: its code and what reached fds 1 and 2 (pytest's own output passes
    through byte for byte, not through click)."""

    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capfd.readouterr()
        return Result(code, captured.out, captured.err)

    return run
