"""Fixtures for tool profiles: the in-process CLI, and fake binaries on PATH."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Result, Uet, project, uet

__all__ = ["Result", "Uet", "fake_binary", "project", "uet"]

FakeBinary = Callable[..., Path]


@pytest.fixture
def fake_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeBinary:
    """``fake_binary(name, script)`` writes an executable shell script into a folder that
    is put first on PATH, and returns its path."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")

    def make(name: str, body: str) -> Path:
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        path.chmod(0o755)
        return path

    return make
