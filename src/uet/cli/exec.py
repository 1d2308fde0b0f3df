"""``uet exec``: any command run as a recorded run (timeout, retries, non-interactive)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal

import click

from uet import defaults
from uet.cli._signals import STOP_SIGNALS, interrupt_on
from uet.cli.app import Context, json_option, pass_context
from uet.errors import UsageError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CODES = re.compile(r"\d+(?:\s*,\s*\d+)*")


def parse_env(given: tuple[str, ...]) -> dict[str, str]:
    """``("A=1", "B=x=y")`` → ``{"A": "1", "B": "x=y"}``; a bad one is a UsageError (exit 2)."""
    env: dict[str, str] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not _NAME.fullmatch(key):
            raise UsageError(f"--env {item!r}: expected KEY=VALUE with KEY a variable name")
        env[key] = value
    return env


def parse_retry_on(value: str | None) -> list[int] | str | None:
    """``"1,75"`` → exit codes ``[1, 75]``; any other string is a regex (checked later)."""
    if value is None:
        return None
    if _CODES.fullmatch(value.strip()):
        return [int(code) for code in value.split(",")]
    return value


@click.command(
    "exec",
    context_settings={"allow_interspersed_args": False},
)
@click.option("--name", metavar="NAME", help="A label for the run and the task id [the program].")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=defaults.MAX_TIMEOUT_S),
    metavar="S",
    help="Seconds; past it the command's whole process group is killed (exit 124).",
)
@click.option(
    "--retries",
    type=click.IntRange(0, defaults.MAX_RETRIES),
    default=0,
    show_default=True,
    help="Extra attempts after a failure (backoff with jitter).",
)
@click.option(
    "--retry-on",
    metavar="CODES|REGEX",
    help="Retry only these failures: exit codes (1,75) or a regex found in the output's tail.",
)
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, exists=True),
    help="Folder to run in [the current one].",
)
@click.option("--env", "env_items", multiple=True, metavar="K=V", help="Set a variable (repeat).")
@click.option(
    "--tty",
    is_flag=True,
    help="Give the command this terminal (stdin, stdout, stderr, TERM); nothing is captured.",
)
@click.option("--dry-run", is_flag=True, help="Print the argv, cwd and environment; run nothing.")
@json_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_context
def exec_command(
    ctx: Context,
    name: str | None,
    timeout: float | None,
    retries: int,
    retry_on: str | None,
    cwd: str | None,
    env_items: tuple[str, ...],
    tty: bool,
    dry_run: bool,
    as_json: bool,
    command: tuple[str, ...],
) -> None:
    """Run any command as a recorded run: timeout, retries, a non-interactive environment.

    The command's stdout and stderr pass through byte for byte (and go to its log);
    uet exits with the command's exit code: 128+N when signal N killed it, 124 when it
    timed out, 127/126 when it could not start, 2 for bad usage, 3 when uet's database
    fails, 130 when interrupted (the run stays resumable). stdin is at end-of-file (as
    /dev/null) and the command has no controlling terminal; a command that waited for an
    answer ends as needs_input and is never retried. --json prints the run record instead
    of the output (which is still logged). See docs/automation.md.

    \b
    Examples:
      uet exec -- make test
      uet exec --timeout 600 --retries 2 --retry-on 75 -- ./deploy.sh staging
      uet exec --retries 3 --retry-on 'Connection (reset|refused)' -- git fetch
      uet exec --json --name nightly -- pytest -q
      uet exec --dry-run --env STAGE=dev -- ./script.sh
      uet exec --tty -- vim notes.md
    """
    from uet.spec.oneshot import one_command_plan  # noqa: PLC0415 - `uet --help` stays light

    if tty and as_json:
        raise UsageError("--tty gives the command the terminal: --json cannot print its record")
    folder = os.path.abspath(cwd or os.getcwd())
    plan = one_command_plan(
        argv=list(command),
        name=name,
        timeout=timeout,
        retries=retries,
        retry_on=parse_retry_on(retry_on),
        cwd=folder,
        env=parse_env(env_items),
    )
    if dry_run:
        _dry_run(ctx, plan.tasks[0].spec.argv or [], folder, dict(plan.tasks[0].env), tty, as_json)
        return
    raise click.exceptions.Exit(_run(ctx, plan, name, tty=tty, as_json=as_json))


def _run(ctx: Context, plan: object, name: str | None, *, tty: bool, as_json: bool) -> int:
    from uet.engine.oneshot import run_command  # noqa: PLC0415
    from uet.execution.api import Stdio  # noqa: PLC0415

    stdio = Stdio.TERMINAL if tty else Stdio.NULL if as_json else Stdio.PASSTHROUGH
    with interrupt_on((*STOP_SIGNALS, signal.SIGHUP)) as interrupted:
        result = run_command(
            plan,  # type: ignore[arg-type]  # a Plan: built above
            settings=ctx.settings,
            store=ctx.run_store(tool_tasks=False),
            stdio=stdio,
            name=name,
            interrupted=interrupted,
        )
    if as_json:
        ctx.emit_json(result.to_dict())
    elif result.reason is not None and (result.outcome is None or result.outcome.value in _SAID):
        click.echo(f"uet exec: {result.task_id}: {result.reason} (uet logs {result.run_id} "
                   f"{result.task_id})", err=True)  # fmt: skip
    if result.exit_code == 130 and not as_json:
        click.echo(f"uet exec: interrupted; resume with: uet resume {result.run_id}", err=True)
    return result.exit_code


_SAID = ("timed_out", "needs_input", "error", "lost")
"""Outcomes ``uet exec`` explains on stderr (a plain exit status speaks for itself: the
command's stderr stays byte for byte its own)."""


def _dry_run(
    ctx: Context, argv: list[str], cwd: str, task_env: dict[str, str], tty: bool, as_json: bool
) -> None:
    """What would run: the argv, the folder, and each variable that differs from uet's."""
    added = {} if tty else dict(defaults.NON_INTERACTIVE_ENV)
    added.update(task_env)
    added.update({"UET_RUN_ID": "<run id>", "UET_TASK_ID": "<task>", "UET_ATTEMPT": "1"})
    diff = {key: value for key, value in added.items() if os.environ.get(key) != value}
    if as_json:
        click.echo(json.dumps({"argv": argv, "cwd": cwd, "env": diff, "tty": tty}, indent=2))
        return
    click.echo(f"argv: {shlex.join(argv)}")
    click.echo(f"cwd:  {cwd}")
    click.echo("env (set or changed):")
    for key in sorted(diff):
        old = os.environ.get(key)
        was = "" if old is None else f"   (was {old!r})"
        click.echo(f"  {key}={shlex.quote(diff[key])}{was}")
