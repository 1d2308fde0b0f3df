"""The store without SQLAlchemy (uet.state.sqlite_store) against the SQLAlchemy store.

The same writes, made through each store into a database of its own, must leave the same
rows (read back with the bare driver, and through both stores), and a database the stdlib
store creates must be the one the SQLAlchemy store creates. Files the stdlib store cannot
serve go to the SQLAlchemy store, which says what is wrong with them.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from uet.config import Settings, load_settings
from uet.errors import LeaseHeldError, SchemaError, StorageFault, StoreError
from uet.state import _compiled, queries, schema
from uet.state.database import dispose_engines
from uet.state.lease import lease_owner, take_lease
from uet.state.records import (
    AttemptRecord,
    AttemptResult,
    DecisionRecord,
    RunRecord,
    TaskRecord,
    TaskUpdate,
    WorkstreamRecord,
)
from uet.state.sqlite_store import SqliteStore
from uet.state.store import Store
from uet.states import AttemptState, RunStatus, TaskStatus

TABLES = ("runs", "workstreams", "tasks", "attempts", "events", "decisions", "run_leases")


@pytest.fixture(autouse=True)
def _engines() -> Iterator[None]:
    yield
    dispose_engines()


def _settings(path: Path) -> Settings:
    return load_settings({"db": f"sqlite:///{path}"})


def _stdlib(path: Path) -> SqliteStore:
    store = Store.open(_settings(path), stdlib=True)
    assert isinstance(store, SqliteStore)
    return store


def _sqlalchemy(path: Path) -> Store:
    store = Store.open(f"sqlite:///{path}")
    assert not isinstance(store, SqliteStore)
    return store


def _write_a_run(store: Store, run_id: str = "run-20261207T000000-abcdef") -> None:
    """Every write the run path makes, in the order a run makes them, with odd values."""
    with store.transaction() as tx:
        tx.create_run(
            RunRecord(
                run_id,
                RunStatus.PENDING,
                created_at=1000.125,
                name="ünïcode 'quoted'",
                host="h",
                pid=42,
                heartbeat_at=1000.5,
                deterministic=True,
                params={"files": ["a.yaml"], "concurrency": 8, "nested": {"x": [1, 2.5, None]}},
            )
        )
        tx.add_workstreams(
            [
                WorkstreamRecord(run_id, "ws-b", TaskStatus.PENDING, depends_on=["ws-a"]),
                WorkstreamRecord(run_id, "ws-a", TaskStatus.PENDING, name="A", concurrency=2,
                                 source="/x/a.yaml", spec={"id": "ws-a"}),
            ]
        )  # fmt: skip
        tx.add_tasks(
            [
                TaskRecord(run_id, f"ws-a/t{i}", "ws-a", TaskStatus.READY if i == 0
                           else TaskStatus.PENDING, depends_on=[f"ws-a/t{i - 1}"] if i else [],
                           spec={"task": {"id": f"t{i}", "argv": ["true"]}}, max_attempts=3)
                for i in range(4)
            ]
        )  # fmt: skip
        tx.insert_events([("run.created", 1000.0, run_id, None, None, {"tasks": 4})])
        lease = take_lease(store, run_id, host="h", pid=42, ttl=30.0, tx=tx)
    with store.transaction() as tx:
        tx.claim_run(run_id, host="h2", pid=43, at=1001.0)
        assert tx.set_run_status(run_id, RunStatus.RUNNING, started_at=1001.5)
        assert not tx.set_run_status("run-missing", RunStatus.RUNNING)
        made = tx.dispatch_attempts(
            [
                AttemptRecord(0, run_id, f"ws-a/t{i % 4}", 1 + i // 4, AttemptState.DISPATCHED,
                              1002.0 + i, host="h2", tool="aider" if i == 3 else None)
                for i in range(60)  # more than one multi-row INSERT
            ]
        )  # fmt: skip
        tx.mark_started([(a, 1000 + a, 1000 + a, 1003.0) for a in made[:50]])
        assert tx.mark_running(made[50], pid=7, pgid=7, started_at=1003.5)
        accepted = tx.complete_attempts(
            [
                AttemptResult(a, AttemptState.SUCCEEDED if a % 3 else AttemptState.FAILED,
                              1004.0, exit_code=a % 3, output_tail="é\n" * 3, error=None)
                for a in made[:40]
            ]
            + [AttemptResult(made[0], AttemptState.LOST, 1005.0)]  # a second result: refused
        )  # fmt: skip
        assert accepted == made[:40]
        tx.update_tasks(
            run_id,
            [
                TaskUpdate("ws-a/t0", TaskStatus.SUCCEEDED, outcome=AttemptState.SUCCEEDED,
                           exit_code=0, attempts_used=1, started_at=1003.0, ended_at=1004.0),
                TaskUpdate("ws-a/t1", TaskStatus.RUNNING, started_at=1003.0),
                TaskUpdate("ws-a/t1", TaskStatus.RUNNING),  # None keeps what is stored
            ],
        )  # fmt: skip
        tx.record_decisions(
            [DecisionRecord(ts=1004.5, category="retry", run_id=run_id, task_id="ws-a/t1",
                            chosen="retry", alternatives=["retry", "fail"], reason="exit 1",
                            data={"delay": 2.0})]
        )  # fmt: skip
        tx.insert_events(
            [("task.output", 1004.0 + i, run_id, "ws-a/t1", made[1], {"line": f"l{i}"})
             for i in range(250)]  # more than one multi-row INSERT
            + [("breaker.opened", 1005.0, None, None, None, None)]
        )  # fmt: skip
        tx.heartbeat(run_id, 1006.0)
    with store.transaction() as tx:
        tx.set_run_status(run_id, RunStatus.SUCCEEDED, ended_at=1007.0, summary={"ok": 4})
    lease.release()


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        dump = {}
        for table in TABLES:
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            if table == "run_leases":  # expires_at is the database's clock at the take
                rows = [(*row[:-1], round(row[-1] - _now(conn))) for row in rows]
            dump[table] = rows
        return dump
    finally:
        conn.close()


def _now(conn: sqlite3.Connection) -> float:
    return float(conn.execute(_compiled.WRITES["db_now"][0], (
        "now", 2440587.5, 86400.0)).fetchone()[0])  # fmt: skip


def test_the_compiled_writes_and_schema_equal_a_fresh_compilation() -> None:
    """_compiled.py's writes, column lists and DDL are what `python -m uet.state.queries`
    makes now (regenerate it after changing a statement or the schema)."""
    assert set(_compiled.WRITES) == set(queries.WRITES)
    for name in queries.WRITES:
        assert _compiled.WRITES[name] == queries.compiled_write(name), name
    assert queries.schema_ddl() == _compiled.DDL
    assert _compiled.COLUMNS == queries.COLUMNS
    assert _compiled.VERSION_TABLE == schema.VERSION_TABLE


def test_a_new_database_is_the_one_sqlalchemy_makes(tmp_path: Path) -> None:
    """Created by the compiled DDL: the same tables, indexes and constraints, byte for byte
    in SQLite's schema, the same version row, and no drift from the models."""
    _stdlib(tmp_path / "fast.db").close()
    _sqlalchemy(tmp_path / "slow.db").close()

    def schema_of(path: Path) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(path)
        try:
            query = "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name"
            return [*conn.execute(query), *conn.execute("SELECT * FROM alembic_version")]
        finally:
            conn.close()

    assert schema_of(tmp_path / "fast.db") == schema_of(tmp_path / "slow.db")
    assert len(schema_of(tmp_path / "fast.db")) > 20
    assert schema.drift(Store.open(f"sqlite:///{tmp_path / 'fast.db'}").engine) == []


