"""`uet db …`: migrations, drift check, backups, on real databases of both dialects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.cli.conftest import Uet
from tests.postgres import Cluster, find_bindir
from uet.state import schema
from uet.state.backup import STAMP, list_backups
from uet.state.database import dispose_engines, get_engine
from uet.state.records import RunRecord, TaskRecord
from uet.state.store import Store
from uet.states import RunStatus, TaskStatus


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: what 'identical contents' means."""
    engine = get_engine(url)
    rows = {}
    with engine.connect() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        for table in meta.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows[table.name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*order))]
    dispose_engines()
    return rows


def populate(url: str, run_id: str = "run-1", events: int = 200) -> None:
    store = Store.open(url)
    with store.transaction() as tx:
        tx.create_run(RunRecord(id=run_id, status=RunStatus.RUNNING, created_at=1.0, name="r"))
        tx.add_tasks(
            [TaskRecord(run_id=run_id, id="lint", workstream_id="ws", status=TaskStatus.PENDING)]
        )
        tx.insert_events(
            [("task.output", float(n), run_id, "lint", None, {"n": n}) for n in range(events)]
        )
    store.close()


@pytest.fixture
def db(db_url: str, monkeypatch: pytest.MonkeyPatch, project: Path) -> str:
    """The command line pointed at a fresh database (UET_DB), on SQLite and PostgreSQL."""
    monkeypatch.setenv("UET_DB", db_url)
    if db_url.startswith("postgresql") and (bindir := find_bindir()) is not None:
        monkeypatch.setenv("UET_PG_BINDIR", str(bindir))
    return db_url


def test_upgrade_creates_an_empty_database_at_head(uet: Uet, db: str) -> None:
    """`db upgrade` on nothing creates the schema; `db status --json` reports it current."""
    assert uet("db", "upgrade").code == 0
    result = uet("db", "status", "--json")
    assert result.code == 0
    assert json.loads(result.out)["revision"] == schema.HEAD
    assert json.loads(result.out)["up_to_date"] is True
    assert "already at revision" in uet("db", "upgrade").out


def test_check_fails_on_an_old_schema_and_passes_after_upgrade(uet: Uet, db: str) -> None:
    """`db check` exits 1 naming the problem until the database is upgraded."""
    uet("db", "upgrade")
    assert uet("db", "downgrade", "-1", "--no-backup").code == 0
    failed = uet("db", "check")
    assert failed.code == 1
    assert "uet db upgrade" in failed.err
    assert uet("db", "upgrade", "--no-backup").code == 0
    passed = uet("db", "check", "--json")
    assert passed.code == 0
    assert json.loads(passed.out) == {"ok": True, "problems": []}


def test_check_reports_drift_between_models_and_database(uet: Uet, db: str) -> None:
    """A column added by hand is drift: `db check` exits 1 and names it."""
    uet("db", "upgrade")
    with get_engine(db).begin() as conn:
        conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN stray INTEGER")
    dispose_engines()
    result = uet("db", "check")
    assert result.code == 1
    assert "stray" in result.err


def test_commands_on_an_old_database_say_to_upgrade(uet: Uet, db: str) -> None:
    """Any command that reads state refuses an old schema with the fix, not a traceback."""
    uet("db", "upgrade")
    uet("db", "downgrade", "-1", "--no-backup")
    result = uet("runs")
    assert result.code == 3
    assert "uet db upgrade" in result.err
    assert "Traceback" not in result.err


def test_backup_then_restore_gives_identical_contents(uet: Uet, db: str, project: Path) -> None:
    """Round trip: what is restored is exactly what was backed up; the replaced db is kept."""
    populate(db)
    before = snapshot(db)
    made = uet("db", "backup", "--json")
    assert made.code == 0, made.err
    backup = Path(json.loads(made.out)["backup"])
    assert backup.parent == project / ".uet" / "backups"
    populate(db, run_id="run-2", events=50)  # changes after the backup
    assert snapshot(db) != before
    restored = uet("db", "restore", str(backup), "--json")
    assert restored.code == 0, restored.err
    assert snapshot(db) == before
    replaced = json.loads(restored.out)["replaced"]
    assert replaced is not None
    assert Path(replaced).name.startswith("replaced-")
    assert Store.open(db) is not None  # the restored database opens at the current schema


