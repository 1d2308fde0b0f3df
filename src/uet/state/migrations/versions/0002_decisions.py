"""The decision registry, and events tied to the attempt that caused them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(128)),
        sa.Column("task_id", sa.String(256)),
        sa.Column("chosen", sa.Text, nullable=False),
        sa.Column("alternatives", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("data", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
    )
    op.create_index("ix_decisions_run_id_category", "decisions", ["run_id", "category"])
    op.create_index("ix_decisions_category_ts", "decisions", ["category", "ts"])
    # On SQLite, batch mode rebuilds the table by copying it: every row is kept.
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("attempt_id", sa.BigInteger))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("attempt_id")
    op.drop_table("decisions")
