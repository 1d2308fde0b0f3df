"""``uet init``, ``validate``, ``run``, ``resume``, ``cancel``, ``status``, ``logs``."""

from __future__ import annotations

import dataclasses
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from uet import defaults
from uet.cli._loading import acceptance_lines, acceptance_of, load_plan, print_warnings, var_option
from uet.cli.app import Context, json_option, pass_context
from uet.cli.progress import ConsoleProgress
from uet.clock import SystemClock
from uet.engine.api import resume_run, start_run
from uet.engine.model import RunOptions, RunResult, log_path, resolve_task
from uet.engine.recovery import cancel_run, owner_alive, reconcile
from uet.errors import ExitCode, SpecError, UsageError
from uet.ids import check_run_id
from uet.project import scaffold
from uet.state.records import TaskRecord
from uet.states import RunStatus

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
    stderr; each task's acceptance entries are listed: the commands it will run as its
    gate, and the prose it gives the agent as instructions.

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
            }
        )
        return
    print_warnings(plan.warnings)
    for line in acceptance_lines(plan):
        click.echo(line)
    ctx.console.print(f"ok: {len(plan.workstreams)} workstreams, {len(plan.tasks)} tasks")


@click.command()
@files_argument
@click.option("--concurrency", "-j", type=CONCURRENCY, help="Tasks at once [CPUs].")
@click.option("--deterministic", is_flag=True, help="Fixed clock and ids, tasks in waves.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option(
    "--run-id",
    callback=_checked_run_id,
    help="Name the run: letters, digits, '.', '_', '-' (default: run-<time>-<random>).",
)
@var_option
@click.option(
    "--abort-kills",
    is_flag=True,
    envvar="UET_ABORT_KILLS",
    help="An abort kills running tasks, also in plans (where they finish by default).",
)
@json_option
@pass_context
def run(
    ctx: Context,
    files: tuple[Path, ...],
    concurrency: int | None,
    deterministic: bool,
    executor: str,
    run_id: str | None,
    variables: tuple[str, ...],
    abort_kills: bool,
    as_json: bool,
) -> None:
    """Run workstream files as one DAG, with live progress; prints the run id.

    Exit 0 when every task succeeded, 1 when one failed, 2 on bad input, 130 when
    interrupted (then `uet resume RUN_ID` goes on where it stopped).

    \b
    Examples:
      uet run examples/hello.yaml
      uet run workstreams/*.yaml -j 8 --json
      uet run plans/safe_merge.json --var BRANCH=feature/x
    """
    if executor == "ray":
        raise UsageError("the ray executor is not available yet; use --executor local")
    # on a SpecError main() prints every problem, exits 2
    plan = load_plan(files, variables, max_bytes=ctx.settings.max_spec_bytes)
    print_warnings(plan.warnings)
    options = RunOptions.make(concurrency=concurrency, deterministic=deterministic, run_id=run_id)
    options = dataclasses.replace(options, abort_kills=abort_kills)
    with _watching(ctx, as_json) as (progress, interrupted):
        result = start_run(
            plan,
            settings=ctx.settings,
            store=ctx.store,
            options=options,
            progress=progress,
            interrupted=interrupted,
        )
    _report(ctx, result, as_json)


