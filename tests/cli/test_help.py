"""Every command documents itself: --help works and ends with an example."""

from __future__ import annotations

from pathlib import Path

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


def test_the_root_help_lists_each_command_without_importing_it() -> None:
    """`uet --help` takes each command's short help from app.SHORT_HELP (so that listing
    them loads no command module); it must say what the command itself says."""
    from uet.cli.app import COMMANDS, SHORT_HELP  # noqa: PLC0415

    ctx = click.Context(cli)
    assert set(SHORT_HELP) == set(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        assert SHORT_HELP[name] == command.get_short_help_str(limit=10**6), name


def test_version_and_help_load_no_command_and_no_heavy_library() -> None:
    """Start-up cost: `uet --version` and `uet --help` import neither a command module nor
    rich, pydantic, SQLAlchemy or YAML (a fresh interpreter, as the console script runs)."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    heavy = ["rich", "pydantic", "sqlalchemy", "yaml", "uet.cli.running", "uet.cli.runs"]
    for args in (["--version"], ["--help"]):
        code = (
            "import sys\n"
            "from uet.cli import main\n"
            f"main({args!r})\n"
            f"print([m for m in {heavy!r} if m in sys.modules])"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert done.stdout.splitlines()[-1] == "[]", (args, done.stdout)


def test_read_commands_load_neither_engine_nor_spec_nor_routing(uet: Uet, project: Path) -> None:
    """`uet status` and `uet runs` of a finished run import only the state modules: not the
    engine, the spec loader (YAML), routing, git isolation or rich."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    (project / "one.yaml").write_text("id: one\ntasks: [{id: t, run: 'true'}]\n")
    assert uet("run", "one.yaml").code == 0
    heavy = ["uet.engine", "uet.spec", "uet.routing", "uet.isolation", "uet.agents", "yaml", "rich"]
    for args in (["status"], ["runs"]):
        code = (
            "import sys\n"
            "from uet.cli import main\n"
            f"assert main({args!r}) == 0\n"
            f"print([m for m in {heavy!r} if m in sys.modules])"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=project
        )
        assert done.stdout.splitlines()[-1] == "[]", (args, done.stdout)
