"""``uet triage``: classify test failures, rerun them through uet, say what to do with each."""

from __future__ import annotations

import shlex
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from uet.cli._signals import interrupt_on
from uet.cli.app import Context, json_option, pass_context
from uet.errors import UsageError

if TYPE_CHECKING:
    from uet.triage.model import Verdict
    from uet.triage.report import TriageReport


class _CommandAfterDashes(click.Command):
    """Keeps what follows ``--`` as the command to run (``ctx.meta["triage.command"]``):
    before it come JUnit files and options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["triage.command"] = args[cut + 1 :]
            args = args[:cut]
        return super().parse_args(ctx, args)


@click.command("triage", cls=_CommandAfterDashes)
@click.option(
    "--rerun",
    "reruns",
    type=click.IntRange(0, 20),
    default=3,
    show_default=True,
    help="Reruns of each failure alone (0: classify only, rerun nothing).",
)
@click.option(
    "--rerun-limit",
    type=click.IntRange(0),
    default=100,
    show_default=True,
    help="Rerun at most this many failures (the first); the rest keep their static class.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="pytest's rootdir, where node ids start and reruns run [the current folder].",
)
@click.option(
    "--pytest",
    "program",
    metavar="CMD",
    help="How to start pytest for reruns [python -m pytest; with --, the command's].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="S",
    help="Seconds a rerun may take.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Reruns at once (tests that share files or ports want 1).",
)
@click.option("--commit", metavar="SHA", help="The commit the report tested [HEAD of --root].")
@click.option(
    "--merged",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the reports with <flakyFailure>/<rerunFailure> for each rerun.",
)
@click.option(
    "--storm-ratio",
    type=click.FloatRange(0, 1),
    default=0.8,
    show_default=True,
    help="More than this share of the tests failed: one infra item, no flaky labels.",
)
@click.option(
    "--release-after",
    type=click.IntRange(1),
    default=50,
    show_default=True,
    help="Clean runs in a row that release a quarantined test.",
)
@click.option(
    "--release-days",
    type=click.FloatRange(0, min_open=True),
    default=7.0,
    show_default=True,
    help="...or days since its last failure (with a clean run now).",
)
@click.option(
    "--quarantined",
    "list_quarantine",
    is_flag=True,
    help="Print the quarantine (every test's state) and exit.",
)
@json_option
@click.argument("reports", nargs=-1, type=click.Path(path_type=Path))
@pass_context
@click.pass_context
def triage(
    click_ctx: click.Context,
    ctx: Context,
    reruns: int,
    rerun_limit: int,
    root: Path | None,
    program: str | None,
    timeout: float | None,
    jobs: int,
    commit: str | None,
    merged: Path | None,
    storm_ratio: float,
    release_after: int,
    release_days: float,
    list_quarantine: bool,
    as_json: bool,
    reports: tuple[Path, ...],
) -> None:
    """Classify test failures and say what to do with each; rerun them to tell flaky from broken.

    Reads JUnit XML (pytest --junitxml), or runs `-- pytest ARGS` first (a recorded run).
    Each failure gets a class: import, syntax, collection, setup, assertion, timeout,
    infra, flaky, order_dependent or unknown, and the action of its class. Failures are
    rerun alone (--rerun N, each rerun a task of a recorded run: `uet logs RUN TASK`);
    one that passes alone is rerun after the tests that ran before it, and when it fails
    there the polluter is found by bisection. A test that passed and failed on the same
    commit is quarantined: it keeps running, its failures stop counting, and it is released
    after --release-after clean runs or --release-days without a failure. When more than
    --storm-ratio of the tests failed, one infra item is filed instead. --json prints the
    verdicts (with --, pytest's own output then goes to its log only). Exit 0 when no
    failure counts, 1 when one does, 2 for a bad or hostile report. See docs/recovery.md.

    \b
    Examples:
      uet triage report.xml
      uet triage --rerun 5 --json report.xml
      uet triage -- pytest -q tests
      uet triage --merged merged.xml -- python -m pytest tests/unit
      uet triage --rerun 0 --commit "$GITHUB_SHA" junit/*.xml
      uet triage --quarantined --json
    """
    if list_quarantine:
        _print_quarantine(ctx, as_json)
        return
    command: list[str] = click_ctx.meta.get("triage.command", [])
    if command and reports:
        raise UsageError("give JUnit files or a command after --, not both")
    if not command and not reports:
        raise UsageError("give JUnit files, or a pytest command after -- (uet triage -- pytest)")
    folder = (root or Path.cwd()).absolute()
    policy = {
        "reruns": reruns,
        "rerun_limit": rerun_limit,
        "storm_ratio": storm_ratio,
        "release_after": release_after,
        "release_days": release_days,
    }
    interrupted = threading.Event()
    with interrupt_on(interrupted=interrupted):
        code = _triage(
            ctx,
            command,
            reports,
            folder,
            program,
            policy,
            timeout,
            jobs,
            commit,
            merged,
            as_json,
            interrupted,
        )
    raise click.exceptions.Exit(code)


def _triage(
    ctx: Context,
    command: list[str],
    reports: tuple[Path, ...],
    folder: Path,
    program: str | None,
    policy: dict[str, Any],
    timeout: float | None,
    jobs: int,
    commit: str | None,
    merged: Path | None,
    as_json: bool,
    interrupted: threading.Event,
) -> int:
    from uet.execution.api import Stdio  # noqa: PLC0415 - `uet --help` stays light
    from uet.triage import (  # noqa: PLC0415
        Rerunner,
        TriagePolicy,
        current_commit,
        read_reports,
        write_merged,
    )
    from uet.triage import triage as run_triage  # noqa: PLC0415
    from uet.triage.running import run_pytest  # noqa: PLC0415

    settings, store = ctx.settings, ctx.store
    argv = tuple(shlex.split(program)) if program else (sys.executable, "-m", "pytest")
    if command:
        stdio = Stdio.NULL if as_json else Stdio.PASSTHROUGH
        ran = run_pytest(
            command,
            settings=settings,
            store=store,
            root=folder,
            stdio=stdio,
            interrupted=interrupted,
        )
        if ran.result.exit_code == 130:
            click.echo(f"uet triage: interrupted (uet resume {ran.result.run_id})", err=True)
            return 130
        if not ran.report.is_file():
            click.echo(
                f"uet triage: pytest wrote no report (exit {ran.result.exit_code}; "
                f"uet logs {ran.result.run_id} {ran.result.task_id})",
                err=True,
            )
            return 2 if ran.result.exit_code in (2, 4, 126, 127) else 1
        reports = (ran.report,)
        argv = ran.program if not program else argv
    results = read_reports(reports, root=folder)
    rerunner = Rerunner(
        settings=settings,
        store=store,
        root=folder,
        program=argv,
        timeout=timeout,
        concurrency=jobs,
        interrupted=interrupted,
    )
    report = run_triage(
        results,
        rerunner=rerunner,
        store=store,
        commit=commit or current_commit(folder),
        policy=TriagePolicy(**policy),
    )
    if merged is not None:
        write_merged(reports, report.verdicts, merged, root=folder)
    if as_json:
        ctx.emit_json(report.to_dict())
    else:
        _print_report(report)
    return 130 if interrupted.is_set() else report.exit_code


def _print_report(report: TriageReport) -> None:
    click.echo(
        f"triage {report.triage_id}: {report.tests} tests, {len(report.verdicts)} "
        f"failing (commit {report.commit or 'unknown'})"
    )
    if report.storm is not None:
        storm = report.storm
        click.echo(
            f"infra: {storm.failing} of {storm.ran} tests failed ({storm.ratio:.0%}): "
            "one infra item, no test labelled flaky; action: alert"
        )
    for verdict in report.verdicts:
        mark = " [quarantined]" if verdict.quarantined else ""
        click.echo(f"{verdict.failure_class.value:<16} {verdict.test_id}{mark}")
        click.echo(f"    action: {verdict.action.value}; {_why(verdict)}")
    for test in report.quarantined:
        click.echo(f"quarantined: {test}")
    for test in report.released:
        click.echo(f"released: {test}")
    if report.runs:
        click.echo(f"reruns: {', '.join(report.runs)} (uet status RUN)")


def _why(verdict: Verdict) -> str:
    parts = [verdict.headline, verdict.reason]
    if verdict.polluter:
        parts.append(f"polluter: {verdict.polluter}")
    return "; ".join(part for part in parts if part)


def _print_quarantine(ctx: Context, as_json: bool) -> None:
    from uet.state.triage import quarantine  # noqa: PLC0415

    store = ctx.existing_store(readonly=True)
    records = {}
    if store is not None:
        with store.reader() as tx:
            records = quarantine(tx)
    if as_json:
        ctx.emit_json([record.to_dict() for record in records.values()])
        return
    if not records:
        click.echo("no test is or was quarantined")
    for record in records.values():
        click.echo(
            f"{record.status.value:<12} {record.test_id} (clean runs: "
            f"{record.clean_runs}; {record.reason})"
        )
