"""Agent clones: who works where, from which base, merged or removed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("repo", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("branch", sa.String(128), nullable=False),
        sa.Column("base_ref", sa.String(256), nullable=False),
        sa.Column("base_commit", sa.String(64), nullable=False),
        sa.Column("target", sa.String(256), nullable=False),
        sa.Column("files_scope", sa.Text),
        sa.Column("depends_on", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("merged_commit", sa.String(64)),
        sa.Column("archive_ref", sa.String(256)),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
    )
    op.create_index("ix_agents_status", "agents", ["status"])


def downgrade() -> None:
    op.drop_index("ix_agents_status", table_name="agents")
    op.drop_table("agents")
