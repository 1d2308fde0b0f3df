"""Test-failure triage: a result history per test id, and the quarantine.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# SQLite makes an INTEGER PRIMARY KEY the rowid; PostgreSQL gets a bigint.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "triage_results",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("triage_id", sa.String(64), nullable=False),
        sa.Column("test_id", sa.String(1024), nullable=False),
        sa.Column("commit", sa.String(128)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("failure_class", sa.String(32)),
        sa.Column("storm", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("run_id", sa.String(128)),
        sa.Column("task_id", sa.String(256)),
        sa.Column("detail", sa.Text),
        sa.Column("triaged_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_triage_results"),
    )
    op.create_index("ix_triage_results_test_id_commit", "triage_results", ["test_id", "commit"])
    op.create_index("ix_triage_results_triage_id", "triage_results", ["triage_id"])
    op.create_table(
        "triage_quarantine",
        sa.Column("test_id", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("commit", sa.String(128)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("since", sa.Float, nullable=False),
        sa.Column("clean_runs", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("released_at", sa.Float),
        sa.Column("failed_at", sa.Float),
        sa.PrimaryKeyConstraint("test_id", name="pk_triage_quarantine"),
    )
    op.create_index("ix_triage_quarantine_status", "triage_quarantine", ["status"])


def downgrade() -> None:
    op.drop_index("ix_triage_quarantine_status", table_name="triage_quarantine")
    op.drop_table("triage_quarantine")
    op.drop_index("ix_triage_results_triage_id", table_name="triage_results")
    op.drop_index("ix_triage_results_test_id_commit", table_name="triage_results")
    op.drop_table("triage_results")
