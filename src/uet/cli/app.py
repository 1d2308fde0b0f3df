"""The root ``uet`` group, the context every command gets, and shared options."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeVar

import click

from uet import __version__

if TYPE_CHECKING:
    import sqlalchemy as sa
    from rich.console import Console

    from uet.config import Settings
    from uet.state.reads import ReadStore
    from uet.state.store import Store

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What commands share: resolved settings, the store (opened on first use), output.

    Everything here is made on first use, so that a command pays only for what it uses
    (``uet --version`` and ``uet --help`` load neither rich, pydantic nor SQLAlchemy).
    """

    def __init__(self, db: str | None, non_interactive: bool) -> None:
        self._overrides = {"db": db, "non_interactive": non_interactive or None}

    @cached_property
    def console(self) -> Console:
        from rich.console import Console  # noqa: PLC0415 - see the class docstring

        return Console(highlight=False, soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console  # noqa: PLC0415 - see the class docstring

        return Console(stderr=True, highlight=False, soft_wrap=True)

    @cached_property
    def settings(self) -> Settings:
        from uet.config import load_settings  # noqa: PLC0415 - see the class docstring

        return load_settings(self._overrides)

    # The state modules (SQLAlchemy) load with the first command that needs them, not with
    # `uet --version`, `uet validate` or `uet init`.

    @cached_property
    def engine(self) -> sa.Engine:
        """The engine for the configured database, without the schema check of ``store``."""
        from uet.state.database import engine_for  # noqa: PLC0415

        return engine_for(self.settings)

    @cached_property
    def reading_engine(self) -> sa.Engine:
        """An engine that never writes (works on a database the user cannot write); the
        usual engine while the SQLite file does not exist yet."""
        from uet.state.database import engine_for, sqlite_path  # noqa: PLC0415

        path = sqlite_path(self.settings.db)
        if path is not None and not path.exists():
            return self.engine
        return engine_for(self.settings, readonly=True)

    @cached_property
    def store(self) -> Store:
        from uet.state.store import Store  # noqa: PLC0415

        return Store.open(self.settings)

    def run_store(self, *, tool_tasks: bool) -> Store:
        """The store for a command that runs work (``uet run``, ``exec``, ``scripts run``):
        a plain SQLite file at the current schema (or new) is opened without SQLAlchemy
        (:mod:`uet.state.sqlite_store`) unless the run has tool tasks, whose routing
        composes statements of its own. It is this command's :attr:`store` from then on."""
        if "store" not in self.__dict__:
            from uet.state.store import Store  # noqa: PLC0415

            self.__dict__["store"] = Store.open(self.settings, stdlib=not tool_tasks)
        return self.store

    def existing_store(self, *, readonly: bool = False) -> Store | None:
        """The store for commands that only read: None where no database exists yet.

        ``readonly=True``: a store that never writes (works where the user cannot write).
        """
        from uet.state.store import NoDatabaseError, Store  # noqa: PLC0415

        try:
            return Store.open(self.settings, create=False, readonly=readonly)
        except NoDatabaseError:
            return None

    def reading_store(self) -> ReadStore | None:
        """A store for commands that only read, None where no database exists yet.

        A SQLite file at the current schema is read through the stdlib (no SQLAlchemy:
        :mod:`uet.state.fastread`); anything else is :meth:`existing_store` read-only,
        which also says what is wrong with a database that cannot be read.
        """
        from uet.state.fastread import SqliteReadStore  # noqa: PLC0415

        settings = self.settings
        fast = SqliteReadStore.open(settings.db, busy_timeout=settings.sqlite_busy_timeout)
        return fast if fast is not None else self.existing_store(readonly=True)

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
    """The root group: its commands (:data:`COMMANDS`) are imported on first use; ``uet
    --help`` lists them from :data:`SHORT_HELP` without importing any."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, _, name = COMMANDS[cmd_name].partition(":")
            # The command modules import this one (for Context): never the reverse at load.
            self.add_command(getattr(import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))  # as click.Group lays them out
        rows = [(name, _shorten(SHORT_HELP[name], limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _shorten(text: str, limit: int) -> str:
    """``text`` cut at a word to fit ``limit`` characters, with ``...`` (as click does)."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 3)].rsplit(" ", 1)[0]
    return f"{cut.rstrip(' ,;:')}..."


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
    "scripts": "uet.cli.scripts:scripts",
    "db": "uet.cli.db:db",
    "exec": "uet.cli.exec:exec_command",
    "daemon": "uet.cli.triggers:daemon",
    "triggers": "uet.cli.triggers:triggers",
    "launch": "uet.cli.triggers:launch",
    "scan": "uet.cli.scan:scan",
    "patch": "uet.cli.patch:patch",
    "triage": "uet.cli.triage:triage",
    "fix": "uet.cli.fix:fix",
}
"""Each command and where it lives: a command's module is imported when it is asked for,
so `uet runs` does not load the engine, git isolation or routing."""

SHORT_HELP = {
    "agents": "Isolated git clones for concurrent agents, merged back through a gated queue.",
    "cancel": "Cancel a run from any terminal: its process groups are killed, the run is canceled.",
    "db": "Migrations and backups of the state database.",
    "daemon": "Run the project's triggers (events, file changes, cron, every) until stopped.",
    "decisions": "The decision registry: what was chosen, among what, and why.",
    "events": "Print a run's event log in order (JSON Lines with --json).",
    "fix": "Fix the findings of `uet scan` over PATHs, each change a validated patch.",
    "exec": "Run any command as a recorded run: timeout, retries, a non-interactive environment.",
    "init": "Scaffold uet in this folder: uet.toml, .uet/ and workstreams/example.yaml.",
    "launch": "Drive a run a trigger recorded and nobody started yet (what `uet daemon` starts).",
    "logs": "Print a task's captured output (every attempt).",
    "patch": "The patch ledger: validate patches in isolation, route them by confidence, land "
    "them.",
    "resume": "Go on with a run that was interrupted (Ctrl-C, a crash, a kill, a reboot).",
    "route": "Show the routing decision for a task, without running or recording anything.",
    "run": "Run workstream files as one DAG, with live progress; prints the run id.",
    "runs": "List recent runs, newest first.",
    "scan": "Run the checkers (ruff, mypy, bandit, pytest, the project's own) over PATHs.",
    "scripts": "The script registry: named commands with typed params, run as recorded runs.",
    "status": "Show a run and its tasks (the most recent run without RUN_ID).",
    "tools": "Tool profiles: how uet runs aider, Claude Code, Codex CLI, Gemini CLI or any "
    "command.",
    "triage": "Classify test failures and say what to do with each; rerun them to tell flaky "
    "from broken.",
    "triggers": "Inspect and fire the project's triggers (`triggers` section, "
    "config/triggers.yaml).",
    "validate": "Check workstream files and print every problem (exit 2 when there is one).",
}
"""What `uet --help` says of each command: its short help, kept here so that listing the
commands imports none of them (tests/cli/test_help.py checks it against each command)."""
