"""``uet init``, ``validate``, ``run``, ``resume``, ``cancel``, ``status``, ``logs``."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from uet import defaults
from uet.cli._loading import (
    acceptance_lines,
    acceptance_of,
    load_plan,
    print_warnings,
    script_lines,
    scripts_of,
    var_option,
)
from uet.cli._signals import interrupt_on
from uet.cli.app import Context, json_option, pass_context, verbose_option
from uet.cli.summary import (
    FAILURES_SHOWN,
    STATUS_ORDER,
    counts_text,
    print_failures,
    print_overview,
    print_task_lines,
)
from uet.clock import SystemClock
from uet.errors import ExitCode, SpecError, UsageError
from uet.ids import check_run_id
from uet.state.reasons import Failure, attempt_reason, task_failures
from uet.states import RunStatus, TaskStatus

if TYPE_CHECKING:
    from uet.cli.progress import ConsoleProgress, LineProgress
    from uet.engine.model import RunResult
    from uet.state.overview import RunOverview
    from uet.state.records import TaskRecord

# Each command imports what only it needs when it runs (PLC0415 below): `uet status` and
# `uet logs` do not load the engine, the spec loader or routing.

files_argument = click.argument(
    "files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False)
)
CONCURRENCY = click.IntRange(min=1, max=defaults.MAX_CONCURRENCY)


def _checked_run_id(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--run-id`` names folders: checked before anything starts (exit 2)."""
    if value is None:
        return None
    try:
        return check_run_id(value)
    except UsageError as error:
        raise click.BadParameter(str(error)) from None


@click.command()
@files_argument
@var_option
@json_option
@pass_context
def validate(
    ctx: Context, files: tuple[Path, ...], variables: tuple[str, ...], as_json: bool
) -> None:
    """Check workstream files and print every problem (exit 2 when there is one).

    Warnings (keys the originals ignored, bundle files loaded for a dependency) go to
    stderr; each `script:` task is listed with the command it resolved to, and each task's
    acceptance entries: the commands it will run as its gate, and the prose it gives the
    agent as instructions.

    \b
    Examples:
      uet validate workstreams/*.yaml
      uet validate plans/safe_merge.json --var BRANCH=main
    """
    try:
        plan = load_plan(files, variables, max_bytes=ctx.settings.max_spec_bytes)
    except SpecError as error:
        if not as_json:
            raise  # main() prints one problem a line and exits 2
        ctx.emit_json({"ok": False, "problems": [dataclasses.asdict(p) for p in error.problems]})
        raise click.exceptions.Exit(int(ExitCode.USAGE)) from None
    if as_json:
        ctx.emit_json(
            {
                "ok": True,
                "workstreams": len(plan.workstreams),
                "tasks": len(plan.tasks),
                "warnings": [dataclasses.asdict(w) for w in plan.warnings],
                "acceptance": acceptance_of(plan),
                "scripts": scripts_of(plan),
            }
        )
        return
    print_warnings(plan.warnings)
    for line in [*script_lines(plan), *acceptance_lines(plan)]:
        click.echo(line)
    click.echo(f"ok: {len(plan.workstreams)} workstreams, {len(plan.tasks)} tasks")


