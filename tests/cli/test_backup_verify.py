"""Verifiable backups through the CLI: a manifest beside every backup, restore refuses a file
that changed by one byte (in a record, in free space), that lost its manifest or whose
contents are unsound, and replaces nothing; `uet db check` says when the database file is
malformed and names the newest backup that still matches its manifest."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Uet
from tests.cli.test_db_commands import populate
from tests.postgres import find_bindir
from uet.state import schema


@pytest.fixture
def live(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, project: Path) -> Path:
    """The CLI on a SQLite database that holds a run with 200 events; its file."""
    monkeypatch.setenv("UET_DB", sqlite_url)
    populate(sqlite_url)
    return Path(sqlite_url.removeprefix("sqlite:///"))


def take_backup(uet: Uet) -> Path:
    result = uet("db", "backup", "--json")
    assert result.code == 0, result.err
    return Path(json.loads(result.out)["backup"])


def fingerprint(db_file: Path) -> dict[str, str]:
    """SHA-256 of the database and of its -wal and -shm files: 'byte-identical'."""
    return {
        part.name: hashlib.sha256(part.read_bytes()).hexdigest()
        for part in (db_file.with_name(db_file.name + s) for s in ("", "-wal", "-shm"))
        if part.exists()
    }


def integrity_ok(path: Path) -> bool:
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
        return conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def flip_in_payload(path: Path) -> None:
    """Change one byte of an event's JSON payload (``{"n":57}`` becomes ``x"n":57}``)."""
    data = bytearray(path.read_bytes())
    at = data.find(b'{"n":57}')
    assert at > 0, "the payload was not found in the file"
    data[at] = ord("x")
    path.write_bytes(bytes(data))


