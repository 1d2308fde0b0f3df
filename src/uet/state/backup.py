"""Backups of the state database: online, verified, kept for a number of days.

* SQLite: ``VACUUM INTO`` a temporary name beside the target, integrity-checked, then renamed:
  a consistent, compact copy taken while uet keeps running, never a half-written file.
* PostgreSQL: ``pg_dump --format=custom`` the same way.

Every backup gets a manifest beside it (``<backup>.manifest.json``: size, SHA-256, schema
revision, row counts; see :mod:`uet.state.integrity`), written after the backup passed its
checks. ``restore`` verifies the file before it touches anything: the digest against the
manifest (skipped only with ``force``), then for SQLite the integrity check, a uet schema
revision this version knows, every foreign key and every JSON column, and the row counts of
the manifest; for PostgreSQL ``pg_restore --list`` and the revision. Then it saves the current
database as ``replaced-<time>`` beside the backups, then replaces the contents.
Backups are named ``state-<UTC time>.db`` (``.dump`` for PostgreSQL); ``prune`` removes those
older than the retention period, judged by the time in the name, with their manifests.
"""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from uet.errors import BackupError, InvalidBackupError, StoreError
from uet.state import integrity, schema
from uet.state.database import (
    dispose_engines,
    get_engine,
    sqlite_path,
)
from uet.state.integrity import Manifest
from uet.state.sqlite_files import open_sqlite_readonly, read_only_problem
from uet.state.tables import metadata

STAMP = "%Y%m%dT%H%M%SZ"
PREFIXES = ("state-", "replaced-")
SUFFIXES = (".db", ".dump")


@dataclass(frozen=True, slots=True)
class BackupFile:
    path: Path
    taken_at: float  # seconds since the epoch, from the name
    size: int

    @property
    def kind(self) -> str:
        return "replaced" if self.path.name.startswith("replaced-") else "backup"

    def problem(self) -> str | None:
        """None when the file matches its manifest (size and SHA-256); else what is wrong."""
        return integrity.verified(self.path)


@dataclass(frozen=True, slots=True)
class RestoreResult:
    restored: Path
    replaced: Path | None  # where the database that was replaced was saved
    revision: str | None  # schema revision of the restored database


