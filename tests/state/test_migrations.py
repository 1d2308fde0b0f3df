"""Schema migrations: Alembic revisions, the version check on open, drift, data preservation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from uet.errors import SchemaError
from uet.state import schema
from uet.state.database import get_engine
from uet.state.records import (
    AttemptRecord,
    AttemptResult,
    DecisionRecord,
    RunRecord,
    TaskRecord,
    WorkstreamRecord,
)
from uet.state.store import NewEvent, Store
from uet.states import AttemptState, RunStatus, TaskStatus

UET_TABLES = {
    "runs",
    "workstreams",
    "tasks",
    "attempts",
    "events",
    "decisions",  # 0002
    "agents",  # 0003
    "tool_state",  # 0004
    "route_cursors",
    "tool_leases",
    "run_leases",  # 0005
    "trigger_fires",  # 0006
    "daemon_leases",  # 0006
    "trigger_cursors",  # 0006
    "patches",  # 0007
    "patch_transitions",  # 0007
}
TABLES_OF_0001 = {"runs", "workstreams", "tasks", "attempts", "events"}

Snapshot = dict[str, list[dict[str, Any]]]


def table_names(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        conn.rollback()
    return names


def snapshot(engine: sa.Engine) -> Snapshot:
    """Every row of every table but alembic_version, ordered by primary key."""
    reflected = sa.MetaData()
    reflected.reflect(engine)
    rows: Snapshot = {}
    with engine.connect() as conn:
        for name, table in reflected.tables.items():
            if name == schema.VERSION_TABLE:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            result = conn.execute(sa.select(table).order_by(*order)).mappings()
            rows[name] = [dict(row) for row in result]
        conn.rollback()
    return rows


def common_part(before: Snapshot, after: Snapshot) -> tuple[Snapshot, Snapshot]:
    """Both snapshots restricted to the tables and columns present in both."""
    left: Snapshot = {}
    right: Snapshot = {}
    for name in before.keys() & after.keys():
        columns: set[str] = set()
        if before[name] and after[name]:
            columns = before[name][0].keys() & after[name][0].keys()
        left[name] = [{c: row[c] for c in columns} for row in before[name]]
        right[name] = [{c: row[c] for c in columns} for row in after[name]]
    return left, right


def populate(
    store: Store, *, runs: int = 20, tasks_per_run: int = 25, events: int = 10_500
) -> None:
    """Runs, workstreams, tasks, attempts (some finished), decisions and many events."""
    with store.transaction() as tx:
        for r in range(runs):
            run_id = f"run-{r:03d}"
            tx.create_run(
                RunRecord(
                    id=run_id,
                    status=RunStatus.SUCCEEDED if r % 2 else RunStatus.RUNNING,
                    created_at=1_700_000_000.125 + r,
                    name=f"run {r} ✓" if r % 3 else None,
                    started_at=1_700_000_001.5 + r,
                    host="host-a",
                    pid=1000 + r,
                    heartbeat_at=1_700_000_002.25 + r if r % 4 else None,
                    deterministic=bool(r % 2),
                    params={"files": [f"ws-{r}.yaml"], "concurrency": r},
                    summary={"ok": r} if r % 2 else {},
                )
            )
            tx.add_workstreams(
                [
                    WorkstreamRecord(
                        run_id=run_id,
                        id="ws-main",
                        status=TaskStatus.RUNNING,
                        name="Main",
                        concurrency=4,
                        depends_on=["ws-setup"],
                        source="/p/ws.yaml",
                        spec={"id": "ws-main"},
                    )
                ]
            )
            tx.add_tasks(
                [
                    TaskRecord(
                        run_id=run_id,
                        id=f"task-{t:03d}",
                        workstream_id="ws-main",
                        status=TaskStatus.SUCCEEDED if t % 2 else TaskStatus.PENDING,
                        depends_on=[f"task-{t - 1:03d}"] if t else [],
                        spec={"run": f"echo {t}", "quote": 'it\'s "fine"'},
                        max_attempts=3,
                        attempts_used=t % 3,
                        outcome=AttemptState.SUCCEEDED if t % 2 else None,
                        exit_code=0 if t % 2 else None,
                        started_at=1.0 * t if t % 2 else None,
                        ended_at=2.0 * t if t % 2 else None,
                    )
                    for t in range(tasks_per_run)
                ]
            )
            ids = tx.dispatch_attempts(
                [
                    AttemptRecord(
                        id=0,
                        run_id=run_id,
                        task_id=f"task-{t:03d}",
                        number=number,
                        state=AttemptState.DISPATCHED,
                        dispatched_at=10.0 * t + number,
                        tool="aider" if t % 5 == 0 else None,
                        host="host-a",
                    )
                    for t in range(tasks_per_run)
                    for number in (1, 2)
                ]
            )
            tx.complete_attempts(
                [
                    AttemptResult(
                        attempt_id,
                        AttemptState.FAILED if n % 3 else AttemptState.SUCCEEDED,
                        ended_at=99.5 + n,
                        exit_code=n % 3,
                        output_tail="line\n" * (n % 4),
                        error=None if n % 5 else "boom",
                    )
                    for n, attempt_id in enumerate(ids)
                    if n % 2
                ]
            )
        tx.record_decisions(
            [
                DecisionRecord("routing", "aider", "rule 1", float(d), run_id="run-000", data={})
                for d in range(10)
            ]
        )
    batch: list[NewEvent] = []
    for n in range(events):
        run_id = None if n % 50 == 0 else f"run-{n % runs:03d}"
        payload = {"n": n, "text": "ü" * (n % 7)} if n % 3 else None
        batch.append(("task.output", 1_700_000_000.0 + n / 1000, run_id, "task-001", n, payload))
        if len(batch) == 1000:
            store.insert_events(batch)
            batch = []
    store.insert_events(batch)


# -- revisions ------------------------------------------------------------------------------


def test_head_constant_equals_alembic_head() -> None:
    """schema.HEAD (checked on every open) is the newest migration script's revision."""
    assert schema.script_directory().get_current_head() == schema.HEAD
    assert schema.revisions()[-1] == schema.HEAD
    assert schema.revisions() == ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]


