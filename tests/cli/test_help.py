"""Every command documents itself: --help works and ends with an example."""

from __future__ import annotations

import click
import pytest

from tests.cli.conftest import Uet
from uet.cli import cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the root group loads its commands on demand
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=" ".join)
def test_every_command_has_help_with_an_example(uet: Uet, path: tuple[str, ...]) -> None:
    """`uet … --help` exits 0 and shows at least one example invocation."""
    result = uet(*path, "--help")
    assert result.code == 0
    assert "Example" in result.out
    assert "uet " in result.out.split("Example", 1)[1]


def test_version(uet: Uet) -> None:
    """`uet --version` prints the package version."""
    from uet import __version__  # noqa: PLC0415

    result = uet("--version")
    assert result.code == 0
    assert __version__ in result.out