def backup(
    url: str, folder: Path, *, pg_bindir: Path | None = None, prefix: str = "state-"
) -> Path:
    """Take an online backup of the database at ``url`` into ``folder``, with its manifest;
    returns its path."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"{folder}: cannot hold backups ({exc.strerror})") from exc
    db_file = sqlite_path(url)
    suffix = ".db" if db_file is not None else ".dump"
    target = _free_name(folder, prefix, suffix)
    partial = target.with_name(f".{target.name}.partial")
    partial_manifest = target.with_name(f".{target.name}{integrity.MANIFEST_SUFFIX}.partial")
    partial.unlink(missing_ok=True)
    try:
        if db_file is not None:
            _sqlite_backup(db_file, partial)
            revision, counts = _verify_sqlite(partial)
        else:
            _pg_run(pg_bindir, "pg_dump", url, "--format=custom", f"--file={partial}")
            revision, counts = _verify_dump(partial, pg_bindir), _pg_row_counts(url)
        manifest = integrity.make_manifest(
            partial,
            revision=revision,
            row_counts=counts,
            dialect="sqlite" if db_file is not None else "postgresql",
        )
        integrity.write_manifest(dataclasses.replace(manifest, file=target.name), partial_manifest)
        _durable_replace(partial, target)
        _durable_replace(partial_manifest, integrity.manifest_path(target))
    except InvalidBackupError as exc:
        raise BackupError(f"the backup just taken failed its check: {exc.problem}") from exc
    except OSError as exc:
        raise BackupError(f"{target}: the backup could not be written ({exc})") from exc
    finally:
        partial.unlink(missing_ok=True)
        partial_manifest.unlink(missing_ok=True)
    return target


@dataclass(frozen=True, slots=True)
class Migration:
    before: str | None  # schema revisions
    after: str | None
    backup: Path | None  # the backup taken first, if any


def migrate(
    engine: sa.Engine,
    url: str,
    folder: Path,
    direction: str,
    revision: str,
    *,
    backup_first: bool = True,
) -> Migration:
    """Upgrade or downgrade ``engine``'s database (at ``url``) to ``revision``. A SQLite
    database that holds data is backed up into ``folder`` first (unless ``backup_first`` is
    False): a migration that goes wrong can be undone with ``uet db restore``."""
    db_file = sqlite_path(url)
    if db_file is not None and db_file.exists() and (problem := read_only_problem(db_file)):
        raise StoreError(f"{db_file}: cannot be written ({problem}); migrating writes to it")
    before = schema.status(engine).current
    saved = None
    if backup_first and before is not None and _has_data(sqlite_path(url)):
        saved = backup(url, folder)
    if direction == "upgrade":
        schema.upgrade(engine, revision)
    else:
        schema.downgrade(engine, revision)
    return Migration(before, schema.status(engine).current, saved)


def _has_data(db_file: Path | None) -> bool:
    """Whether ``db_file`` is a SQLite file with something in it."""
    return db_file is not None and db_file.exists() and db_file.stat().st_size > 0


def _durable_replace(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` with both the file and the rename on disk.

    Neither VACUUM INTO nor pg_dump fsyncs what it writes, and after a restore the
    ``replaced-`` copy may be the only one left of the old database.
    """
    with source.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(source, target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _save_replaced(url: str, db_file: Path, folder: Path) -> Path:
    """Keep the database about to be replaced: a consistent copy when it can be read; else
    (a corrupt database is exactly when a restore is needed) its raw files, which are then
    removed so that the backup can be copied into a fresh file."""
    try:
        return backup(url, folder, prefix="replaced-")
    except BackupError:
        target = _free_name(folder, "replaced-", ".db")
        for suffix in ("", "-wal", "-shm"):
            part = db_file.with_name(db_file.name + suffix)
            if part.exists():
                shutil.copy2(part, target.with_name(target.name + suffix))
                part.unlink()
        return target


def restore(
    url: str, path: Path, folder: Path, *, pg_bindir: Path | None = None, force: bool = False
) -> RestoreResult:
    """Replace the database at ``url`` with the backup ``path``, after verifying it.

    The database being replaced is first saved in ``folder`` as ``replaced-<time>``.
    Raises :class:`InvalidBackupError` (nothing replaced) when the file is not a sound backup.
    ``force`` skips only the digest check (a backup without a manifest, or one that no longer
    matches it); every other check still runs.
    """
    if not path.is_file():
        raise InvalidBackupError(str(path), "no such file")
    manifest = _checked_manifest(path, force=force)
    db_file = sqlite_path(url)
    if db_file is None:
        return _restore_postgres(url, path, folder, pg_bindir, manifest)
    return _restore_sqlite(url, db_file, path, folder, manifest)


def _checked_manifest(path: Path, *, force: bool) -> Manifest | None:
    """The backup's manifest once its digest matches (with ``force``: whatever there is)."""
    manifest = integrity.read_manifest(path)
    if isinstance(manifest, str):
        if force:
            return None
        raise InvalidBackupError(
            str(path),
            f"{manifest}, so its SHA-256 cannot be checked "
            "(`uet db restore --force` restores it without that check)",
        )
    problem = None if force else integrity.digest_problem(path, manifest)
    if problem is not None:
        raise InvalidBackupError(str(path), f"{problem} (`--force` skips this check)")
    return manifest


def newest_good(folder: Path) -> BackupFile | None:
    """The newest backup in ``folder`` that matches its manifest."""
    return next((item for item in reversed(list_backups(folder)) if item.problem() is None), None)


def database_problems(url: str) -> list[str]:
    """What ``PRAGMA quick_check`` finds wrong with a SQLite database (empty: sound, or not
    SQLite); a file SQLite cannot read at all is one problem."""
    db_file = sqlite_path(url)
    if db_file is None or not db_file.exists():
        return []
    try:
        with contextlib.closing(open_sqlite_readonly(db_file)) as conn:
            return integrity.structure_problems(conn, quick=True)
    except sqlite3.DatabaseError as exc:
        return [f"not a readable SQLite database ({exc})"]
    except StoreError as exc:
        return [f"not a readable SQLite database ({exc.__cause__ or exc})"]


def _restore_sqlite(
    url: str, db_file: Path, path: Path, folder: Path, manifest: Manifest | None
) -> RestoreResult:
    revision, _ = _verify_sqlite(path, manifest)
    replaced = None
    if _has_data(db_file):
        folder.mkdir(parents=True, exist_ok=True)
        replaced = _save_replaced(url, db_file, folder)
    dispose_engines()  # pooled connections of this process would keep the old pages cached
    db_file.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(_open_readonly(path)) as source,
        contextlib.closing(sqlite3.connect(db_file, timeout=60)) as destination,
    ):
        # The backup API copies the pages under the database's locks: other connections,
        # in this process or another, see the old contents or the new, never a mixture.
        source.backup(destination)
    return RestoreResult(restored=path, replaced=replaced, revision=revision)


