"""Patches: the patch ledger (one row per patch) and its transitions (one row per move).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# SQLite makes an INTEGER PRIMARY KEY the rowid; PostgreSQL gets a bigint.
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "patches",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(16)),
        sa.Column("repo", sa.Text, nullable=False),
        sa.Column("target", sa.String(256), nullable=False),
        sa.Column("base_commit", sa.String(64), nullable=False),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("origin", sa.Text),
        sa.Column("scope", sa.Text),
        sa.Column("confidence", sa.Float),
        sa.Column("signals", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("branch", sa.String(256)),
        sa.Column("commit", sa.String(64)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_patches"),
    )
    op.create_index("ix_patches_state", "patches", ["state"])
    op.create_index("ix_patches_created_at", "patches", ["created_at"])
    op.create_table(
        "patch_transitions",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("patch_id", sa.String(64), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("data", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_patch_transitions"),
        sa.ForeignKeyConstraint(
            ["patch_id"],
            ["patches.id"],
            name="fk_patch_transitions_patch_id_patches",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_patch_transitions_patch_id_id", "patch_transitions", ["patch_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_patch_transitions_patch_id_id", table_name="patch_transitions")
    op.drop_table("patch_transitions")
    op.drop_index("ix_patches_created_at", table_name="patches")
    op.drop_index("ix_patches_state", table_name="patches")
    op.drop_table("patches")
