"""``Store.open(readonly=True)``: the store read commands use never writes, on both dialects."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from uet.errors import StoreError
from uet.state.database import dispose_engines
from uet.state.records import RunRecord
from uet.state.sqlite_files import open_sqlite_readonly, read_only_problem
from uet.state.store import NoDatabaseError, Store
from uet.states import RunStatus


def test_a_read_only_store_reads_and_refuses_every_transaction(db_url: str) -> None:
    """It sees what a writer committed; asking it for a write transaction is a StoreError
    (the database is never touched), on SQLite and PostgreSQL."""
    writer = Store.open(db_url)
    with writer.transaction() as tx:
        tx.create_run(RunRecord(id="run-1", status=RunStatus.RUNNING, created_at=1.0))
    reader = Store.open(db_url, readonly=True)

    with reader.reader() as tx:
        run = tx.get_run("run-1")
    with pytest.raises(StoreError, match="opened read-only"), reader.transaction():
        pass

    assert run is not None
    assert run.status is RunStatus.RUNNING
    writer.close()
    reader.close()


def test_the_read_only_engine_itself_refuses_writes(db_url: str) -> None:
    """Below the Store: SQL that writes fails on the read-only engine (query_only on SQLite,
    READ ONLY transactions on PostgreSQL), so no code path can write through it."""
    Store.open(db_url).close()
    reader = Store.open(db_url, readonly=True)

    with pytest.raises(StoreError), reader.reader() as tx:
        tx.conn.exec_driver_sql("DELETE FROM runs")

    reader.close()


def test_a_read_only_open_of_a_missing_sqlite_file_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.db"

    with pytest.raises(NoDatabaseError):
        Store.open(f"sqlite:///{path}", readonly=True)

    assert not path.parent.exists()


def test_a_read_only_open_of_an_empty_sqlite_file_leaves_it_empty(tmp_path: Path) -> None:
    """An empty file is no database yet; a read command must not create the schema in it."""
    path = tmp_path / "state.db"
    path.touch()

    with pytest.raises(NoDatabaseError, match="empty"):
        Store.open(f"sqlite:///{path}", readonly=True)

    dispose_engines()
    assert path.stat().st_size == 0


def test_a_file_that_is_not_a_database_is_a_store_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"not a database " * 100)

    with pytest.raises(StoreError, match="cannot be read: file is not a database") as caught:
        open_sqlite_readonly(path)

    assert str(path) in str(caught.value)


def test_read_only_problem_names_a_read_only_file(tmp_path: Path) -> None:
    """For the write commands' one-line refusal (a writable file and folder: no problem)."""
    path = tmp_path / "state.db"
    sqlite3.connect(path).close()

    assert read_only_problem(path) is None
    assert read_only_problem(tmp_path / "new" / "state.db") is None