def _restore_postgres(
    url: str, path: Path, folder: Path, bindir: Path | None, manifest: Manifest | None
) -> RestoreResult:
    revision = _verify_dump(path, bindir)
    if manifest is not None and manifest.schema_revision not in (None, revision):
        raise InvalidBackupError(
            str(path),
            f"schema revision {revision}, its manifest says {manifest.schema_revision}",
        )
    replaced = backup(url, folder, pg_bindir=bindir, prefix="replaced-")
    _drop_uet_tables(url)  # tables of a newer schema are not in the dump: --clean misses them
    try:
        _pg_run(bindir, "pg_restore", url, "--no-owner", "--single-transaction", str(path))
    except BackupError:
        _pg_run(bindir, "pg_restore", url, "--no-owner", "--single-transaction", str(replaced))
        raise
    finally:
        dispose_engines()
    return RestoreResult(restored=path, replaced=replaced, revision=revision)


def _verify_dump(path: Path, bindir: Path | None) -> str:
    """A pg_dump archive of a uet database at a revision this uet knows: its revision."""
    listing = _pg_run(bindir, "pg_restore", None, "--list", str(path), invalid=path)
    if f"TABLE DATA public {schema.VERSION_TABLE}" not in listing:
        raise InvalidBackupError(str(path), "not a uet database (no schema version)")
    data = _pg_run(
        bindir,
        "pg_restore",
        None,
        "--data-only",
        f"--table={schema.VERSION_TABLE}",
        "--file=-",
        str(path),
        invalid=path,
    )
    found = [line.strip() for line in data.split(" FROM stdin;", 1)[-1].splitlines()]
    revision = next((line for line in found if line and line != "\\."), "")
    if revision not in schema.revisions():
        raise InvalidBackupError(str(path), f"schema revision {revision!r} is unknown to this uet")
    return revision


def _pg_row_counts(url: str) -> dict[str, int]:
    """Rows per uet table, counted just after the dump (writes in between are not in it)."""
    engine = get_engine(url)
    with engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
        return {
            table.name: int(
                conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            )
            for table in metadata.sorted_tables
            if table.name in present
        }


def _drop_uet_tables(url: str) -> None:
    engine = get_engine(url)
    with engine.begin() as conn:
        tables = [*reversed(metadata.sorted_tables), sa.table(schema.VERSION_TABLE)]
        for table in tables:
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table.name}" CASCADE')


def list_backups(folder: Path) -> list[BackupFile]:
    """Backups in ``folder``, oldest first (files not named by uet are ignored)."""
    found = []
    for path in folder.glob("*") if folder.is_dir() else ():
        taken_at = _parse_stamp(path.name)
        if taken_at is not None and path.is_file():
            found.append(BackupFile(path=path, taken_at=taken_at, size=path.stat().st_size))
    return sorted(found, key=lambda item: (item.taken_at, item.path.name))


def prune(
    folder: Path, *, keep_days: int, now: float | None = None, dry_run: bool = False
) -> list[BackupFile]:
    """Delete backups older than ``keep_days`` days; returns what was (or would be) deleted."""
    cutoff = (time.time() if now is None else now) - keep_days * 86_400
    old = [item for item in list_backups(folder) if item.taken_at < cutoff]
    if not dry_run:
        for item in old:
            item.path.unlink(missing_ok=True)
            integrity.manifest_path(item.path).unlink(missing_ok=True)
    return old


# -- SQLite ---------------------------------------------------------------------------------


def _sqlite_backup(db_file: Path, target: Path) -> None:
    if not db_file.exists():
        raise BackupError(f"{db_file}: no database to back up")
    # Read-only: a backup needs no write access to the database (nor to its folder).
    try:
        conn = open_sqlite_readonly(db_file, timeout=60)
    except StoreError as exc:
        raise BackupError(f"{db_file}: backup failed: {exc.__cause__}") from exc
    with contextlib.closing(conn):
        conn.isolation_level = None
        try:
            conn.execute("VACUUM INTO ?", (str(target),))
        except sqlite3.Error as exc:
            raise BackupError(f"{db_file}: backup failed: {exc}") from exc


