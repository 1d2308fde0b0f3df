"""Triggers: the fire ledger (one row per trigger and fire key), the daemon's lease and cursor.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# SQLite makes an INTEGER PRIMARY KEY the rowid; PostgreSQL gets a bigint.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "trigger_fires",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("trigger_id", sa.String(128), nullable=False),
        sa.Column("fire_key", sa.String(256), nullable=False),
        sa.Column("scheduled_for", sa.Float),
        sa.Column("fired_at", sa.Float, nullable=False),
        sa.Column("run_id", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("daemon", sa.String(256)),
        sa.PrimaryKeyConstraint("id", name="pk_trigger_fires"),
        sa.UniqueConstraint("trigger_id", "fire_key", name="uq_trigger_fires_trigger_id_fire_key"),
    )
    op.create_index(
        "ix_trigger_fires_trigger_id_fired_at", "trigger_fires", ["trigger_id", "fired_at"]
    )
    op.create_index("ix_trigger_fires_status", "trigger_fires", ["status"])
    op.create_table(
        "daemon_leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_daemon_leases"),
    )
    op.create_table(
        "trigger_cursors",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_trigger_cursors"),
    )


def downgrade() -> None:
    op.drop_table("trigger_cursors")
    op.drop_table("daemon_leases")
    op.drop_index("ix_trigger_fires_status", table_name="trigger_fires")
    op.drop_index("ix_trigger_fires_trigger_id_fired_at", table_name="trigger_fires")
    op.drop_table("trigger_fires")