def flip_in_free_space(path: Path) -> None:
    """Change one byte of a b-tree page's unallocated space (between its cell pointers and
    its cells), which no SQLite check reads."""
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for number in range(1, len(data) // page_size + 1):
        start = (number - 1) * page_size
        header = start + (100 if number == 1 else 0)
        kind = data[header]
        if kind not in (0x02, 0x05, 0x0A, 0x0D):
            continue
        size = 8 if kind in (0x0A, 0x0D) else 12
        cells = int.from_bytes(data[header + 3 : header + 5], "big")
        content = int.from_bytes(data[header + 5 : header + 7], "big") or 65536
        free_from, free_to = header + size + 2 * cells, start + content
        if free_to - free_from >= 16:
            middle = (free_from + free_to) // 2
            data[middle] ^= 0xFF
            path.write_bytes(bytes(data))
            return
    raise AssertionError("no page with unallocated space")


def test_every_backup_has_a_manifest_that_describes_it(uet: Uet, live: Path) -> None:
    """The manifest beside a backup names the file, its size and SHA-256, the schema
    revision, the rows of each table, when and by which uet it was taken."""
    backup = take_backup(uet)
    manifest = json.loads(backup.with_name(backup.name + ".manifest.json").read_text())
    assert manifest["file"] == backup.name
    assert manifest["size"] == backup.stat().st_size
    assert manifest["sha256"] == hashlib.sha256(backup.read_bytes()).hexdigest()
    assert manifest["schema_revision"] == schema.HEAD
    assert manifest["row_counts"]["events"] == 200
    assert manifest["row_counts"]["runs"] == 1
    assert manifest["created_at"].endswith("Z")
    assert manifest["uet_version"]


def test_a_byte_changed_in_a_record_payload_is_refused_and_nothing_replaced(
    uet: Uet, live: Path
) -> None:
    """Finding 10: the changed payload passes SQLite's integrity check, yet the restore is
    refused by its digest (exit 2, the file and the mismatch named), and with --force by the
    JSON check of the contents; the live database stays byte-identical."""
    backup = take_backup(uet)
    flip_in_payload(backup)
    assert integrity_ok(backup), "the change must be one that integrity_check misses"
    before = fingerprint(live)

    refused = uet("db", "restore", str(backup))
    forced = uet("db", "restore", "--force", str(backup))

    assert refused.code == 2, refused.err
    assert str(backup) in refused.err
    assert "SHA-256" in refused.err
    assert "nothing was replaced" in refused.err
    assert forced.code == 2, forced.err
    assert "events.payload" in forced.err
    assert "is not JSON" in forced.err
    assert "Traceback" not in refused.err + forced.err
    assert fingerprint(live) == before
    assert uet("events", "run-1", "--limit", "1").code == 0


def test_a_byte_changed_in_free_space_is_refused_and_nothing_replaced(uet: Uet, live: Path) -> None:
    """Finding 10: a change in a page's unallocated space is invisible to every SQLite check;
    the digest refuses it (exit 2), the live database stays byte-identical."""
    backup = take_backup(uet)
    flip_in_free_space(backup)
    assert integrity_ok(backup), "the change must be one that integrity_check misses"
    before = fingerprint(live)

    refused = uet("db", "restore", str(backup))

    assert refused.code == 2, refused.err
    assert "differs from its manifest" in refused.err
    assert fingerprint(live) == before


def test_bytes_appended_to_a_backup_are_refused(uet: Uet, live: Path) -> None:
    """Trailing bytes SQLite ignores change the size the manifest records: refused."""
    backup = take_backup(uet)
    with backup.open("ab") as handle:
        handle.write(b"\0" * 100)
    before = fingerprint(live)

    refused = uet("db", "restore", str(backup))

    assert refused.code == 2
    assert "its size is" in refused.err
    assert "manifest says" in refused.err
    assert fingerprint(live) == before


def test_a_backup_whose_manifest_was_removed_is_refused(uet: Uet, live: Path) -> None:
    """No manifest, no digest to check: refused naming the manifest and --force; with
    --force the (sound) backup is restored."""
    backup = take_backup(uet)
    backup.with_name(backup.name + ".manifest.json").unlink()
    before = fingerprint(live)

    refused = uet("db", "restore", str(backup))

    assert refused.code == 2
    assert f"no manifest {backup.name}.manifest.json" in refused.err
    assert "--force" in refused.err
    assert fingerprint(live) == before
    forced = uet("db", "restore", "--force", str(backup), "--json")
    assert forced.code == 0, forced.err


def test_a_manifest_whose_row_counts_disagree_is_refused(uet: Uet, live: Path) -> None:
    """The logical check compares rows per table with the manifest (--force keeps it)."""
    backup = take_backup(uet)
    manifest_file = backup.with_name(backup.name + ".manifest.json")
    manifest = json.loads(manifest_file.read_text())
    manifest["row_counts"]["events"] = 201
    manifest_file.write_text(json.dumps(manifest))

    refused = uet("db", "restore", "--force", str(backup))

    assert refused.code == 2
    assert "events has 200 rows, its manifest says 201" in refused.err


def test_a_broken_foreign_key_is_refused(uet: Uet, live: Path, project: Path) -> None:
    """A backup whose rows point to missing parents fails the logical check."""
    backup = take_backup(uet)
    broken = project / "broken.db"
    broken.write_bytes(backup.read_bytes())
    with sqlite3.connect(broken) as conn:
        conn.execute("DELETE FROM runs")  # foreign keys are off: tasks now point nowhere
    conn.close()

    refused = uet("db", "restore", "--force", str(broken))

    assert refused.code == 2
    assert "foreign key broken: tasks" in refused.err


def test_backups_lists_whether_each_backup_verifies(uet: Uet, live: Path) -> None:
    """`uet db backups` checks each file against its manifest."""
    good = take_backup(uet)
    time.sleep(1.1)  # backup names carry the second
    changed = take_backup(uet)
    flip_in_payload(changed)

    listed = {Path(i["path"]): i for i in json.loads(uet("db", "backups", "--json").out)}
    text = uet("db", "backups").out

    assert listed[good]["verified"] is True
    assert listed[good]["problem"] is None
    assert listed[changed]["verified"] is False
    assert "SHA-256" in listed[changed]["problem"]
    assert "NOT VERIFIED" in text
    assert "verified" in text


@pytest.mark.parametrize("damage", ["header", "page"])
def test_check_on_a_malformed_database_exits_3_naming_the_newest_good_backup(
    uet: Uet, live: Path, damage: str
) -> None:
    """Finding 10: `uet db check` said "ok" on a malformed file. Now quick_check runs: exit 3,
    the file said to be malformed, and the newest backup that matches its manifest named
    (a newer one that does not match is passed over)."""
    good = take_backup(uet)
    time.sleep(1.1)
    changed = take_backup(uet)
    flip_in_payload(changed)
    for suffix in ("-wal", "-shm"):
        live.with_name(live.name + suffix).unlink(missing_ok=True)
    data = bytearray(live.read_bytes())
    if damage == "header":
        data[0:16] = b"not a database!!"
    else:
        page_size = int.from_bytes(data[16:18], "big")
        data[2 * page_size : 2 * page_size + 8] = b"\xff" * 8  # page 3's b-tree header
    live.write_bytes(bytes(data))

    result = uet("db", "check")
    as_json = uet("db", "check", "--json")

    assert result.code == 3, result.out + result.err
    assert f"{live} is malformed" in result.err
    assert f"newest good backup: {good}" in result.err
    assert str(changed) not in result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert as_json.code == 3
    assert json.loads(as_json.out)["newest_good_backup"] == str(good)


def test_check_on_a_malformed_database_without_good_backups_says_so(uet: Uet, live: Path) -> None:
    for suffix in ("-wal", "-shm"):
        live.with_name(live.name + suffix).unlink(missing_ok=True)
    live.write_bytes(b"garbage " * 1000)

    result = uet("db", "check")

    assert result.code == 3
    assert "no backup in" in result.err
    assert "matches its manifest" in result.err


def test_prune_removes_manifests_with_their_backups(uet: Uet, live: Path) -> None:
    backup = take_backup(uet)
    manifest = backup.with_name(backup.name + ".manifest.json")
    assert manifest.exists()

    assert uet("db", "prune", "--keep-days", "0").code == 0
    # "older than 0 days" needs the clock to move past the second in the name
    if backup.exists():
        time.sleep(1.1)
        assert uet("db", "prune", "--keep-days", "0").code == 0

    assert not backup.exists()
    assert not manifest.exists()


@pytest.mark.postgres
def test_a_changed_postgres_dump_is_refused(
    uet: Uet, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pg_dump archives get a manifest too; one changed byte is refused by its digest."""
    monkeypatch.setenv("UET_DB", pg_url)
    bindir = find_bindir()
    assert bindir is not None
    monkeypatch.setenv("UET_PG_BINDIR", str(bindir))
    populate(pg_url)
    backup = take_backup(uet)
    manifest = json.loads(backup.with_name(backup.name + ".manifest.json").read_text())
    assert manifest["dialect"] == "postgresql"
    assert manifest["row_counts"]["events"] == 200
    data = bytearray(backup.read_bytes())
    data[-10] ^= 0x01
    backup.write_bytes(bytes(data))

    refused = uet("db", "restore", str(backup))

    assert refused.code == 2
    assert "SHA-256" in refused.err
