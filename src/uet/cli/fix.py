"""``uet fix``: scan, mechanical fixers, agents; every change a validated patch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from uet.cli._signals import interrupt_on
from uet.cli.app import Context, json_option, pass_context

if TYPE_CHECKING:
    from uet.recovery.fix import FixResult


@click.command("fix")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--diff", "diff_base", metavar="BASE",
              help="Fix only findings on lines changed since the git revision BASE.")  # fmt: skip
@click.option("--max-attempts", type=click.IntRange(min=1), default=3, show_default=True,
              help="Agent attempts per finding.")  # fmt: skip
@click.option("--max-agent-calls", type=click.IntRange(min=0), default=200, show_default=True,
              help="Agent attempts in this run of uet fix, at most.")  # fmt: skip
@click.option("--budget", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Start no fix attempt after this many seconds.")  # fmt: skip
@click.option("--tool", default="auto", show_default=True, metavar="NAME",
              help="The agents' tool (auto: the router picks one taking `fix` tasks).")  # fmt: skip
@click.option("--no-agents", is_flag=True, help="Mechanical fixers only.")
@click.option("--min-severity", type=click.Choice(("info", "warning", "error", "critical")),
              default="warning", show_default=True,
              help="Leave findings below this severity alone.")  # fmt: skip
@click.option("--dry-run", is_flag=True,
              help="Show the patches fixers would make, what would go to agents.")  # fmt: skip
@json_option
@pass_context
def fix(
    ctx: Context,
    paths: tuple[str, ...],
    diff_base: str | None,
    max_attempts: int,
    max_agent_calls: int,
    budget: float | None,
    tool: str,
    no_agents: bool,
    min_severity: str,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Fix the findings of `uet scan` over PATHs, each change a validated patch.

    Mechanical fixers run first (ruff's isort rules, ruff's safe fixes, ruff format); what
    is left goes to agent tools through the router (tasks of kind `fix`), one file at a
    time, the findings and on a retry the validation's failures in the prompt. Every change
    is a patch in the ledger (`uet patch list`): validated in a fresh clone at the branch's
    tip (its findings gone, none new as bad, the tamper and containment rules), then landed
    through the merge queue when it scores for auto-merge; review and manual patches wait
    for a person. Attempts are bounded per finding (--max-attempts) and per run; a file
    whose fixes keep failing the same way stops with a `breaker` decision. Exit 0 when no
    finding is left, 1 when some are, 2 for bad input, 130 when interrupted.
    See docs/recovery.md (Fixing).

    \b
    Examples:
      uet fix
      uet fix src --no-agents --json
      uet fix --diff origin/main --max-attempts 2 --budget 600
      uet fix --dry-run
    """
    from uet.recovery.findings import Severity  # noqa: PLC0415
    from uet.recovery.fix import FixOptions  # noqa: PLC0415 - `uet --help` stays light
    from uet.recovery.fix import fix as run_fix  # noqa: PLC0415

    options = FixOptions(paths=paths or (".",), diff_base=diff_base, max_attempts=max_attempts,
                         max_agent_calls=max_agent_calls, budget=budget, dry_run=dry_run,
                         tool=tool, agents=not no_agents,
                         min_severity=Severity(min_severity))  # fmt: skip
    with interrupt_on() as interrupted:
        result = run_fix(ctx.settings, lambda: ctx.store, options, interrupted=interrupted)
    if as_json:
        ctx.emit_json(result.to_json())
    else:
        _print(result)
    if interrupted.is_set():
        raise click.exceptions.Exit(130)
    raise click.exceptions.Exit(result.exit_code())


def _print(result: FixResult) -> None:
    for step in result.steps:
        what = step.patch_id or "-"
        where = step.state or "dry run"
        if step.queue and not step.landed:
            where += f" ({step.queue})"
        files = ", ".join(step.files[:3]) + (" …" if len(step.files) > 3 else "")
        click.echo(f"{what} {step.fixer}: {where}: {files}: {step.reason}")
        if step.diff:
            click.echo(step.diff, nl=False)
    for stop in result.stopped:
        click.echo(f"uet fix: {stop['file']}: stopped ({stop['rule']}): {stop['reason']}",
                   err=True)  # fmt: skip
    for note in result.notes:
        click.echo(f"uet fix: {note}", err=True)
    landed = sum(s.landed for s in result.steps)
    click.echo(f"uet fix: {result.fixed} of {len(result.before)} findings fixed, "
               f"{len(result.after)} left; {landed} patches landed on {result.target}, "
               f"{result.agent_calls} agent calls, {result.duration:.1f}s", err=True)  # fmt: skip