def test_fresh_database_is_created_at_head_without_drift(db_url: str) -> None:
    """Store.open creates every table at HEAD, and tables.py matches the database exactly."""
    Store.open(db_url)
    engine = get_engine(db_url)
    state = schema.status(engine)
    assert (state.current, state.up_to_date, state.has_tables) == (schema.HEAD, True, True)
    assert table_names(engine) == UET_TABLES | {schema.VERSION_TABLE}
    assert schema.drift(engine) == []


def test_a_created_database_is_the_one_the_migrations_make(db_url: str, tmp_path: Path) -> None:
    """schema.create_at_head (a fresh database's first open, without Alembic) makes the same tables,
    columns, indexes and constraints as upgrading through every migration, at HEAD; and the
    migrations go on from it (downgrade one step and back)."""
    engine = get_engine(db_url)
    schema.create_at_head(engine)
    assert schema.status(engine).current == schema.HEAD
    assert schema.drift(engine) == []
    other = get_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    schema.upgrade(other)
    if engine.dialect.name == "sqlite":
        assert _sqlite_schema(engine) == _sqlite_schema(other)
    previous = schema.revisions()[-2]
    schema.downgrade(engine, previous)
    assert schema.status(engine).current == previous
    schema.upgrade(engine)
    assert schema.drift(engine) == []


def _sqlite_schema(engine: sa.Engine) -> dict[str, object]:
    """Each table's columns, indexes and foreign keys as SQLite reports them (columns by
    name: a migration's ADD COLUMN appends, and the store never relies on column order)."""
    inspector = sa.inspect(engine)
    return {
        name: (
            sorted(
                (c["name"], str(c["type"]), c["nullable"], c["default"])
                for c in inspector.get_columns(name)
            ),
            sorted(
                (i["name"], tuple(i["column_names"]), i["unique"])
                for i in inspector.get_indexes(name)
            ),
            sorted(str(fk) for fk in inspector.get_foreign_keys(name)),
            inspector.get_pk_constraint(name)["constrained_columns"],
        )
        for name in sorted(inspector.get_table_names())
    }


def test_each_revision_upgrades_step_by_step_to_a_drift_free_head(db_url: str) -> None:
    """Upgrading one revision at a time ends in the same schema as tables.py."""
    engine = get_engine(db_url)
    for revision in schema.revisions():
        schema.upgrade(engine, revision)
        assert schema.status(engine).current == revision
    assert schema.drift(engine) == []


