"""``uet db``: migrations, drift check, backups."""

from __future__ import annotations

from pathlib import Path

import click

from uet.cli.app import Context, json_option, pass_context
from uet.errors import ExitCode
from uet.state import backup as backups
from uet.state import integrity, schema
from uet.state.database import sqlite_path


@click.group()
def db() -> None:
    """Migrations and backups of the state database.

    \b
    Examples:
      uet db status
      uet db upgrade
      uet db backup && uet db prune --keep-days 30
    """


@db.command()
@json_option
@pass_context
def status(ctx: Context, as_json: bool) -> None:
    """Show the database, its schema revision and the revision this uet needs.

    \b
    Example:
      uet db status --json
    """
    engine = ctx.reading_engine
    state = schema.status(engine)
    info = {
        "url": engine.url.render_as_string(hide_password=True),
        "revision": state.current,
        "head": state.head,
        "up_to_date": state.up_to_date,
    }
    if as_json:
        ctx.emit_json(info)
        return
    ctx.console.print(f"database  {info['url']}")
    ctx.console.print(f"revision  {state.current or '(none)'}  (this uet needs {state.head})")
    if not state.up_to_date:
        ctx.console.print("run `uet db upgrade` to bring it up to date")


@db.command()
@click.argument("revision", default="head")
@click.option("--no-backup", is_flag=True, help="Do not back up a SQLite database first.")
@json_option
@pass_context
def upgrade(ctx: Context, revision: str, no_backup: bool, as_json: bool) -> None:
    """Create the database, or migrate it to REVISION (default: the newest).

    A SQLite database that holds data is backed up first (see `uet db backups`).

    \b
    Example:
      uet db upgrade
    """
    _migrate(ctx, "upgrade", revision, no_backup=no_backup, as_json=as_json)


@db.command(context_settings={"ignore_unknown_options": True})  # lets "-1" be a revision
@click.argument("revision")
@click.option("--no-backup", is_flag=True, help="Do not back up a SQLite database first.")
@json_option
@pass_context
def downgrade(ctx: Context, revision: str, no_backup: bool, as_json: bool) -> None:
    """Migrate the database back to REVISION (an id, -1 for one step, or base).

    Columns and tables the older schema lacks are dropped with their data: a SQLite
    database is backed up first.

    \b
    Example:
      uet db downgrade -1
    """
    _migrate(ctx, "downgrade", revision, no_backup=no_backup, as_json=as_json)


def _migrate(
    ctx: Context, direction: str, revision: str, *, no_backup: bool, as_json: bool
) -> None:
    settings = ctx.settings
    done = backups.migrate(
        ctx.engine,
        settings.db,
        settings.backup_dir,
        direction,
        revision,
        backup_first=not no_backup,
    )
    before, after, saved = done.before, done.after, done.backup
    if as_json:
        ctx.emit_json({"from": before, "to": after, "backup": saved})
        return
    if before == after:
        ctx.console.print(f"already at revision {after}")
    else:
        ctx.console.print(f"{direction}d {before or '(empty)'} → {after}")
    if saved is not None:
        ctx.console.print(f"backup    {saved}")


@db.command()
@json_option
@pass_context
def check(ctx: Context, as_json: bool) -> None:
    """Exit 1 when the database is not at the newest revision or differs from the models;
    exit 3 when the SQLite file is malformed (PRAGMA quick_check), naming the newest backup
    that matches its manifest.

    Like `alembic check`: run it on a freshly upgraded database to prove the migrations
    and the table definitions agree (./scripts/test does).

    \b
    Example:
      uet --db sqlite:////tmp/check.db db upgrade && uet --db sqlite:////tmp/check.db db check
    """
    settings = ctx.settings
    damage = backups.database_problems(settings.db)
    if damage:
        _malformed(ctx, damage, as_json)
    engine = ctx.reading_engine
    state = schema.status(engine)
    problems = []
    if not state.up_to_date:
        problems.append(
            f"database at revision {state.current or '(none)'}, this uet needs {state.head}: "
            "run `uet db upgrade`"
        )
    else:
        problems += schema.drift(engine)
    if as_json:
        ctx.emit_json({"ok": not problems, "problems": problems})
    elif problems:
        for problem in problems:
            ctx.err.print(f"drift: {problem}")
    else:
        ctx.console.print(f"ok: schema at {state.head} matches the models")
    if problems:
        raise click.exceptions.Exit(int(ExitCode.FAILED))


