"""Availability: real executables on PATH, real version commands, minimum versions."""

from __future__ import annotations

import time

import pytest

from tests.tools.conftest import FakeBinary
from uet.spec.tools import ToolProfile, check_tool, check_tools, parse_version


def _profile(binary: str = "mytool", **check: object) -> ToolProfile:
    return ToolProfile.model_validate(
        {"name": "mine", "argv": [binary, "{prompt}"], "check": check}
    )


def test_a_tool_on_path_with_a_version_is_usable(fake_binary: FakeBinary) -> None:
    """The binary is found, its --version output is parsed."""
    path = fake_binary("mytool", 'echo "mytool version 2.10.3 (build abc)"')
    status = check_tool(_profile(min_version="2.9"))
    assert status.usable
    assert status.binary_path == str(path)
    assert status.version == "2.10.3"  # compared as numbers: 2.10 > 2.9
    assert status.problem is None


def test_a_missing_binary_is_unusable(fake_binary: FakeBinary) -> None:
    """Not on PATH: unusable, and the problem says so."""
    status = check_tool(_profile("not-installed-anywhere"))
    assert not status.usable
    assert status.binary_path is None
    assert "not found on PATH" in (status.problem or "")


def test_a_version_below_the_minimum_is_unusable(fake_binary: FakeBinary) -> None:
    """min_version is compared with the first dotted number of the output."""
    fake_binary("mytool", "echo 1.4.0")
    status = check_tool(_profile(min_version="1.10"))
    assert not status.usable
    assert status.version == "1.4.0"
    assert status.problem == "version 1.4.0 < 1.10"


def test_a_failing_version_command_is_unusable(fake_binary: FakeBinary) -> None:
    """A version command that exits non-zero says why, with its first line of output."""
    fake_binary("mytool", 'echo "license expired" >&2; exit 3')
    status = check_tool(_profile())
    assert not status.usable
    assert status.problem == "`mytool --version` exited 3: license expired"


def test_an_unreadable_version_is_fine_without_a_minimum(fake_binary: FakeBinary) -> None:
    """Without min_version any answer will do; with one, an unreadable version is a problem."""
    fake_binary("mytool", "echo nightly")
    assert check_tool(_profile()).usable
    assert check_tool(_profile()).version == "nightly"
    status = check_tool(_profile(min_version="1"))
    assert not status.usable
    assert "cannot read a version" in (status.problem or "")


def test_a_hanging_version_command_is_killed_with_its_children(fake_binary: FakeBinary) -> None:
    """The version command and anything it started are killed after check.timeout."""
    fake_binary("mytool", "sleep 30 & sleep 30")  # a child holding the pipe open too
    started = time.monotonic()
    status = check_tool(_profile(timeout=0.5))
    assert time.monotonic() - started < 5
    assert not status.usable
    assert "did not answer within 0.5 s" in (status.problem or "")


def test_no_version_args_means_no_version_check(fake_binary: FakeBinary) -> None:
    """version_args null: being on PATH is enough (the shell profile)."""
    fake_binary("mytool", "exit 1")
    assert check_tool(_profile(version_args=None)).usable


def test_the_version_command_gets_no_stdin_and_the_profile_env(
    fake_binary: FakeBinary,
) -> None:
    """stdin is /dev/null (a read ends at once) and the profile's env is set."""
    fake_binary("mytool", 'read line; echo "v$TOOL_V-${line:-none}"')
    profile = ToolProfile.model_validate(
        {"name": "mine", "argv": ["mytool"], "env": {"TOOL_V": "3.1"}}
    )
    assert check_tool(profile).version == "3.1"


def test_disabled_tools_are_not_usable(fake_binary: FakeBinary) -> None:
    """enabled = false: found or not, it is not to be used."""
    fake_binary("mytool", "echo 1.0")
    profile = _profile().model_copy(update={"enabled": False})
    assert check_tool(profile).problem == "disabled in configuration"


def test_check_tools_keeps_the_order(fake_binary: FakeBinary) -> None:
    """Several checks run at once; results come back in the order asked."""
    fake_binary("slow", "sleep 0.3; echo 1.0")
    fake_binary("fast", "echo 2.0")
    names = [s.version for s in check_tools([_profile("slow"), _profile("fast")])]
    assert names == ["1.0", "2.0"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("aider 0.86.1", (0, 86, 1)), ("v1.2", (1, 2)), ("codex-cli 0.125.0\n", (0, 125, 0))],
)
def test_parse_version(text: str, expected: tuple[int, ...]) -> None:
    """The first dotted number is the version."""
    assert parse_version(text) == expected
