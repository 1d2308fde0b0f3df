"""uet.testing's public surface: complete, cheap to import, and event capture on a real bus."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import uet.testing
from tests.layers import CORE_MODULES
from uet.events.bus import EventBus
from uet.state.store import Store
from uet.testing import capture_events, write_script


def test_every_name_in_all_resolves() -> None:
    """Each exported name can be fetched (the imports are lazy)."""
    for name in uet.testing.__all__:
        assert getattr(uet.testing, name) is not None, name


def test_the_fake_agent_starts_without_pydantic_or_sqlalchemy() -> None:
    """`python -m uet.testing.fake_agent` stays light: it is started once per agent call."""
    code = (
        "import runpy, sys; sys.argv = ['x', '--version']\n"
        "try:\n    runpy.run_module('uet.testing.fake_agent', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('pydantic', 'sqlalchemy', 'yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("[]")


def test_tool_profiles_import_only_core_modules() -> None:
    """DESIGN.md's layering: uet.spec.tools, like spec/, imports only core modules."""
    code = (
        "import sys, uet.spec.tools\n"
        "print(sorted(m for m in sys.modules if m.startswith('uet.') and "
        "not m.startswith('uet.spec')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    allowed = CORE_MODULES
    assert set(eval(out.stdout)) <= allowed  # noqa: S307 - our own subprocess's repr of a list


def test_capture_events_collects_matching_committed_events(tmp_path: Path) -> None:
    """The list fills with events of the matching types once they are written."""
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with EventBus(store) as bus:
            tasks = capture_events(bus, "task.*")
            everything = capture_events(bus)
            bus.emit("run.started", run_id="r1")
            bus.emit("task.started", {"n": 1}, run_id="r1", task_id="t")
            bus.emit("task.completed", {"n": 2}, run_id="r1", task_id="t")
            bus.flush(timeout=10)
            assert [e.type for e in tasks] == ["task.started", "task.completed"]
            assert [e.type for e in everything] == ["run.started", "task.started", "task.completed"]
            assert tasks[0].payload == {"n": 1}
    finally:
        store.close()


def test_write_script_needs_steps_or_calls(tmp_path: Path) -> None:
    """One of the two forms, not both, not neither."""
    with pytest.raises(ValueError, match="either steps or calls"):
        write_script(tmp_path / "a.json")
    with pytest.raises(ValueError, match="either steps or calls"):
        write_script(tmp_path / "a.json", [], calls=[[]])