@click.command()
@files_argument
@click.option("--concurrency", "-j", type=CONCURRENCY, help="Tasks at once [CPUs].")
@click.option("--deterministic", is_flag=True, help="Fixed clock and ids, tasks in waves.")
@click.option(
    "--executor",
    type=click.Choice(["local", "local-inproc", "ray"]),
    help="local: an executor process that outcomes survive uet in; local-inproc: a thread"
    " of uet [local, or UET_EXECUTOR].",
)
@click.option(
    "--run-id",
    callback=_checked_run_id,
    help="Name the run: letters, digits, '.', '_', '-' (default: run-<time>-<random>).",
)
@click.option("--name", metavar="NAME", help="A label for the run, shown by uet runs/status.")
@var_option
@click.option(
    "--abort-kills",
    is_flag=True,
    envvar="UET_ABORT_KILLS",
    help="An abort kills running tasks, also in plans (where they finish by default).",
)
@verbose_option
@json_option
@pass_context
def run(
    ctx: Context,
    files: tuple[Path, ...],
    concurrency: int | None,
    deterministic: bool,
    executor: str | None,
    run_id: str | None,
    name: str | None,
    variables: tuple[str, ...],
    abort_kills: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    """Run workstream files as one DAG, with live progress; prints the run id.

    Exit 0 when every task succeeded, 1 when one failed, 2 on bad input, 130 when
    interrupted (then `uet resume RUN_ID` goes on where it stopped). The summary gives each
    failed task's reason and the last lines it printed. Without a terminal only failures
    and the summary are printed; -v prints one line per finished task.

    \b
    Examples:
      uet run examples/hello.yaml
      uet run workstreams/*.yaml -j 8 --name nightly --json
      uet run plans/safe_merge.json --var BRANCH=feature/x
    """
    from uet.engine.api import start_run  # noqa: PLC0415
    from uet.engine.model import RunOptions  # noqa: PLC0415

    if executor == "ray":
        raise UsageError("the ray executor is not available yet; use --executor local")
    # on a SpecError main() prints every problem, exits 2
    plan = load_plan(files, variables, max_bytes=ctx.settings.max_spec_bytes)
    print_warnings(plan.warnings)
    options = RunOptions.make(concurrency=concurrency, deterministic=deterministic, run_id=run_id)
    options = dataclasses.replace(options, abort_kills=abort_kills, name=name)
    settings = ctx.settings
    if executor is not None:
        settings = settings.updated(executor=executor)
    store = ctx.run_store(tool_tasks=any(task.spec.tool is not None for task in plan.tasks))
    with _watching(ctx, as_json, verbose=verbose) as (progress, interrupted):
        result = start_run(
            plan,
            settings=settings,
            store=store,
            options=options,
            progress=progress,
            interrupted=interrupted,
        )
    _report(ctx, result, as_json)


@click.command()
@click.argument("run_id")
@click.option("--concurrency", "-j", type=CONCURRENCY, help="Tasks at once.")
@verbose_option
@json_option
@pass_context
def resume(
    ctx: Context, run_id: str, concurrency: int | None, verbose: bool, as_json: bool
) -> None:
    """Go on with a run that was interrupted (Ctrl-C, a crash, a kill, a reboot).

    \b
    Example:
      uet resume run-20261124T094110-c4f2e4
    """
    from uet.engine.api import resume_run  # noqa: PLC0415

    def waiting(pid: int) -> None:
        click.echo(
            f"waiting for the executor process (pid {pid}) of the previous orchestrator:"
            " its running tasks end first",
            err=True,
        )

    with _watching(ctx, as_json, verbose=verbose) as (progress, interrupted):
        result = resume_run(
            run_id,
            settings=ctx.settings,
            store=ctx.store,
            concurrency=concurrency,
            progress=progress,
            interrupted=interrupted,
            on_wait=waiting,
        )
    _report(ctx, result, as_json)


@click.command()
@click.argument("run_id")
@json_option
@pass_context
def cancel(ctx: Context, run_id: str, as_json: bool) -> None:
    """Cancel a run from any terminal: its process groups are killed, the run is canceled.

    \b
    Example:
      uet cancel run-20261124T094110-c4f2e4
    """
    from uet.engine.recovery import cancel_run  # noqa: PLC0415

    stale = ctx.settings.orchestrator_stale
    status = cancel_run(ctx.store, run_id, SystemClock(), stale_after=stale)
    if status is None:
        raise UsageError(f"no run {run_id!r} (see `uet runs`)")
    if as_json:
        ctx.emit_json({"run_id": run_id, "status": status.value})
    else:
        click.echo(f"run {run_id}: {status.value}")


@click.command()
@click.argument("run_id", required=False)
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in TaskStatus]),
    help="Only tasks in this state (repeatable); lists succeeded ones too.",
)
@click.option(
    "--reconcile",
    "reconcile_run",
    is_flag=True,
    help="Settle a run whose orchestrator died (mark it interrupted, its attempts lost, kill "
    "what is left of its processes), as `uet resume` does first. Needs write access.",
)
@json_option
@pass_context
def status(
    ctx: Context, run_id: str | None, states: tuple[str, ...], reconcile_run: bool, as_json: bool
) -> None:
    """Show a run and its tasks (the most recent run without RUN_ID).

    A summary first (tasks by state, duration, workstreams), then each failed task with its
    reason, then the other tasks; succeeded tasks are counted, not listed, unless --state
    succeeded asks for them. Only reads: it works on a database you cannot write. A run
    whose orchestrator is gone (it no longer holds the run's lease) shows as interrupted;
    `uet resume RUN_ID` (or --reconcile) records that.

    \b
    Examples:
      uet status
      uet status run-20261124T094110-c4f2e4 --state failed --state skipped
      uet status --json | jq '.tasks[] | select(.reason) | .reason'
      uet status run-20261124T094110-c4f2e4 --reconcile
    """
    store = ctx.store if reconcile_run else ctx.reading_store()
    if store is None:
        raise UsageError("no runs yet")
    with store.reader() as tx:
        run_id = run_id or next((r.id for r in tx.list_runs(limit=1)), None)
    if run_id is None:
        raise UsageError("no runs yet")
    from uet.state.overview import overviews  # noqa: PLC0415

    with store.reader() as tx:
        run = tx.get_run(run_id)
    settings = ctx.settings
    stale = settings.orchestrator_stale
    orphaned = False
    if run is not None and not run.status.finished:
        from uet.engine.recovery import owner_alive, reconcile  # noqa: PLC0415 - such runs only

        if reconcile_run:  # a dead orchestrator's run becomes interrupted, on disk
            reconcile(
                ctx.store, run_id, SystemClock(), ttl=settings.run_lease_ttl, stale_after=stale
            )
        elif (full := ctx.existing_store(readonly=True)) is not None:  # the lease's reader
            orphaned = not owner_alive(full, run, SystemClock().now(), stale_after=stale)
    wanted = {TaskStatus(s) for s in states}
    with store.reader() as tx:
        run = tx.get_run(run_id)
        if run is None:
            raise UsageError(f"no run {run_id!r} (see `uet runs`)")
        (overview,) = overviews(tx, [run])
        tasks = tx.get_tasks(run_id, statuses=wanted or None)
        failed = task_failures(tx, run_id) if not wanted or TaskStatus.FAILED in wanted else []
    recorded = overview.run.status
    settled = RunStatus.CANCELED if recorded is RunStatus.CANCELING else RunStatus.INTERRUPTED
    shown = settled if orphaned else recorded
    if as_json:
        reasons = {f.task_id: f for f in failed}
        ctx.emit_json(
            {
                **overview.to_dict(),
                "status": shown.value,
                "recorded_status": recorded.value,
                "counts": overview.to_dict()["tasks"],
                "tasks": [_task_dict(t, reasons.get(t.id)) for t in tasks],
            }
        )
        return
    if orphaned:
        overview = dataclasses.replace(
            overview, run=dataclasses.replace(overview.run, status=shown)
        )
    _print_status(overview, tasks, failed, listing_succeeded=bool(wanted))
    if orphaned:
        goes_on = "" if settled is RunStatus.CANCELED else f"`uet resume {run_id}` goes on, "
        click.echo(
            f"  its orchestrator is gone (recorded {recorded.value}): "
            f"{goes_on}`uet status {run_id} --reconcile` settles it"
        )


