"""``uet scripts list|run``: the script registry (``[scripts.NAME]``, config/scripts.yaml)."""

from __future__ import annotations

from typing import Any

import click

from uet.cli.app import Context, json_option, pass_context
from uet.config import is_non_interactive
from uet.errors import ExitCode, UsageError
from uet.spec._problems import suggest
from uet.spec.scripts import Invocation, ScriptSpec, load_scripts, prepare, script_plan
from uet.states import RunStatus

_NONE_YET = (
    "no scripts: define them in uet.toml ([scripts.NAME]) or config/scripts.yaml "
    "(see docs/automation.md)"
)
_NON_INTERACTIVE = "no terminal, --non-interactive, UET_NON_INTERACTIVE=1 or CI=true"


def script_dict(script: ScriptSpec) -> dict[str, Any]:
    """A script as ``uet scripts list --json`` prints it."""
    return {
        "name": script.name,
        "description": script.description,
        "run": script.run,
        "argv": script.argv,
        "params": {
            name: {
                "type": param.type.value,
                "default": param.default,
                "choices": param.choices,
                "required": param.is_required,
                "description": param.description,
            }
            for name, param in script.params.items()
        },
        "timeout": script.timeout,
        "retries": script.retries,
        "retry_on": script.retry_on,
        "env": script.env,
        "cwd": script.cwd,
        "interactive": script.interactive,
        "confirm": script.confirmation,
        "source": script.source,
    }


@click.group()
def scripts() -> None:
    """The script registry: named commands with typed params, run as recorded runs.

    Scripts are defined in uet.toml ([scripts.NAME]) or config/scripts.yaml (same schema;
    the YAML file changes uet.toml's entries field by field). A workstream task can run one
    with `script: NAME`. See docs/automation.md.

    \b
    Examples:
      uet scripts list
      uet scripts run lint -- --fix
      uet scripts run deploy-dry-run --param env=prod
      uet scripts run migrate --yes
    """


@scripts.command(name="list")
@json_option
@pass_context
def list_(ctx: Context, as_json: bool) -> None:
    """List the scripts: description, command, params (type = default), settings, source.

    \b
    Examples:
      uet scripts list
      uet scripts list --json | jq '.[] | select(.confirm) | .name'
    """
    found = load_scripts(ctx.settings)
    if as_json:
        ctx.emit_json([script_dict(script) for script in found.values()])
        return
    if not found:
        click.echo(_NONE_YET, err=True)
        return
    for script in found.values():
        for line in _script_lines(script):
            ctx.console.print(line, markup=False)


def _script_lines(script: ScriptSpec) -> list[str]:
    about = f"  {script.description}" if script.description else ""
    lines = [
        f"{script.name}{about}  [{script.source}]",
        f"  {_kind(script)}: {script.command_text}",
    ]
    for name, param in script.params.items():
        text = f" - {param.description}" if param.description else ""
        lines.append(f"  --param {name}: {param.summary}{text}")
    settings = [
        f"timeout {script.timeout:g} s" if script.timeout is not None else "",
        f"retries {script.retries}" if script.retries else "",
        f"retry on {script.retry_on}" if script.retry_on is not None else "",
        f"cwd {script.cwd}" if script.cwd else "",
        "interactive" if script.interactive else "",
        f"asks: {script.confirmation}" if script.confirmation else "",
    ]
    if any(settings):
        lines.append(f"  {', '.join(s for s in settings if s)}")
    return lines


def _kind(script: ScriptSpec) -> str:
    return "run" if script.run is not None else "argv"


