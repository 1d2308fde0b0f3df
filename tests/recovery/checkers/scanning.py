"""Helpers of the scan tests: a project in a git repository, ``uet`` run in-process."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from uet.cli import main

SCHEMA = Path(__file__).parent / "fixtures" / "sarif-schema-2.1.0.json"


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def make_project(root: Path, files: dict[str, str], *, toml: str = "") -> Path:
    """``root`` as a uet project (uet.toml, ruff.toml) in a git repository with ``files``
    committed."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "uet.toml").write_text(toml, encoding="utf-8")
    (root / ".gitignore").write_text(".uet/\n__pycache__/\n", encoding="utf-8")
    # ruff's defaults change between releases: the tests pin the rules they expect
    (root / "ruff.toml").write_text('[lint]\nselect = ["F"]\n', encoding="utf-8")
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def run_uet(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    """The real ``uet`` entry point, in the current folder."""
    code = main(list(args))
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def validate_sarif(document: dict[str, Any]) -> None:
    """Raise jsonschema's ValidationError unless ``document`` is valid SARIF 2.1.0."""
    import jsonschema  # noqa: PLC0415 - only the tests that check SARIF need it

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(document)