@click.command()
@click.argument("run_id")
@click.option("--concurrency", "-j", type=CONCURRENCY, help="Tasks at once.")
@json_option
@pass_context
def resume(ctx: Context, run_id: str, concurrency: int | None, as_json: bool) -> None:
    """Go on with a run that was interrupted (Ctrl-C, a crash, a kill, a reboot).

    \b
    Example:
      uet resume run-20261124T094110-c4f2e4
    """
    with _watching(ctx, as_json) as (progress, interrupted):
        result = resume_run(
            run_id,
            settings=ctx.settings,
            store=ctx.store,
            concurrency=concurrency,
            progress=progress,
            interrupted=interrupted,
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
    stale = ctx.settings.orchestrator_stale
    status = cancel_run(ctx.store, run_id, SystemClock(), stale_after=stale)
    if status is None:
        raise UsageError(f"no run {run_id!r} (see `uet runs`)")
    if as_json:
        ctx.emit_json({"run_id": run_id, "status": status.value})
    else:
        ctx.console.print(f"run {run_id}: {status.value}")


@click.command()
@click.argument("run_id", required=False)
@click.option(
    "--reconcile",
    "reconcile_run",
    is_flag=True,
    help="Settle a run whose orchestrator died (mark it interrupted, its attempts lost, kill "
    "what is left of its processes), as `uet resume` does first. Needs write access.",
)
@json_option
@pass_context
def status(ctx: Context, run_id: str | None, reconcile_run: bool, as_json: bool) -> None:
    """Show a run and its tasks (the most recent run without RUN_ID).

    Only reads: it works on a database you cannot write. A run whose orchestrator is gone
    shows as interrupted; `uet resume RUN_ID` (or --reconcile) records that.

    \b
    Examples:
      uet status
      uet status run-20261124T094110-c4f2e4 --json
      uet status run-20261124T094110-c4f2e4 --reconcile
    """
    store = ctx.store if reconcile_run else ctx.existing_store(readonly=True)
    if store is None:
        raise UsageError("no runs yet")
    with store.reader() as tx:
        run_id = run_id or next((r.id for r in tx.list_runs(limit=1)), None)
    if run_id is None:
        raise UsageError("no runs yet")
    clock = SystemClock()
    settings = ctx.settings
    stale = settings.orchestrator_stale
    if reconcile_run:  # a run whose owner died (it no longer holds its lease): interrupted
        reconcile(store, run_id, clock, ttl=settings.run_lease_ttl, stale_after=stale)
    with store.reader() as tx:
        run = tx.get_run(run_id)
        tasks = tx.get_tasks(run_id)
    if run is None:
        raise UsageError(f"no run {run_id!r} (see `uet runs`)")
    orphaned = not run.status.finished and not owner_alive(
        store, run, clock.now(), stale_after=stale
    )
    settled = RunStatus.CANCELED if run.status is RunStatus.CANCELING else RunStatus.INTERRUPTED
    shown = settled if orphaned else run.status
    if as_json:
        ctx.emit_json(
            {
                **run.to_dict(),
                "status": shown.value,
                "recorded_status": run.status.value,
                "tasks": [_task_dict(t) for t in tasks],
            }
        )
        return
    ctx.console.print(f"run {run.id}: {shown.value}", style="bold", highlight=False)
    if orphaned:
        goes_on = "" if settled is RunStatus.CANCELED else f"`uet resume {run.id}` goes on, "
        ctx.console.print(
            f"  its orchestrator is gone (recorded {run.status.value}): "
            f"{goes_on}`uet status {run.id} --reconcile` settles it",
            highlight=False,
        )
    for task in tasks:
        code = "" if task.exit_code is None else f"exit {task.exit_code}"
        ctx.console.print(
            f"  {task.status.value:10} {task.id:40} attempts {task.attempts_used}"
            f"/{task.max_attempts}  {code}",
            highlight=False,
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
    store = ctx.existing_store(readonly=True)
    keys: list[str] = []
    if store is not None:
        with store.reader() as tx:
            keys = [t.id for t in tx.get_tasks(run_id)]
    if not keys:
        raise UsageError(f"no run {run_id!r} (see `uet runs`)")
    key = resolve_task(keys, task_id)
    path = log_path(ctx.settings.home, run_id, key)
    if not path.exists():
        ctx.err.print(f"{key} printed nothing (no {path})")
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
    created = scaffold(Path.cwd())
    for path, made in created:
        ctx.console.print(f"created  {path}" if made else f"kept     {path} (exists)")
    if any(made for _, made in created):
        ctx.console.print("next: uet run workstreams/example.yaml")


def _task_dict(task: TaskRecord) -> dict[str, object]:
    return {
        "id": task.id,
        "status": task.status.value,
        "attempts": task.attempts_used,
        "max_attempts": task.max_attempts,
        "exit_code": task.exit_code,
        "outcome": None if task.outcome is None else task.outcome.value,
    }


@contextmanager
def _watching(
    ctx: Context, quiet: bool
) -> Iterator[tuple[ConsoleProgress | None, threading.Event]]:
    """Progress on stderr, and Ctrl-C / SIGTERM turned into a clean, resumable stop."""
    interrupted = threading.Event()
    progress = None if quiet else ConsoleProgress(ctx.err)

    def handler(_signal: int, _frame: FrameType | None) -> None:
        interrupted.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield progress, interrupted
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        if progress is not None:
            progress.stop()


def _report(ctx: Context, result: RunResult, as_json: bool) -> None:
    counts = {status.value: n for status, n in sorted(result.counts.items())}
    if as_json:
        ctx.emit_json({"run_id": result.run_id, "status": result.status.value, "tasks": counts})
    else:
        summary = ", ".join(f"{n} {s}" for s, n in counts.items())
        ctx.console.print(
            f"run {result.run_id}: {result.status.value} ({summary})", highlight=False
        )
        if result.exit_code == ExitCode.INTERRUPTED:
            ctx.console.print(f"resume with: uet resume {result.run_id}")
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)
