"""``uet runs`` and ``uet events``: read the state store."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import click

from uet.cli.app import Context, json_option, pass_context
from uet.cli.summary import print_runs
from uet.errors import ExitCode
from uet.state.overview import RunOverview, overviews
from uet.state.records import DecisionRecord, EventRecord, dump_json
from uet.states import RunStatus

FOLLOW_POLL_S = 0.2  # how often --follow looks for new events
FOLLOW_OWNER_EVERY = 5  # polls between two looks at whether the run's orchestrator lives


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@click.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in RunStatus]),
    help="Only runs in this status (repeatable).",
)
@json_option
@pass_context
def runs(ctx: Context, limit: int, statuses: tuple[str, ...], as_json: bool) -> None:
    """List recent runs, newest first.

    Each run with its status, start, duration, tasks by state, workstreams and --name.

    \b
    Example:
      uet runs --status failed --limit 5
    """
    wanted = [RunStatus(s) for s in statuses] or None
    store = ctx.reading_store()
    found: list[RunOverview] = []
    if store is not None:
        with store.reader() as tx:
            found = overviews(tx, tx.list_runs(limit=limit, statuses=wanted))
    if as_json:
        ctx.emit_json([item.to_dict() for item in found])
        return
    if not found:
        click.echo("no runs yet")
    print_runs(found)


@click.command()
@click.argument("run_id")
@click.option("--type", "types", metavar="GLOB", help="Only event types matching, e.g. 'task.*'.")
@click.option("--after", default=0, type=click.IntRange(min=0), help="Only events after SEQ.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many events.")
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing new events until the run ends (exit 1 if its orchestrator dies first).",
)
@json_option
@pass_context
def events(
    ctx: Context,
    run_id: str,
    types: str | None,
    after: int,
    limit: int | None,
    follow: bool,
    as_json: bool,
) -> None:
    """Print a run's event log in order (JSON Lines with --json).

    \b
    Examples:
      uet events run-20261124T090000-3f9a1c --type 'task.*'
      uet events run-20261124T090000-3f9a1c --follow --json | jq .type
    """
    store = ctx.reading_store()
    run, found = None, []
    if store is not None:
        with store.reader() as tx:
            run = tx.get_run(run_id)
            found = tx.get_events(run_id, after_seq=after, types=types, limit=limit)
    if store is None or (run is None and not found):
        click.echo(f"uet: error: no run {run_id!r} (see `uet runs`)", err=True)
        raise click.exceptions.Exit(int(ExitCode.USAGE))
    last = _print_events(ctx, found, as_json, after)
    owners = None
    if follow:
        from uet.state.lease import lease_owner  # noqa: PLC0415 - only a follower asks

        owners = ctx.existing_store(readonly=True)  # leases are asked through SQLAlchemy
    polls = 0
    while follow and (run is None or not run.status.finished):
        time.sleep(FOLLOW_POLL_S)
        polls += 1
        # asked before the reads: a run that ends between the two is seen ended, not orphaned
        orphaned = (
            polls % FOLLOW_OWNER_EVERY == 0
            and owners is not None
            and lease_owner(owners, run_id).held is False
        )
        with store.reader() as tx:
            run = tx.get_run(run_id)
            last = _print_events(
                ctx, tx.get_events(run_id, after_seq=last, types=types), as_json, last
            )
        if orphaned and (run is None or not run.status.finished):
            click.echo(
                f"uet: run {run_id} was interrupted: its orchestrator is gone"
                f" (`uet resume {run_id}` goes on)",
                err=True,
            )
            raise click.exceptions.Exit(int(ExitCode.FAILED))


def _print_events(ctx: Context, found: list[EventRecord], as_json: bool, last: int) -> int:
    for event in found:
        if as_json:
            click.echo(dump_json(event.to_dict()))
        else:
            payload = dump_json(event.payload) or ""
            task = event.task_id or "-"
            click.echo(f"{event.seq:>6} {_when(event.ts)} {event.type:18} {task:20} {payload}")
        last = event.seq or last
    return last


@click.command()
@click.option("--run", "run_id", metavar="ID", help="Only decisions of this run.")
@click.option("--category", metavar="C", help="Only this category (merge, merge_order, …).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many, newest last.")
@json_option
@pass_context
def decisions(
    ctx: Context, run_id: str | None, category: str | None, limit: int | None, as_json: bool
) -> None:
    """The decision registry: what was chosen, among what, and why.

    \b
    Examples:
      uet decisions --category merge
      uet decisions --run run-20261124T090000-3f9a1c --json
    """
    store = ctx.reading_store()
    found: list[DecisionRecord] = []
    if store is not None:
        with store.reader() as tx:
            found = tx.get_decisions(run_id=run_id, category=category, limit=limit)
    if as_json:
        ctx.emit_json([dataclasses.asdict(d) for d in found])
        return
    if not found:
        click.echo("no decisions recorded")
    for item in found:
        where = " ".join(x for x in (item.run_id, item.task_id) if x)
        among = f" (among {', '.join(map(str, item.alternatives))})" if item.alternatives else ""
        click.echo(
            f"{_when(item.ts)} {item.category:12} {where} {item.chosen}{among}: {item.reason}"
        )
