"""Runs, workstreams, tasks, attempts and the event log.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("host", sa.String(256)),
        sa.Column("pid", sa.Integer),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("deterministic", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("params", sa.Text),
        sa.Column("summary", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("ix_runs_created_at", "runs", ["created_at"])

    op.create_table(
        "workstreams",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("concurrency", sa.Integer),
        sa.Column("depends_on", sa.Text),
        sa.Column("source", sa.Text),
        sa.Column("spec", sa.Text),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_workstreams_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "id", name="pk_workstreams"),
    )

    op.create_table(
        "tasks",
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("id", sa.String(256), nullable=False),
        sa.Column("workstream_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("depends_on", sa.Text),
        sa.Column("spec", sa.Text),
        sa.Column("max_attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("attempts_used", sa.Integer, nullable=False, server_default="0"),
        sa.Column("outcome", sa.String(16)),
        sa.Column("exit_code", sa.Integer),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_tasks_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_run_id_status", "tasks", ["run_id", "status"])

    op.create_table(
        "attempts",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("run_id", sa.String(128), nullable=False),
        sa.Column("task_id", sa.String(256), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("tool", sa.String(128)),
        sa.Column("host", sa.String(256)),
        sa.Column("pid", sa.Integer),
        sa.Column("pgid", sa.Integer),
        sa.Column("exit_code", sa.Integer),
        sa.Column("dispatched_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("output_tail", sa.Text),
        sa.Column("error", sa.Text),
        sa.ForeignKeyConstraint(
            ["run_id", "task_id"],
            ["tasks.run_id", "tasks.id"],
            name="fk_attempts_run_id_task_id_tasks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_attempts"),
        sa.UniqueConstraint(
            "run_id", "task_id", "number", name="uq_attempts_run_id_task_id_number"
        ),
    )
    op.create_index("ix_attempts_run_id_state", "attempts", ["run_id", "state"])

    op.create_table(
        "events",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("run_id", sa.String(128)),
        sa.Column("seq", sa.Integer),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("task_id", sa.String(256)),
        sa.Column("payload", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_run_id_seq", "events", ["run_id", "seq"], unique=True)
    op.create_index("ix_events_type", "events", ["type"])


def downgrade() -> None:
    for table in ("events", "attempts", "tasks", "workstreams", "runs"):
        op.drop_table(table)