def test_the_same_writes_leave_the_same_rows(tmp_path: Path) -> None:
    """A run's whole life written through each store: identical tables."""
    fast, slow = _stdlib(tmp_path / "fast.db"), _sqlalchemy(tmp_path / "slow.db")
    _write_a_run(fast)
    _write_a_run(slow)
    fast.close()
    slow.close()
    written = _dump(tmp_path / "fast.db")
    assert written == _dump(tmp_path / "slow.db")
    assert [len(written[t]) for t in TABLES] == [1, 2, 4, 60, 252, 1, 1]


def test_both_stores_read_the_same_records_from_one_database(tmp_path: Path) -> None:
    """The database one store wrote, read back through both."""
    path = tmp_path / "state.db"
    run_id = "run-20261207T000000-abcdef"
    _write_a_run(_stdlib(path))
    fast, slow = _stdlib(path), _sqlalchemy(path)
    with fast.reader() as a, slow.reader() as b:
        for method, args, kw in [
            ("get_run", (run_id,), {}),
            ("get_runs", ([run_id, "nope"],), {}),
            ("list_runs", (), {"limit": 5}),
            ("get_workstreams", (run_id,), {}),
            ("get_tasks", (run_id,), {}),
            ("get_tasks", (run_id,), {"statuses": [TaskStatus.RUNNING, TaskStatus.PENDING]}),
            ("get_attempts", (run_id,), {}),
            ("get_attempts", (run_id,), {"states": [AttemptState.RUNNING], "task_id": "ws-a/t2"}),
            ("get_events", (run_id,), {"after_seq": 3, "types": "task.*", "limit": 7}),
            ("get_events", (), {"after_id": 250}),
            ("count_events", (), {}),
            ("get_decisions", (), {"run_id": run_id}),
            ("task_counts", ([run_id],), {}),
            ("workstream_names", ([run_id],), {}),
            ("lease_row", (run_id,), {}),
        ]:
            assert getattr(a, method)(*args, **kw) == getattr(b, method)(*args, **kw), method
        run = a.get_run(run_id)
    assert run is not None
    assert (run.status, run.deterministic, run.summary) == (RunStatus.SUCCEEDED, True, {"ok": 4})
    assert (run.started_at, run.pid) == (1001.5, 43)
    fast.close()