def _print_status(
    overview: RunOverview,
    tasks: list[TaskRecord],
    failed: list[Failure],
    *,
    listing_succeeded: bool,
) -> None:
    """The summary, the failures with their reasons, then the other tasks by state."""
    print_overview(overview)
    if failed:
        click.echo(click.style(f"failed ({len(failed)}):", bold=True, fg="red"))
        print_failures(overview.run.id, failed)
    others = [t for t in tasks if t.status is not TaskStatus.FAILED]
    listed = [t for t in others if listing_succeeded or t.status is not TaskStatus.SUCCEEDED]
    if listed:
        click.echo(click.style("tasks:", bold=True))
    print_task_lines(
        sorted(((t.id, t.status, _detail(t)) for t in listed), key=_by_state),
        hidden=len(others) - len(listed),
    )


@click.command()
@click.argument("run_id")
@click.argument("task_id")
@pass_context
def logs(ctx: Context, run_id: str, task_id: str) -> None:
    """Print a task's captured output (every attempt). TASK_ID may omit the workstream.

    \b
    Example:
      uet logs run-20261124T094110-c4f2e4 test
    """
    from uet.engine.logpaths import log_path, resolve_task  # noqa: PLC0415

    store = ctx.reading_store()
    found: list[TaskRecord] = []
    if store is not None:
        with store.reader() as tx:
            found = tx.get_tasks(run_id)
    if not found or store is None:
        raise UsageError(f"no run {run_id!r} (see `uet runs`)")
    key = resolve_task([t.id for t in found], task_id)
    path = log_path(ctx.settings.home, run_id, key)
    if not path.exists():
        with store.reader() as tx:
            attempts = tx.get_attempts(run_id, task_id=key)
        task = next(t for t in found if t.id == key)
        why = f": {attempt_reason(attempts[-1], task.spec)}" if attempts else ""
        click.echo(f"{key} printed nothing{why}", err=True)
        return
    with path.open("rb") as log:
        shutil.copyfileobj(log, sys.stdout.buffer)


