"""The tool-attempt contract: one typed, versioned model written by the engine and read by
the agent runner; a file the runner cannot read is one clear line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

from uet.spec.attempt import ATTEMPT_VERSION, ToolAttempt
from uet.spec.models import FixLoop
from uet.spec.tools import BUILTIN_TOOLS


def _attempt(tmp_path: Path) -> ToolAttempt:
    return ToolAttempt(
        run_id="r1",
        task="ws/t1",
        attempt=2,
        tool="shell",
        profile=BUILTIN_TOOLS["shell"],
        prompt="echo hi",
        files_scope=("src/**",),
        acceptance=("pytest -q",),
        acceptance_instructions=("All tests pass",),
        fix_loop=FixLoop(max_attempts=3, max_error_repeats=2),
        protected_paths=("uet.toml",),
        previous_error="boom",
        root=tmp_path,
        home=tmp_path / ".uet",
        db="sqlite:///x.db",
    )


def test_an_attempt_survives_a_json_round_trip_unchanged(tmp_path: Path) -> None:
    attempt = _attempt(tmp_path)
    path = attempt.write(tmp_path / "a.json")
    assert json.loads(path.read_text())["version"] == ATTEMPT_VERSION
    assert ToolAttempt.read(path) == attempt
    assert ToolAttempt.from_json(attempt.to_json()).max_tries == 3
    assert not path.with_suffix(".tmp").exists()


def test_another_version_or_an_unknown_field_is_refused(tmp_path: Path) -> None:
    data = json.loads(_attempt(tmp_path).to_json())
    with pytest.raises(pydantic.ValidationError, match="contract version 99"):
        ToolAttempt.model_validate({**data, "version": 99})
    with pytest.raises(pydantic.ValidationError, match="extra"):
        ToolAttempt.model_validate({**data, "surprise": 1})


def test_the_runner_refuses_a_file_it_cannot_read_in_one_line_with_exit_2(
    tmp_path: Path,
) -> None:
    data = json.loads(_attempt(tmp_path).to_json())
    path = tmp_path / "old.json"
    path.write_text(json.dumps({**data, "version": 0}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "uet.agents.runner", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout.count("\n") == 1
    assert "not a tool attempt uet can run" in done.stdout
    assert "contract version 0" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_the_runner_imports_nothing_of_the_engine() -> None:
    """DESIGN.md's layering: agents/ sits below engine/; the contract is what they share."""
    code = (
        "import sys, uet.agents.runner\n"
        "print(sorted(m for m in sys.modules if m.startswith(('uet.engine', 'uet.cli'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
