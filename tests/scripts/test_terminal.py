"""On a real terminal (a pseudo-terminal driven by pexpect), a `confirm:` script asks once;
`--yes` skips the question; an `interactive:` script is not refused."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from tests.scripts.conftest import Write

REGISTRY = """
clean:
  run: rm -rf build && echo cleaned
  confirm: "Remove build/?"
ask:
  run: "true"
  interactive: true
"""


def _spawn(project: Path, *args: str) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("UET_")}
    return pexpect.spawn(
        sys.executable,
        ["-m", "uet", "scripts", "run", *args],
        cwd=str(project),
        env=env,
        encoding="utf-8",
        timeout=30,
    )


@pytest.fixture
def registry(write: Write, project: Path) -> Path:
    (project / "build").mkdir()
    return write("config/scripts.yaml", REGISTRY)


@pytest.mark.slow
def test_on_a_terminal_a_confirm_script_asks_and_no_runs_nothing(
    registry: Path, project: Path
) -> None:
    child = _spawn(project, "clean")
    child.expect_exact("Remove build/? [y/N]: ")
    child.sendline("n")
    child.expect_exact("uet: script 'clean' not confirmed: nothing ran")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert (project / "build").is_dir()
    assert not (project / ".uet" / "state.db").exists()


@pytest.mark.slow
def test_on_a_terminal_yes_runs_it(registry: Path, project: Path) -> None:
    child = _spawn(project, "clean")
    child.expect_exact("Remove build/? [y/N]: ")
    child.sendline("y")
    child.expect_exact("cleaned")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert not (project / "build").exists()


@pytest.mark.slow
def test_on_a_terminal_yes_flag_asks_nothing_and_interactive_scripts_run(
    registry: Path, project: Path
) -> None:
    child = _spawn(project, "clean", "--yes")
    index = child.expect_exact(["Remove build/?", "cleaned"])
    assert index == 1  # no question first
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    child = _spawn(project, "ask")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