def test_restore_refuses_a_corrupt_sqlite_backup_and_replaces_nothing(
    uet: Uet, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    """A damaged file fails the integrity check: exit 2, the file named, the db untouched."""
    monkeypatch.setenv("UET_DB", sqlite_url)
    populate(sqlite_url)
    backup = Path(json.loads(uet("db", "backup", "--json").out)["backup"])
    data = bytearray(backup.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8192] = b"\x5a" * 8192
    corrupt = project / "corrupt.db"
    corrupt.write_bytes(bytes(data))
    before = snapshot(sqlite_url)
    result = uet("db", "restore", str(corrupt))
    assert result.code == 2
    assert str(corrupt) in result.err
    assert "nothing was replaced" in result.err
    assert snapshot(sqlite_url) == before
    assert [b.kind for b in list_backups(project / ".uet" / "backups")] == ["backup"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"not a database at all, just text\n" * 200, "not a readable SQLite database"),
        (None, "not a uet database"),
    ],
)
def test_restore_refuses_files_that_are_not_uet_backups(
    uet: Uet,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    project: Path,
    content: bytes | None,
    problem: str,
) -> None:
    """Text files and foreign SQLite databases are refused with the reason (--force: past
    the missing manifest, to the checks of the contents)."""
    monkeypatch.setenv("UET_DB", sqlite_url)
    populate(sqlite_url)
    foreign = project / "foreign.db"
    if content is None:
        engine = sa.create_engine(f"sqlite:///{foreign}")
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
        engine.dispose()
    else:
        foreign.write_bytes(content)
    result = uet("db", "restore", "--force", str(foreign))
    assert result.code == 2
    assert problem in result.err


