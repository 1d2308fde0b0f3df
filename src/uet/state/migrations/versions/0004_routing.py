"""Routing state: circuit breakers, round-robin cursors and per-tool parallelism leases.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tool_state",
        sa.Column("tool", sa.String(128), nullable=False),
        sa.Column("breaker", sa.String(16), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("opened_at", sa.Float),
        sa.Column("retry_at", sa.Float),
        sa.Column("reason", sa.Text),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("tool", name="pk_tool_state"),
    )
    op.create_table(
        "route_cursors",
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("next_index", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("rule", name="pk_route_cursors"),
    )
    op.create_table(
        "tool_leases",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("tool", sa.String(128), nullable=False),
        sa.Column("holder", sa.String(256), nullable=False),
        sa.Column("acquired_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tool_leases"),
    )
    op.create_index("ix_tool_leases_tool", "tool_leases", ["tool"])


def downgrade() -> None:
    op.drop_index("ix_tool_leases_tool", table_name="tool_leases")
    op.drop_table("tool_leases")
    op.drop_table("route_cursors")
    op.drop_table("tool_state")