def _open_readonly(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _verify_sqlite(
    path: Path, manifest: Manifest | None = None
) -> tuple[str | None, dict[str, int]]:
    """Check a SQLite backup, structure and contents (and against ``manifest`` when given);
    return its schema revision and row counts. Raises :class:`InvalidBackupError`."""
    try:
        with contextlib.closing(_open_readonly(path)) as conn:
            problems = integrity.structure_problems(conn, quick=False)
            if problems:
                raise InvalidBackupError(str(path), "; ".join(problems))
            try:
                row = conn.execute(f"SELECT version_num FROM {schema.VERSION_TABLE}").fetchone()
            except sqlite3.OperationalError:
                raise InvalidBackupError(
                    str(path), "not a uet database (no schema version)"
                ) from None
            revision = None if row is None else str(row[0])
            if revision is not None and revision not in schema.revisions():
                raise InvalidBackupError(
                    str(path), f"schema revision {revision} was written by a newer uet"
                )
            problems = integrity.logical_problems(conn)
            if problems:
                raise InvalidBackupError(str(path), "; ".join(problems))
            counts = integrity.row_counts(conn)
    except sqlite3.DatabaseError as exc:
        raise InvalidBackupError(str(path), f"not a readable SQLite database ({exc})") from exc
    if manifest is not None:
        _match_manifest(path, manifest, revision, counts)
    return revision, counts


def _match_manifest(
    path: Path, manifest: Manifest, revision: str | None, counts: dict[str, int]
) -> None:
    if manifest.schema_revision != revision:
        raise InvalidBackupError(
            str(path), f"schema revision {revision}, its manifest says {manifest.schema_revision}"
        )
    differ = [
        f"{table} has {counts.get(table, 0)} rows, its manifest says {n}"
        for table, n in sorted(manifest.row_counts.items())
        if counts.get(table, 0) != n
    ]
    if differ:
        raise InvalidBackupError(str(path), "; ".join(differ[:3]))


# -- PostgreSQL -----------------------------------------------------------------------------


def _pg_run(
    bindir: Path | None, tool: str, url: str | None, *args: str, invalid: Path | None = None
) -> str:
    """Run a PostgreSQL client tool; returns its standard output."""
    program = str(bindir / tool) if bindir is not None else shutil.which(tool)
    if program is None or not Path(program).exists():
        raise BackupError(
            f"{tool} not found: install PostgreSQL's client tools or set UET_PG_BINDIR"
        )
    env = dict(os.environ)
    argv = [program, *args]
    if url is not None:
        parsed = sa.make_url(url)
        if parsed.password is not None:
            env["PGPASSWORD"] = str(parsed.password)
        dsn = parsed.set(drivername="postgresql", password=None)
        argv.append(f"--dbname={dsn.render_as_string(hide_password=False)}")
    done = subprocess.run(
        argv, check=False, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        if invalid is not None:
            raise InvalidBackupError(str(invalid), f"not a sound pg_dump archive ({message})")
        raise BackupError(f"{tool} failed: {message}")
    return done.stdout


# -- names ----------------------------------------------------------------------------------


def _free_name(folder: Path, prefix: str, suffix: str) -> Path:
    stamp = time.strftime(STAMP, time.gmtime())
    for candidate in _candidates(folder, prefix, stamp, suffix):
        if not candidate.exists():
            return candidate
    raise BackupError(f"{folder}: no free backup name")  # pragma: no cover - 1000 in a second


def _candidates(folder: Path, prefix: str, stamp: str, suffix: str) -> Iterator[Path]:
    yield folder / f"{prefix}{stamp}{suffix}"
    for n in range(2, 1000):
        yield folder / f"{prefix}{stamp}-{n}{suffix}"


def _parse_stamp(name: str) -> float | None:
    prefix = next((p for p in PREFIXES if name.startswith(p)), None)
    suffix = next((s for s in SUFFIXES if name.endswith(s)), None)
    if prefix is None or suffix is None:
        return None
    stamp = name[len(prefix) : -len(suffix)].split("-", maxsplit=1)[0]
    try:
        return float(calendar.timegm(time.strptime(stamp, STAMP)))
    except ValueError:
        return None