@scripts.command(name="run")
@click.argument("name")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A value for one of the script's params (repeatable); checked against its type.",
)
@click.option("--yes", "-y", is_flag=True, help="Answer yes to the script's confirmation.")
@click.option("--dry-run", is_flag=True, help="Print what would run; run and record nothing.")
@json_option
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="[-- ARGS]...")
@pass_context
def run(
    ctx: Context,
    name: str,
    params: tuple[str, ...],
    yes: bool,
    dry_run: bool,
    as_json: bool,
    args: tuple[str, ...],
) -> None:
    """Run a script as a recorded one-task run; exits with the script's own exit code.

    Arguments after `--` are appended to its command (shell-quoted for a `run` string).
    A script with `confirm` asks first on a terminal and needs --yes elsewhere; an
    `interactive` one is refused in non-interactive mode. Its output is printed as it
    comes (not with --json) and kept: `uet logs RUN_ID scripts/NAME`, `uet status RUN_ID`.
    Exit: the script's code (128+N killed by signal N, 124 timed out, 127 could not
    start), 2 bad input, 130 interrupted.

    \b
    Examples:
      uet scripts run test -- -k io
      uet scripts run deploy-dry-run -p env=prod -p replicas=3
      uet scripts run clean --yes --json
      uet scripts run build --dry-run
    """
    script = _find(ctx, name)
    invocation = prepare(script, params, args)
    non_interactive = is_non_interactive(ctx.settings)
    refused = script.interactive and non_interactive
    if dry_run:  # shows what would run, even where it would be refused
        _print_dry_run(ctx, invocation, as_json, refused=refused)
        return
    if refused:
        raise UsageError(
            f"script {name!r} is interactive (interactive: true) and uet may not prompt here "
            f"({_NON_INTERACTIVE}): run it from a terminal"
        )
    _confirm(script, yes=yes, non_interactive=non_interactive)
    _run(ctx, invocation, as_json)


def _find(ctx: Context, name: str) -> ScriptSpec:
    found = load_scripts(ctx.settings)
    if name in found:
        return found[name]
    if not found:
        raise UsageError(f"no script {name!r}: {_NONE_YET}")
    hint = suggest(name, found) or f" (known: {', '.join(found)})"
    raise UsageError(f"no script {name!r}{hint}")


def _confirm(script: ScriptSpec, *, yes: bool, non_interactive: bool) -> None:
    question = script.confirmation
    if question is None or yes:
        return
    if non_interactive:
        raise UsageError(f"script {script.name!r} asks for confirmation: pass --yes")
    if not click.confirm(question, default=False, err=True):
        click.echo(f"uet: script {script.name!r} not confirmed: nothing ran", err=True)
        raise click.exceptions.Exit(int(ExitCode.FAILED))


def _print_dry_run(ctx: Context, invocation: Invocation, as_json: bool, *, refused: bool) -> None:
    if as_json:
        ctx.emit_json({"dry_run": True, "refused_here": refused, **invocation.to_dict()})
        return
    click.echo(f"would run: {invocation.command_text}")
    if invocation.run is None:
        click.echo(f"argv: {list(invocation.argv or ())}")
    if invocation.cwd:
        click.echo(f"cwd: {invocation.cwd}")
    for key, value in invocation.env.items():
        click.echo(f"env: {key}={value}")
    script = invocation.script
    if script.timeout is not None or script.retries:
        timeout = "none" if script.timeout is None else f"{script.timeout:g} s"
        click.echo(f"timeout: {timeout}, retries: {script.retries or 0}")
    if script.confirmation:
        click.echo(f"asks: {script.confirmation} (--yes answers it)")
    if script.interactive:
        where = f"refused here ({_NON_INTERACTIVE})" if refused else "this terminal will do"
        click.echo(f"interactive: needs a terminal; {where}")


def _run(ctx: Context, invocation: Invocation, as_json: bool) -> None:
    from uet.cli.running import _watching  # noqa: PLC0415 - its Ctrl-C handling
    from uet.engine.oneshot import run_command  # noqa: PLC0415 - the engine loads for runs only
    from uet.execution.api import Stdio  # noqa: PLC0415

    name = invocation.script.name
    plan = script_plan(invocation.task(), name=f"script {name}")
    with _watching(ctx, quiet=True) as (_, interrupted):
        result = run_command(
            plan,
            settings=ctx.settings,
            store=ctx.run_store(tool_tasks=False),
            stdio=Stdio.NULL if as_json else Stdio.PASSTHROUGH,  # byte for byte, as uet exec
            name=f"script {name}",
            interrupted=interrupted,
        )
    code = result.exit_code
    if as_json:
        ctx.emit_json({**invocation.to_dict(), **result.to_dict()})
    else:
        line = f"uet: script {name}: {result.status.value} (run {result.run_id})"
        if result.status is not RunStatus.SUCCEEDED:
            line += f", exit {code}; output: uet logs {result.run_id} {name}"
        click.echo(line, err=True)
        if result.status is RunStatus.INTERRUPTED:
            click.echo(f"resume with: uet resume {result.run_id}", err=True)
    if code:
        raise click.exceptions.Exit(code)