def test_the_lease_is_held_the_same_way(tmp_path: Path) -> None:
    """A run lease taken through the stdlib store is held against the SQLAlchemy store (and
    the reverse), and its row names the owner."""
    path = tmp_path / "state.db"
    fast, slow = _stdlib(path), _sqlalchemy(path)
    with fast.transaction() as tx:
        tx.create_run(RunRecord("run-a", RunStatus.PENDING, created_at=1.0))
        tx.create_run(RunRecord("run-b", RunStatus.PENDING, created_at=2.0))
    lease = take_lease(fast, "run-a", host="h", pid=1, ttl=30.0)
    with pytest.raises(LeaseHeldError):
        take_lease(slow, "run-a", host="h", pid=2, ttl=30.0)
    other = take_lease(slow, "run-b", host="h", pid=2, ttl=30.0)
    with pytest.raises(LeaseHeldError):
        take_lease(fast, "run-b", host="h", pid=1, ttl=30.0)
    assert lease_owner(slow, "run-a").held is True
    with fast.transaction() as tx:
        lease.renew(tx)
    lease.release()
    other.release()
    again = take_lease(fast, "run-b", host="h", pid=3, ttl=30.0)
    assert again.epoch == 2
    assert lease_owner(fast, "run-b").pid == 3
    again.release(finished=True)
    fast.close()


def test_files_the_stdlib_store_cannot_serve_go_to_sqlalchemy(tmp_path: Path) -> None:
    """An older schema says `uet db upgrade` as before; a URL with options, a file that is
    not a uet database and an unwritable file open (or fail) through SQLAlchemy."""
    old = tmp_path / "old.db"
    engine = Store.open(f"sqlite:///{old}", check_schema=False).engine
    schema.upgrade(engine, "0005")
    with pytest.raises(SchemaError, match="db upgrade"):
        Store.open(_settings(old), stdlib=True)
    options = load_settings({"db": f"sqlite:///{tmp_path / 'o.db'}?timeout=5"})
    assert not isinstance(Store.open(options, stdlib=True), SqliteStore)
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(SchemaError, match="not a uet database"):
        Store.open(_settings(foreign), stdlib=True)
    if os.geteuid() != 0:  # root writes anyway
        locked = tmp_path / "ro" / "state.db"
        _stdlib(locked).close()
        locked.chmod(0o444)
        with pytest.raises(StoreError, match="cannot be written"):
            Store.open(_settings(locked), stdlib=True)


def test_errors_are_the_stores_errors(tmp_path: Path) -> None:
    """A refused value is a StoreError (refused); a held lock past the pinned block's
    limit, or with its abort set, is a StorageFault — as on the SQLAlchemy store."""
    path = tmp_path / "state.db"
    store = _stdlib(path)
    record = RunRecord("run-a", RunStatus.PENDING, created_at=1.0)
    with store.transaction() as tx:
        tx.create_run(record)
    with pytest.raises(StoreError) as refused, store.transaction() as tx:
        tx.create_run(record)
    assert refused.value.refused
    assert "UNIQUE" in str(refused.value)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        abort = threading.Event()
        with store.pinned(abort=abort, lock_timeout=0.3):
            with pytest.raises(StorageFault, match="lock"), store.transaction() as tx:
                tx.heartbeat("run-a", 2.0)
            abort.set()
            with (
                pytest.raises(StorageFault, match="stopped while waiting"),
                store.transaction() as tx,
            ):
                tx.heartbeat("run-a", 2.0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with store.transaction() as tx:  # the pool's connection came back usable
        tx.heartbeat("run-a", 3.0)
    with store.reader() as tx:
        run = tx.get_run("run-a")
    assert run is not None
    assert run.heartbeat_at == 3.0
    path.unlink()
    with pytest.raises(StorageFault, match="gone"), store.transaction() as tx:
        tx.heartbeat("run-a", 4.0)
    store.close()


def test_a_run_and_uet_exec_import_no_sqlalchemy(tmp_path: Path) -> None:
    """`uet run` of a command workstream and `uet exec` write their run through the stdlib:
    SQLAlchemy is not imported (it was 0.4 s of CPU of each), and their rows are there."""
    (tmp_path / "w.json").write_text('{"id": "ws-a", "tasks": [{"id": "ok", "run": "true"}]}')
    probe = (
        "import sys\nfrom uet.cli import main\ncode = main(sys.argv[1:])\n"
        "print('sqlalchemy' in sys.modules, file=sys.stderr)\nsys.exit(code)\n"
    )
    for args in (["run", "w.json"], ["exec", "--", "true"], ["run", "w.json"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip().endswith("False"), (args, done.stderr[-300:])
    store = _sqlalchemy(tmp_path / ".uet" / "state.db")
    with store.reader() as tx:
        runs = tx.list_runs()
        assert [r.status for r in runs] == [RunStatus.SUCCEEDED] * 3
        assert all(tx.get_attempts(r.id)[0].state is AttemptState.SUCCEEDED for r in runs)