def _malformed(ctx: Context, damage: list[str], as_json: bool) -> None:
    settings = ctx.settings
    good = backups.newest_good(settings.backup_dir)
    where = sqlite_path(settings.db)
    if as_json:
        ctx.emit_json(
            {
                "ok": False,
                "malformed": True,
                "problems": damage,
                "newest_good_backup": None if good is None else str(good.path),
            }
        )
    else:
        hint = (
            f"newest good backup: {good.path} (it matches its manifest): "
            f"`uet db restore {good.path}`"
            if good is not None
            else f"no backup in {settings.backup_dir} matches its manifest"
        )
        ctx.err.print(
            f"uet: error: {where} is malformed: {'; '.join(damage)}; {hint}", markup=False
        )
    raise click.exceptions.Exit(int(ExitCode.INFRA))


@db.command(name="backup")
@json_option
@pass_context
def backup_command(ctx: Context, as_json: bool) -> None:
    """Take an online backup into the backups folder (default .uet/backups/).

    \b
    Example:
      uet db backup
    """
    settings = ctx.settings
    path = backups.backup(settings.db, settings.backup_dir, pg_bindir=settings.pg_bindir)
    manifest = integrity.manifest_path(path)
    if as_json:
        ctx.emit_json({"backup": str(path), "size": path.stat().st_size, "manifest": manifest})
    else:
        ctx.console.print(f"backup    {path}")
        ctx.console.print(f"manifest  {manifest}")


@db.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--force",
    is_flag=True,
    help="Skip only the digest check (no manifest, or the file no longer matches it).",
)
@json_option
@pass_context
def restore(ctx: Context, file: Path, force: bool, as_json: bool) -> None:
    """Replace the database with the backup FILE, after verifying it.

    Verified first, and refused (exit 2, nothing replaced) when any check fails: its size
    and SHA-256 against FILE.manifest.json, then (SQLite) PRAGMA integrity_check, a schema
    revision this uet knows, every foreign key, every JSON column, and the row counts of the
    manifest. The database being replaced is kept as replaced-<time> in the backups folder.

    \b
    Example:
      uet db restore .uet/backups/state-20261124T020000Z.db
    """
    settings = ctx.settings
    result = backups.restore(
        settings.db, file, settings.backup_dir, pg_bindir=settings.pg_bindir, force=force
    )
    if as_json:
        ctx.emit_json(
            {"restored": result.restored, "replaced": result.replaced, "revision": result.revision}
        )
        return
    ctx.console.print(f"restored  {result.restored}")
    if result.replaced is not None:
        ctx.console.print(f"previous  {result.replaced}")
    if result.revision is not None and result.revision != schema.HEAD:
        ctx.console.print(f"the backup is at revision {result.revision}: run `uet db upgrade`")


@db.command()
@click.option(
    "--keep-days",
    type=click.IntRange(min=0),
    help="Keep backups this many days (default: setting backups.retention_days, 30).",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@json_option
@pass_context
def prune(ctx: Context, keep_days: int | None, dry_run: bool, as_json: bool) -> None:
    """Delete backups older than the retention period.

    \b
    Example:
      uet db prune --keep-days 7 --dry-run
    """
    settings = ctx.settings
    days = settings.backup_retention_days if keep_days is None else keep_days
    removed = backups.prune(settings.backup_dir, keep_days=days, dry_run=dry_run)
    if as_json:
        ctx.emit_json({"removed": [str(item.path) for item in removed], "dry_run": dry_run})
        return
    verb = "would delete" if dry_run else "deleted"
    for item in removed:
        ctx.console.print(f"{verb}  {item.path}")
    if not removed:
        ctx.console.print(f"no backup older than {days} days")


@db.command(name="backups")
@json_option
@pass_context
def list_command(ctx: Context, as_json: bool) -> None:
    """List backups, oldest first, and whether each matches its manifest (size, SHA-256).

    \b
    Example:
      uet db backups --json
    """
    items = backups.list_backups(ctx.settings.backup_dir)
    problems = [item.problem() for item in items]
    if as_json:
        ctx.emit_json(
            [
                {
                    "path": str(i.path),
                    "taken_at": i.taken_at,
                    "size": i.size,
                    "kind": i.kind,
                    "verified": problem is None,
                    "problem": problem,
                }
                for i, problem in zip(items, problems, strict=True)
            ]
        )
        return
    if not items:
        ctx.console.print(f"no backups in {ctx.settings.backup_dir}")
    for item, problem in zip(items, problems, strict=True):
        verdict = "verified" if problem is None else f"NOT VERIFIED: {problem}"
        ctx.console.print(
            f"{item.path}  {item.size:>12,} bytes  {item.kind:8}  {verdict}", markup=False
        )
