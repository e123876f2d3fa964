"""Sampled scoring of real outputs and flagged calls: a release and a pass/fail on
each score, flags that put a call in the review sample, and the scoring cursor.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scores", sa.Column("release_id", sa.String(64), nullable=True))
    op.add_column("scores", sa.Column("passed", sa.Boolean, nullable=True))
    op.create_table(
        "call_flags",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_flags"),
        sa.UniqueConstraint("call_id", name="uq_call_flags_call_id"),
    )
    op.create_index("ix_call_flags_system_time", "call_flags", ["system", "time"])
    op.create_table(
        "scoring_cursors",
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("call_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_call_id", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("system", name="pk_scoring_cursors"),
    )
    op.create_table(
        "scoring_counts",
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("release_id", sa.String(64), nullable=False),
        sa.Column("seen", sa.Integer, nullable=False),
        sa.Column("sampled", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("system", "release_id", name="pk_scoring_counts"),
    )


def downgrade() -> None:
    op.drop_table("scoring_counts")
    op.drop_table("scoring_cursors")
    op.drop_index("ix_call_flags_system_time", table_name="call_flags")
    op.drop_table("call_flags")
    with op.batch_alter_table("scores") as batch:
        batch.drop_column("passed")
        batch.drop_column("release_id")
