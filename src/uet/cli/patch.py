"""``uet patch list|show|validate|apply|drop``: the patch ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from uet.cli.app import Context, json_option, pass_context
from uet.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from uet.recovery.ledger import PatchLedger
    from uet.state.patches import PatchRecord


def _ledger(ctx: Context) -> PatchLedger:
    from uet.recovery.ledger import PatchLedger  # noqa: PLC0415 - the recovery stack, here only

    return PatchLedger(ctx.store)


def _policy(ctx: Context) -> Any:
    from uet.recovery.policy import load_policy  # noqa: PLC0415

    return load_policy(ctx.settings)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _summary(record: PatchRecord) -> dict[str, Any]:
    scope = record.scope
    return {
        "id": record.id,
        "state": record.state,
        "queue": record.queue,
        "confidence": record.confidence,
        "target": record.target,
        "base_commit": record.base_commit,
        "files": scope.get("files", []),
        "insertions": scope.get("insertions", 0),
        "deletions": scope.get("deletions", 0),
        "fixer": record.origin.get("fixer"),
        "findings": record.origin.get("findings", []),
        "reason": record.reason,
        "branch": record.branch,
        "commit": record.commit,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


@click.group()
def patch() -> None:
    """The patch ledger: validate patches in isolation, route them by confidence, land them.

    A patch is validated in a fresh clone at the target's head: tamper rules first (a patch
    that deletes, skips or weakens tests, edits test config or protected paths… goes to the
    manual queue), then the checks of `patch_policy` (tests, ruff, mypy, bandit); its score
    picks the queue: auto_merge (through the merge queue), review (branch uet/fix/ID) or
    manual. See docs/recovery.md.

    \b
    Examples:
      git diff > fix.diff && uet patch validate fix.diff
      uet patch list --queue manual
      uet patch show p3fa9c2e1b0a
      uet patch apply p3fa9c2e1b0a                 # an auto_merge patch
      uet patch apply p3fa9c2e1b0a --approve alice # a review or manual one
      uet patch drop p3fa9c2e1b0a --reason "superseded"
    """


@patch.command("list")
@click.option("--state", "states", multiple=True, metavar="STATE", help="Only these states.")
@click.option(
    "--queue", type=click.Choice(["auto_merge", "review", "manual"]), help="Only this queue."
)
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@json_option
@pass_context
def list_patches(
    ctx: Context, states: tuple[str, ...], queue: str | None, limit: int, as_json: bool
) -> None:
    """Patches, newest first: state, queue, confidence, files.

    \b
    Example:
      uet patch list --state quarantined --json
    """
    from uet.recovery.ledger import PatchLedger, PatchState  # noqa: PLC0415

    known = {s.value for s in PatchState}
    for state in states:
        if state not in known:
            raise UsageError(f"--state {state!r}: one of {', '.join(sorted(known))}")
    store = ctx.existing_store(readonly=True)
    found: list[PatchRecord] = []
    if store is not None:
        found = PatchLedger(store).patches(states=states or None, queue=queue, limit=limit)
    if as_json:
        ctx.emit_json([_summary(r) for r in found])
        return
    if not found:
        click.echo("no patches")
        return
    for record in found:
        score = "-" if record.confidence is None else f"{record.confidence:.2f}"
        files = ", ".join(record.scope.get("files", [])[:3])
        click.echo(
            f"{record.id}  {record.state:<12} {record.queue or '-':<10} {score:>5}  "
            f"{_when(record.created_at)}  {files}"
        )


@patch.command()
@click.argument("patch_id", metavar="PATCH")
@click.option("--diff", "with_diff", is_flag=True, help="Print the diff too.")
@json_option
@pass_context
def show(ctx: Context, patch_id: str, with_diff: bool, as_json: bool) -> None:
    """One patch: its origin, scope, signals, and every move it made.

    \b
    Example:
      uet patch show p3fa9 --diff
    """
    ledger = _ledger(ctx)
    record = ledger.get(patch_id)
    history = ledger.history(record.id)
    if as_json:
        ctx.emit_json(
            {
                **_summary(record),
                "origin": record.origin,
                "scope": record.scope,
                "signals": record.signals,
                "diff": record.diff,
                "transitions": [
                    {
                        "ts": t.ts,
                        "from": t.from_state,
                        "to": t.to_state,
                        "reason": t.reason,
                        "data": t.data,
                    }
                    for t in history
                ],
            }
        )
        return
    summary = _summary(record)
    for key in ("id", "state", "queue", "confidence", "target", "base_commit", "fixer"):
        click.echo(f"{key + ':':<13} {summary[key] if summary[key] is not None else '-'}")
    click.echo(f"{'files:':<13} {', '.join(summary['files'])}")
    click.echo(f"{'lines:':<13} +{summary['insertions']} -{summary['deletions']}")
    if record.branch:
        click.echo(f"{'branch:':<13} {record.branch}")
    for signal in record.signals:
        click.echo(f"  signal {signal['name']:<10} {signal['status']:<14} {signal['detail']}")
    for move in history:
        click.echo(
            f"  {_when(move.ts)}  {move.from_state or '-'} -> {move.to_state}: {move.reason}"
        )
    if with_diff:
        click.echo(record.diff, nl=False)


@patch.command()
@click.argument("patch_ref", metavar="PATCH|FILE")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--into", "target", metavar="BRANCH", help="The branch it is for [current].")
@click.option("--base", metavar="REF", help="The commit the diff was made on [the target].")
@click.option("--finding", "findings", multiple=True, metavar="FINGERPRINT")
@click.option("--finding-file", "finding_files", multiple=True, metavar="PATH")
@click.option("--fixer", default="manual", show_default=True, help="What made the patch.")
@click.option("--apply", "then_apply", is_flag=True, help="Land it too if it is auto_merge.")
@json_option
@pass_context
def validate(
    ctx: Context,
    patch_ref: str,
    repo: Path | None,
    target: str | None,
    base: str | None,
    findings: tuple[str, ...],
    finding_files: tuple[str, ...],
    fixer: str,
    then_apply: bool,
    as_json: bool,
) -> None:
    """Validate a patch in a fresh clone at the target's head and route it.

    PATCH is a patch id, or a diff file (`git diff` output) to record first. Exit 0 when
    it reached a queue, 1 when it does not apply or a tamper rule quarantined it.

    \b
    Examples:
      git diff > fix.diff && uet patch validate fix.diff --finding-file src/app/io.py
      uet patch validate p3fa9 --json
    """
    from uet.recovery.landing import land  # noqa: PLC0415
    from uet.recovery.ledger import PatchState  # noqa: PLC0415
    from uet.recovery.patches import Origin  # noqa: PLC0415
    from uet.recovery.validate import submit  # noqa: PLC0415
    from uet.recovery.validate import validate as run_validation  # noqa: PLC0415

    ledger = _ledger(ctx)
    policy = _policy(ctx)
    file = Path(patch_ref)
    if file.is_file():
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{file}: cannot read the patch ({exc})") from None
        origin = Origin(fixer, findings=findings, files=finding_files)
        record = submit(
            ledger, text, repo=repo or ctx.settings.root, target=target, base=base, origin=origin
        )
        patch_ref = record.id
    result = run_validation(ledger, patch_ref, policy=policy, home=ctx.settings.home)
    landed = None
    if then_apply and result.queue is not None and result.queue.value == "auto_merge":
        landed = land(ledger, result.patch_id, policy=policy, home=ctx.settings.home)
    if as_json:
        body = result.to_json()
        if landed is not None:
            body["landing"] = landed.to_json()
        ctx.emit_json(body)
    else:
        where = result.queue.value if result.queue is not None else "-"
        click.echo(f"{result.patch_id}: {result.state.value} ({where}): {result.reason}")
        for signal in result.signals:
            click.echo(f"  {signal.name:<10} {signal.status.value:<14} {signal.detail}")
        for reason in result.tamper:
            click.echo(f"  tamper {reason}")
        if result.branch:
            click.echo(f"  review branch: {result.branch}")
        if landed is not None:
            click.echo(f"  landed: {landed.state.value}: {landed.reason}")
    failed = result.state in (PatchState.APPLY_FAILED, PatchState.QUARANTINED)
    if failed or (landed is not None and not landed.ok):
        raise click.exceptions.Exit(int(ExitCode.FAILED))


@patch.command()
@click.argument("patch_id", metavar="PATCH")
@click.option("--approve", metavar="NAME", help="A person's approval (review, manual queue).")
@json_option
@pass_context
def apply(ctx: Context, patch_id: str, approve: str | None, as_json: bool) -> None:
    """Land a queued patch through the merge queue (gated, fast-forward, never around it).

    An auto_merge patch lands on its own; a review or manual one needs --approve NAME
    (recorded as a decision). Exit 1 when the merge queue refused it.

    \b
    Examples:
      uet patch apply p3fa9
      uet patch apply p3fa9 --approve alice
    """
    from uet.recovery.landing import land  # noqa: PLC0415

    result = land(
        _ledger(ctx), patch_id, policy=_policy(ctx), home=ctx.settings.home, approve=approve
    )
    if as_json:
        ctx.emit_json(result.to_json())
    else:
        click.echo(f"{result.patch_id}: {result.state.value}: {result.reason}")
    if not result.ok:
        raise click.exceptions.Exit(int(ExitCode.FAILED))


@patch.command()
@click.argument("patch_id", metavar="PATCH")
@click.option("--reason", default="dropped by hand", show_default=True)
@json_option
@pass_context
def drop(ctx: Context, patch_id: str, reason: str, as_json: bool) -> None:
    """Give a patch up (it stays in the ledger, state dropped).

    \b
    Example:
      uet patch drop p3fa9 --reason "superseded by p77ab"
    """
    from uet.recovery.ledger import PatchState  # noqa: PLC0415

    ledger = _ledger(ctx)
    record = ledger.get(patch_id)
    ledger.move(record.id, PatchState.DROPPED, reason)
    if as_json:
        ctx.emit_json(_summary(ledger.get(record.id)))
    else:
        click.echo(f"{record.id}: dropped ({reason})")
