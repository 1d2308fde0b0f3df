"""Process-group helpers the engine uses on the groups of a dead orchestrator."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.execution.conftest import alive_in_group, wait_for
from uet.execution import group_alive, kill_process_group, live_members

FAMILY = "sleep 1000 & sleep 1000 & wait"


@pytest.fixture
def stray() -> Iterator[subprocess.Popen[bytes]]:
    """A process group like one a dead orchestrator left: a shell and two grandchildren."""
    proc = subprocess.Popen(
        ["/bin/sh", "-c", FAMILY], process_group=0, env={"STRAY_MARK": "yes", "PATH": os.defpath}
    )
    wait_for(lambda: len(live_members(proc.pid)) == 3, "the stray group to start")
    yield proc
    if alive_in_group(proc.pid):
        os.killpg(proc.pid, 9)
    proc.wait()


def test_kills_a_stray_group_with_its_grandchildren(stray: subprocess.Popen[bytes]) -> None:
    assert kill_process_group(stray.pid, grace=5.0) is True
    assert not alive_in_group(stray.pid)
    assert stray.wait() == -15


def test_sigkill_follows_when_sigterm_is_ignored() -> None:
    proc = subprocess.Popen(["/bin/sh", "-c", f"trap '' TERM; {FAMILY}"], process_group=0)
    wait_for(lambda: len(live_members(proc.pid)) == 3, "the group to start")
    assert kill_process_group(proc.pid, grace=0.2) is True
    assert not alive_in_group(proc.pid)
    assert proc.wait() == -9


def test_a_group_with_nothing_alive_is_left_alone() -> None:
    """No process, or only zombies (``kill(-pgid, 0)`` still succeeds on those): False."""
    proc = subprocess.Popen(["true"], process_group=0)
    wait_for(lambda: not live_members(proc.pid), "the process to exit")
    os.killpg(proc.pid, 0)  # the unreaped zombie still counts for the kernel
    assert group_alive(proc.pid) is False
    assert kill_process_group(proc.pid, grace=1.0) is False
    proc.wait()
    assert kill_process_group(proc.pid, grace=1.0) is False


def test_never_signals_our_own_group_or_init() -> None:
    assert kill_process_group(os.getpgrp(), grace=0.1) is False
    assert kill_process_group(1, grace=0.1) is False
    assert kill_process_group(0, grace=0.1) is False


def test_expect_env_guards_against_a_recycled_group_id(stray: subprocess.Popen[bytes]) -> None:
    assert kill_process_group(stray.pid, 1.0, expect_env={"STRAY_MARK": "no"}) is False
    assert group_alive(stray.pid)
    assert kill_process_group(stray.pid, 1.0, expect_env={"STRAY_MARK": "yes"}) is True
    assert not alive_in_group(stray.pid)
