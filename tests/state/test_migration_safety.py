"""Migrations on SQLite rebuild tables; child rows must survive that."""

from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.operations import Operations

from uet.state import schema
from uet.state.records import AttemptRecord, RunRecord, TaskRecord
from uet.state.store import Store
from uet.states import AttemptState, RunStatus, TaskStatus


def test_rebuilding_a_parent_table_keeps_its_children(sqlite_url: str) -> None:
    """A batch-mode rebuild of `runs` (what a future migration does to alter a column) runs
    with foreign keys checked at the end, not enforced row by row: the DROP of the old table
    does not cascade to tasks and attempts."""
    store = Store.open(sqlite_url)
    with store.transaction() as tx:
        tx.create_run(RunRecord(id="r", status=RunStatus.RUNNING, created_at=1.0))
        tx.add_tasks([TaskRecord(run_id="r", id="t", workstream_id="w", status=TaskStatus.RUNNING)])
        tx.dispatch_attempts(
            [
                AttemptRecord(
                    id=0,
                    run_id="r",
                    task_id="t",
                    number=1,
                    state=AttemptState.RUNNING,
                    dispatched_at=1.0,
                )
            ]
        )
    with schema._migration_connection(store.engine) as config:
        conn = config.attributes["connection"]
        operations = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
        with operations.batch_alter_table("runs", recreate="always"):
            pass
    with store.reader() as tx:
        assert [t.id for t in tx.get_tasks("r")] == ["t"]
        assert len(tx.get_attempts("r")) == 1
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        conn.rollback()
