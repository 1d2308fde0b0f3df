"""The documentation keeps up with the code: every setting and every command is documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from uet.cli import cli
from uet.config import SETTINGS, SettingKey

DOCS = Path(__file__).parent.parent / "docs"


@pytest.mark.parametrize("key", SETTINGS, ids=lambda key: key.field)
def test_every_setting_is_documented(key: SettingKey) -> None:
    """docs/configuration.md has a row naming the file key and the environment variable."""
    text = (DOCS / "configuration.md").read_text()
    assert f"`{key.dotted}`" in text
    assert f"`{key.env}`" in text


def _command_lines(group: click.Group, prefix: str = "uet") -> list[str]:
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the root group loads its commands on demand
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += _command_lines(command, f"{prefix} {name}")
        else:
            found.append(f"{prefix} {name}")
    return found


@pytest.mark.parametrize("command", _command_lines(cli))
def test_every_command_is_documented(command: str) -> None:
    """docs/cli.md has a row for each command."""
    assert f"`{command}" in (DOCS / "cli.md").read_text()


def test_automation_docs_list_every_non_interactive_variable_and_prompt_pattern() -> None:
    """docs/automation.md's tables name every NON_INTERACTIVE_ENV variable and every
    needs_input pattern, in the order uet tries them."""
    from uet.defaults import NON_INTERACTIVE_ENV  # noqa: PLC0415
    from uet.execution.prompts import PROMPTS  # noqa: PLC0415

    text = (DOCS / "automation.md").read_text()
    for key, value in NON_INTERACTIVE_ENV.items():
        assert f"| `{key}` | `{value}` |" in text, key
    positions = [text.index(f"| `{prompt.name}` |") for prompt in PROMPTS]
    assert positions == sorted(positions)