@click.command()
@click.option(
    "--non-interactive",
    is_flag=True,
    help="Never prompt (SPEC.md's form; init asks nothing, so this changes nothing).",
)
@pass_context
def init(ctx: Context, non_interactive: bool) -> None:
    """Scaffold uet in this folder: uet.toml, .uet/ and workstreams/example.yaml.

    Existing files are left as they are.

    \b
    Example:
      uet init && uet run workstreams/example.yaml
    """
    from uet.project import scaffold  # noqa: PLC0415

    created = scaffold(Path.cwd())
    for path, made in created:
        click.echo(f"created  {path}" if made else f"kept     {path} (exists)")
    if any(made for _, made in created):
        click.echo("next: uet run workstreams/example.yaml")


def _task_dict(task: TaskRecord, failure: Failure | None) -> dict[str, object]:
    return {
        "id": task.id,
        "status": task.status.value,
        "attempts": task.attempts_used,
        "max_attempts": task.max_attempts,
        "exit_code": task.exit_code,
        "outcome": None if task.outcome is None else task.outcome.value,
        "reason": None if failure is None else failure.reason,
        "tail": [] if failure is None else list(failure.tail),
    }


_STATE_ORDER = {status: n for n, status in enumerate(STATUS_ORDER)}


def _by_state(row: tuple[str, TaskStatus, str]) -> tuple[int, str]:
    return _STATE_ORDER.get(row[1], len(_STATE_ORDER)), row[0]


def _detail(task: TaskRecord) -> str:
    """What a status line says beside a task that did not fail."""
    attempts = f"attempts {task.attempts_used}/{task.max_attempts}"
    if task.status is TaskStatus.SKIPPED:
        return "a task it depends on did not succeed"
    if task.status is TaskStatus.SUCCEEDED:
        return attempts if task.attempts_used > 1 else ""
    return attempts if task.attempts_used else ""


@contextmanager
def _watching(
    ctx: Context, quiet: bool, *, verbose: bool = False
) -> Iterator[tuple[ConsoleProgress | LineProgress | None, threading.Event]]:
    """Progress on stderr, and Ctrl-C / SIGTERM turned into a clean, resumable stop."""
    from uet.cli.progress import ConsoleProgress, LineProgress  # noqa: PLC0415 - runs only

    interrupted = threading.Event()
    progress: ConsoleProgress | LineProgress | None = None
    if quiet:
        pass
    elif sys.stderr is not None and sys.stderr.isatty():
        progress = ConsoleProgress(ctx.err, verbose=verbose)
    else:  # the same lines without loading rich
        progress = LineProgress(verbose=verbose)

    try:
        with interrupt_on(interrupted=interrupted):
            yield progress, interrupted
    finally:
        if progress is not None:
            progress.stop()


def _report(ctx: Context, result: RunResult, as_json: bool) -> None:
    """The run's last lines: its status and counts, then each failure with its reason."""
    failed: list[Failure] = []
    if result.counts.get(TaskStatus.FAILED):
        with ctx.store.reader() as tx:
            failed = task_failures(tx, result.run_id)
    if as_json:
        counts = {status.value: n for status, n in sorted(result.counts.items())}
        report: dict[str, object] = {
            "run_id": result.run_id,
            "status": result.status.value,
            "tasks": counts,
        }
        if failed:
            report["failures"] = [f.to_dict(result.run_id) for f in failed]
        ctx.emit_json(report)
    else:
        line = f"run {result.run_id}: {result.status.value} ({counts_text(result.counts)})"
        click.echo(click.style(line, bold=True))
        print_failures(result.run_id, failed, limit=FAILURES_SHOWN)
        if result.exit_code == ExitCode.INTERRUPTED:
            click.echo(f"resume with: uet resume {result.run_id}")
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)