def test_restore_refuses_a_truncated_postgres_dump(
    uet: Uet, pg_url: str, monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    """A cut-off pg_dump archive is refused before anything is dropped."""
    monkeypatch.setenv("UET_DB", pg_url)
    bindir = find_bindir()
    assert bindir is not None
    monkeypatch.setenv("UET_PG_BINDIR", str(bindir))
    populate(pg_url)
    backup = Path(json.loads(uet("db", "backup", "--json").out)["backup"])
    truncated = project / "truncated.dump"
    truncated.write_bytes(backup.read_bytes()[:200])
    before = snapshot(pg_url)
    result = uet("db", "restore", "--force", str(truncated))
    assert result.code == 2
    assert "not a sound pg_dump archive" in result.err
    assert snapshot(pg_url) == before


def test_upgrade_backs_up_a_sqlite_database_first(
    uet: Uet, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    """Migrating a SQLite database that holds data leaves a backup at the old revision."""
    monkeypatch.setenv("UET_DB", sqlite_url)
    populate(sqlite_url)
    uet("db", "downgrade", "-1", "--no-backup")
    result = uet("db", "upgrade", "--json")
    assert result.code == 0
    saved = json.loads(result.out)["backup"]
    assert saved is not None
    status = schema.status(get_engine(f"sqlite:///{saved}"))
    assert status.current == schema.revisions()[-2]
    dispose_engines()


def _backup_named(folder: Path, days_ago: float, prefix: str = "state-") -> Path:
    stamp = time.strftime(STAMP, time.gmtime(time.time() - days_ago * 86_400))
    path = folder / f"{prefix}{stamp}.db"
    path.write_bytes(b"x")
    return path


def test_prune_deletes_backups_older_than_the_retention(uet: Uet, project: Path) -> None:
    """30 days by default; --keep-days overrides; --dry-run deletes nothing; other files stay."""
    folder = project / ".uet" / "backups"
    folder.mkdir(parents=True)
    old = _backup_named(folder, 40)
    old_replaced = _backup_named(folder, 31, prefix="replaced-")
    recent = _backup_named(folder, 5)
    stranger = folder / "notes.txt"
    stranger.write_text("keep me")
    dry = uet("db", "prune", "--dry-run", "--json")
    assert sorted(json.loads(dry.out)["removed"]) == sorted([str(old), str(old_replaced)])
    assert old.exists()
    assert uet("db", "prune").code == 0
    assert not old.exists()
    assert not old_replaced.exists()
    assert recent.exists()
    assert stranger.exists()
    uet("db", "prune", "--keep-days", "1")
    assert not recent.exists()


def test_prune_follows_the_configured_retention(uet: Uet, project: Path) -> None:
    """`[backups] retention_days` in uet.toml sets what prune keeps."""
    (project / "uet.toml").write_text("[backups]\nretention_days = 3\n")
    folder = project / ".uet" / "backups"
    folder.mkdir(parents=True)
    four_days = _backup_named(folder, 4)
    two_days = _backup_named(folder, 2)
    uet("db", "prune")
    assert not four_days.exists()
    assert two_days.exists()


def test_a_bad_config_value_exits_2_naming_file_and_key(uet: Uet, project: Path) -> None:
    """Bad input: exit 2, and the message says which file and which key."""
    (project / "uet.toml").write_text("[events]\nbatch_size = 'many'\n")
    result = uet("db", "status")
    assert result.code == 2
    assert str(project / "uet.toml") in result.err
    assert "events.batch_size" in result.err
    (project / "uet.toml").write_text("[events]\nbatchsize = 3\n")
    result = uet("db", "status")
    assert result.code == 2
    assert "events.batchsize" in result.err
    assert "unknown key" in result.err


def test_the_console_script_exits_with_spec_codes(tmp_path: Path) -> None:
    """Through a real process: usage error 2, drift 1, success 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("UET_")}
    env["UET_DB"] = f"sqlite:///{tmp_path / 'state.db'}"

    def uet(*args: str) -> int:
        return subprocess.run(
            [sys.executable, "-m", "uet", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            check=False,
        ).returncode

    assert uet("no-such-command") == 2
    assert uet("db", "upgrade") == 0
    assert uet("db", "check") == 0
    assert uet("db", "downgrade", "-1") == 0
    assert uet("db", "check") == 1


def test_restore_over_a_corrupt_database_keeps_its_raw_files(
    uet: Uet, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    """When the current database is damaged (exactly when one restores), the restore still
    happens and the damaged files are kept as they were."""
    monkeypatch.setenv("UET_DB", sqlite_url)
    populate(sqlite_url)
    good = snapshot(sqlite_url)
    backup = Path(json.loads(uet("db", "backup", "--json").out)["backup"])
    db_file = Path(sqlite_url.removeprefix("sqlite:///"))
    for suffix in ("-wal", "-shm"):
        db_file.with_name(db_file.name + suffix).unlink(missing_ok=True)
    damaged = b"garbage, not a database " * 500
    db_file.write_bytes(damaged)
    result = uet("db", "restore", str(backup), "--json")
    assert result.code == 0, result.err
    assert Path(json.loads(result.out)["replaced"]).read_bytes() == damaged
    assert snapshot(sqlite_url) == good


def test_restoring_an_older_dump_leaves_no_newer_tables_behind(
    uet: Uet, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dump taken at the previous revision restores to exactly that schema, so that
    `uet db upgrade` then works (pg_restore --clean alone would leave newer tables)."""
    monkeypatch.setenv("UET_DB", pg_url)
    bindir = find_bindir()
    assert bindir is not None
    monkeypatch.setenv("UET_PG_BINDIR", str(bindir))
    populate(pg_url)
    uet("db", "downgrade", "-1")
    old_dump = Path(json.loads(uet("db", "backup", "--json").out)["backup"])
    assert uet("db", "upgrade").code == 0
    result = uet("db", "restore", str(old_dump), "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["revision"] == schema.revisions()[-2]
    assert "patches" not in sa.inspect(get_engine(pg_url)).get_table_names()  # 0007's
    dispose_engines()
    assert uet("db", "upgrade").code == 0
    assert uet("db", "check").code == 0


def test_a_dump_of_a_foreign_database_is_refused(
    uet: Uet,
    pg_url: str,
    postgres_cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
    project: Path,
) -> None:
    """A pg_dump archive without uet's schema version is refused before anything changes."""
    monkeypatch.setenv("UET_DB", pg_url)
    bindir = find_bindir()
    assert bindir is not None
    monkeypatch.setenv("UET_PG_BINDIR", str(bindir))
    populate(pg_url)
    foreign_url = postgres_cluster.new_database()
    foreign_engine = sa.create_engine(foreign_url)
    with foreign_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE notes (id integer primary key)")
    foreign_engine.dispose()
    foreign = project / "foreign.dump"
    dsn = foreign_url.replace("+psycopg", "")
    subprocess.run(
        [str(bindir / "pg_dump"), "--format=custom", f"--file={foreign}", f"--dbname={dsn}"],
        check=True,
    )
    before = snapshot(pg_url)
    result = uet("db", "restore", "--force", str(foreign))
    assert result.code == 2
    assert "not a uet database" in result.err
    assert snapshot(pg_url) == before


def test_reading_commands_leave_no_database_behind(uet: Uet, project: Path) -> None:
    """`uet runs` and `uet events` in a folder without state create nothing."""
    assert uet("runs").code == 0
    assert uet("events", "run-x").code == 2
    assert not (project / ".uet").exists()


def test_an_unknown_revision_is_a_usage_error(uet: Uet, db: str) -> None:
    """`uet db upgrade 9999` exits 2 and lists the revisions there are."""
    result = uet("db", "upgrade", "9999")
    assert result.code == 2
    assert schema.HEAD in result.err
    assert "Traceback" not in result.err


def test_a_corrupt_database_is_an_infrastructure_error_not_a_crash(
    uet: Uet, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`uet db status` on a damaged file exits 3 with the database named, no traceback."""
    monkeypatch.setenv("UET_DB", sqlite_url)
    db_file = Path(sqlite_url.removeprefix("sqlite:///"))
    db_file.write_bytes(b"this is not a database" * 300)
    result = uet("db", "status")
    assert result.code == 3
    assert str(db_file) in result.err
    assert "Traceback" not in result.err
