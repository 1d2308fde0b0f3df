"""The root ``uet`` group, the context every command gets, and shared options."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from uet import __version__
from uet.config import Settings, load_settings

if TYPE_CHECKING:
    import sqlalchemy as sa

    from uet.state.store import Store

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What commands share: resolved settings, the store (opened on first use), output."""

    def __init__(self, db: str | None, non_interactive: bool) -> None:
        self._overrides = {"db": db, "non_interactive": non_interactive or None}
        self.console = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self._overrides)

    # The state modules (SQLAlchemy) load with the first command that needs them, not with
    # `uet --version`, `uet validate` or `uet init`.

    @cached_property
    def engine(self) -> sa.Engine:
        """The engine for the configured database, without the schema check of ``store``."""
        from uet.state.database import engine_for  # noqa: PLC0415

        return engine_for(self.settings)

    @cached_property
    def store(self) -> Store:
        from uet.state.store import Store  # noqa: PLC0415

        return Store.open(self.settings)

    def existing_store(self) -> Store | None:
        """The store for commands that only read: None where no database exists yet."""
        from uet.state.store import NoDatabaseError, Store  # noqa: PLC0415

        try:
            return Store.open(self.settings, create=False)
        except NoDatabaseError:
            return None

    def emit_json(self, value: object) -> None:
        click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


pass_context = click.make_pass_decorator(Context)


def json_option(function: F) -> F:
    """``--json``: print machine-readable JSON on stdout instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")(function)


def verbose_option(function: F) -> F:
    """``-v``: one line per finished task (without it, only failures and the summary)."""
    return click.option(
        "--verbose", "-v", is_flag=True, help="Print a line for every finished task."
    )(function)


class _LazyGroup(click.Group):
    """The root group: its commands (:data:`COMMANDS`) are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, _, name = COMMANDS[cmd_name].partition(":")
            # The command modules import this one (for Context): never the reverse at load.
            self.add_command(getattr(import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="uet")
@click.option(
    "--db",
    metavar="URL",
    help="State database (SQLAlchemy URL). Env: UET_DB. Default: sqlite:///.uet/state.db",
)
@click.option(
    "--non-interactive",
    is_flag=True,
    help="Never prompt. Env: UET_NON_INTERACTIVE (also implied by CI=true or no terminal).",
)
@click.pass_context
def cli(ctx: click.Context, db: str | None, non_interactive: bool) -> None:
    """uet runs development automation: workstream DAGs, scripts and AI-agent tasks with
    durable state.

    \b
    Examples:
      uet init                       # uet.toml, .uet/, workstreams/example.yaml
      uet run examples/hello.yaml    # one DAG, live progress; Ctrl-C leaves it resumable
      uet status && uet events RUN_ID --type 'task.*'
      uet --db postgresql+psycopg://localhost/uet db upgrade
    """
    ctx.obj = Context(db, non_interactive)


COMMANDS = {
    "init": "uet.cli.running:init",
    "validate": "uet.cli.running:validate",
    "run": "uet.cli.running:run",
    "resume": "uet.cli.running:resume",
    "cancel": "uet.cli.running:cancel",
    "status": "uet.cli.running:status",
    "logs": "uet.cli.running:logs",
    "runs": "uet.cli.runs:runs",
    "events": "uet.cli.runs:events",
    "decisions": "uet.cli.runs:decisions",
    "agents": "uet.cli.agents:agents",
    "tools": "uet.cli.tools:tools",
    "route": "uet.cli.tools:route",
    "db": "uet.cli.db:db",
}
"""Each command and where it lives: a command's module is imported when it is asked for,
so `uet runs` does not load the engine, git isolation or routing."""
