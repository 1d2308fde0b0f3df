"""The root ``uet`` group, the context every command gets, and shared options."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from rich.console import Console

from uet import __version__
from uet.config import Settings, load_settings
from uet.state.database import get_engine
from uet.state.store import NoDatabaseError, Store

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

    @cached_property
    def engine(self) -> sa.Engine:
        """The engine for the configured database, without the schema check of ``store``."""
        settings = self.settings
        return get_engine(
            settings.db,
            synchronous=settings.sqlite_synchronous,
            busy_timeout=settings.sqlite_busy_timeout,
        )

    @cached_property
    def store(self) -> Store:
        return Store.open(self.settings)

    def existing_store(self) -> Store | None:
        """The store for commands that only read: None where no database exists yet."""
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


def _register() -> None:
    # Imported here: the command modules import this one (for Context), not the reverse.
    from uet.cli import running  # noqa: PLC0415
    from uet.cli.agents import agents  # noqa: PLC0415
    from uet.cli.db import db  # noqa: PLC0415
    from uet.cli.runs import decisions, events, runs  # noqa: PLC0415
    from uet.cli.tools import route, tools  # noqa: PLC0415

    commands = (
        running.init,
        running.validate,
        running.run,
        running.resume,
        running.cancel,
        running.status,
        runs,
        events,
        running.logs,
        agents,
        decisions,
        tools,
        route,
        db,
    )
    for command in commands:
        cli.add_command(command)


_register()