def test_downgrade_and_upgrade_keep_every_row_and_value(db_url: str) -> None:
    """upgrade → downgrade to 0001 → upgrade on a populated database keeps every row of the
    tables both revisions have, with every value of the columns both revisions have."""
    store = Store.open(db_url)
    populate(store)
    engine = store.engine
    before = snapshot(engine)
    assert len(before["events"]) >= 10_000
    assert len(before["attempts"]) == 1000
    assert before["events"][1]["attempt_id"] == 1

    schema.downgrade(engine, "0001")
    assert schema.status(engine).current == "0001"
    middle = snapshot(engine)
    assert "decisions" not in middle
    assert "attempt_id" not in middle["events"][0]
    left, right = common_part(before, middle)
    assert set(left) == TABLES_OF_0001
    assert len(left["events"][0]) == 7  # every events column but attempt_id is compared
    assert left == right

    schema.upgrade(engine)
    assert schema.status(engine).current == schema.HEAD
    assert schema.drift(engine) == []
    after = snapshot(engine)
    left, right = common_part(middle, after)
    assert left == right
    assert {row["attempt_id"] for row in after["events"]} == {None}  # it did not exist in 0001
    assert after["decisions"] == []
    for name in TABLES_OF_0001 - {"events"}:
        assert after[name] == before[name], name

    # The store works on the result: sequence numbers and ids carry on.
    reopened = Store.open(db_url)
    max_id = max(row["id"] for row in before["events"])
    last_seq = max(row["seq"] for row in before["events"] if row["run_id"] == "run-001")
    assert reopened.insert_events([("run.completed", 1.0, "run-001", None, None, None)]) == [
        last_seq + 1
    ]
    with reopened.reader() as tx:
        newest = tx.get_events("run-001", after_seq=last_seq)
    assert newest[0].id is not None
    assert newest[0].id > max_id


def test_downgrade_to_base_removes_every_uet_table(db_url: str) -> None:
    """After downgrade('base') only Alembic's (empty) version table is left."""
    store = Store.open(db_url)
    store.insert_events([("run.created", 1.0, "r", None, None, None)])
    engine = store.engine
    schema.downgrade(engine, "base")
    assert table_names(engine) - {schema.VERSION_TABLE} == set()
    assert schema.status(engine).current is None


def test_database_downgraded_to_base_reopens_at_head(db_url: str) -> None:
    """An emptied uet database (only alembic_version left) is created afresh on open,
    not refused as a foreign database."""
    Store.open(db_url)
    engine = get_engine(db_url)
    schema.downgrade(engine, "base")
    store = Store.open(db_url)
    assert schema.status(engine).current == schema.HEAD
    assert store.insert_events([("run.created", 1.0, "r", None, None, None)]) == [1]


# -- the check made on open -----------------------------------------------------------------


def test_open_refuses_an_older_revision_and_says_uet_db_upgrade(db_url: str) -> None:
    """A database at an older revision raises SchemaError telling the user to upgrade;
    it is not upgraded behind their back."""
    engine = get_engine(db_url)
    schema.upgrade(engine, "0001")
    with pytest.raises(SchemaError, match="uet db upgrade") as caught:
        Store.open(db_url)
    assert (caught.value.current, caught.value.expected) == ("0001", schema.HEAD)
    assert "0001" in str(caught.value)
    assert schema.status(engine).current == "0001"
    assert "decisions" not in table_names(engine)
    Store.open(db_url, check_schema=False)  # the check can be skipped (uet db upgrade does)


def test_open_refuses_a_revision_from_a_newer_uet(db_url: str) -> None:
    """A database stamped with a revision this uet does not know was written by a newer uet."""
    Store.open(db_url)
    engine = get_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(SchemaError, match="newer uet") as caught:
        Store.open(db_url)
    assert caught.value.current == "ffff"
    assert "ffff" in str(caught.value)


def test_open_refuses_a_foreign_database(db_url: str) -> None:
    """Tables but no alembic_version: 'not a uet database', and nothing is created in it."""
    engine = get_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(sa.text("INSERT INTO customers (id, name) VALUES (1, 'ada')"))
    with pytest.raises(SchemaError, match="not a uet database") as caught:
        Store.open(db_url)
    assert caught.value.current is None
    assert table_names(engine) == {"customers"}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM customers")).scalar_one() == "ada"
        conn.rollback()


# -- drift ----------------------------------------------------------------------------------


def test_drift_detects_a_column_added_by_hand(db_url: str) -> None:
    """A column added outside the migrations shows up in drift()."""
    Store.open(db_url)
    engine = get_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE events ADD COLUMN extra INTEGER"))
    found = schema.drift(engine)
    assert found != []
    assert any("events" in item and "extra" in item for item in found), found


def test_drift_detects_a_dropped_index(db_url: str) -> None:
    """An index missing from the database shows up in drift()."""
    Store.open(db_url)
    engine = get_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_events_type"))
    found = schema.drift(engine)
    assert any("ix_events_type" in item for item in found), found
