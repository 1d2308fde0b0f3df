"""``uet scan``: the error engine's checkers over the project, findings as JSONL and SARIF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from uet.cli._signals import interrupt_on
from uet.cli.app import Context, json_option, pass_context
from uet.errors import UsageError

if TYPE_CHECKING:
    from uet.recovery.scan import ScanResult

FAIL_ON = ("info", "warning", "error", "critical", "never")


@click.command("scan")
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--output", "-o", "output", metavar="FILE.jsonl",
              help="Write one JSON record per finding (JSONL; '-' for stdout).")  # fmt: skip
@click.option("--sarif", metavar="FILE", help="Also write the findings as SARIF 2.1.0.")
@click.option("--diff", "diff_base", metavar="BASE",
              help="Keep only findings on lines changed since the git revision BASE.")  # fmt: skip
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="error", show_default=True,
              help="Exit 1 when a finding of this severity or worse exists.")  # fmt: skip
@click.option("--checker", "checkers", multiple=True, metavar="NAME",
              help="Run only this checker (repeat).")  # fmt: skip
@click.option("--no-cache", is_flag=True, help="Run every checker on every file.")
@click.option("--baseline", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Compare with this JSONL [the last scan of the same paths].")  # fmt: skip
@json_option
@pass_context
def scan(
    ctx: Context,
    paths: tuple[str, ...],
    output: str | None,
    sarif: str | None,
    diff_base: str | None,
    fail_on: str,
    checkers: tuple[str, ...],
    no_cache: bool,
    baseline: Path | None,
    as_json: bool,
) -> None:
    """Run the checkers (ruff, mypy, bandit, pytest, the project's own) over PATHs.

    The checkers run in parallel as the tasks of one recorded run (`uet status RUN`); a
    checker whose files did not change since the last scan is not run again (the cache),
    and one whose tool is missing is skipped with a note. Findings are printed one a line
    (path:line:col severity tool/rule message), or written as JSONL (--output) and SARIF
    (--sarif); --json prints the whole scan as one JSON object. Exit 1 when a finding at or
    above --fail-on exists or a checker failed, 2 for bad input, 130 when interrupted.
    See docs/recovery.md.

    \b
    Examples:
      uet scan
      uet scan src tests --output findings.jsonl --sarif findings.sarif
      uet scan --diff origin/main --fail-on error
      uet scan --checker ruff --checker mypy --json
    """
    from uet.recovery.findings import Severity  # noqa: PLC0415 - `uet --help` stays light
    from uet.recovery.scan import ScanOptions  # noqa: PLC0415
    from uet.recovery.scan import scan as run_scan  # noqa: PLC0415

    if as_json and output == "-":
        raise UsageError("--json and --output - both print on stdout: give --output a file")
    options = ScanOptions(paths=paths or (".",), checkers=checkers, diff_base=diff_base,
                          use_cache=not no_cache, baseline=baseline)  # fmt: skip
    with interrupt_on() as interrupted:
        result = run_scan(ctx.settings, lambda: ctx.store, options, interrupted=interrupted)
    threshold = None if fail_on == "never" else Severity(fail_on)
    _write(result, output, sarif)
    if as_json:
        ctx.emit_json(result.to_dict(threshold))
    elif output != "-":
        _print(result)
    raise click.exceptions.Exit(result.exit_code(threshold))


def _write(result: ScanResult, output: str | None, sarif: str | None) -> None:
    from uet.recovery.findings import write_jsonl  # noqa: PLC0415
    from uet.recovery.sarif import size_problem, to_sarif  # noqa: PLC0415

    if output == "-":
        for record in result.records():
            click.echo(json.dumps(record, sort_keys=True, ensure_ascii=False))
    elif output is not None:
        write_jsonl(Path(output), result.records())
    if sarif is not None:
        text = json.dumps(to_sarif(result), indent=1) + "\n"
        Path(sarif).write_text(text, encoding="utf-8")
        problem = size_problem(text)
        if problem is not None:
            click.echo(f"uet scan: warning: {sarif}: {problem}", err=True)


def _print(result: ScanResult) -> None:
    for finding in result.findings:
        where = finding.path or "."
        if finding.line is not None:
            where += f":{finding.line}" + (f":{finding.column}" if finding.column else "")
        message = finding.message.splitlines()[0] if finding.message else ""
        click.echo(f"{where}: {finding.severity.value} {finding.tool}/{finding.rule} {message}")
    for report in result.reports:
        if report.reason:
            click.echo(f"uet scan: {report.name} {report.status.value}: {report.reason}", err=True)
    counts = ", ".join(f"{n} {s}" for s, n in result.counts().items() if n) or "no findings"
    ran = ", ".join(f"{r.name} ({r.status.value})" for r in result.reports)
    run = f"; run {result.run_id}" if result.run_id else ""
    click.echo(f"uet scan: {counts} from {ran or 'no checker'}{run} in "
               f"{result.duration:.2f}s", err=True)  # fmt: skip
    if result.interrupted:
        click.echo("uet scan: interrupted", err=True)
