"""Per-minute, hour and day rollups of the call log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

KEY = ("resolution", "bucket", "system", "env", "release_id", "model", "outcome",
       "dimension", "value", "writer")


def upgrade() -> None:
    op.create_table(
        "rollups",
        sa.Column("resolution", sa.String(1), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("release_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("dimension", sa.String(100), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("writer", sa.String(32), nullable=False),
        sa.Column("calls", sa.BigInteger, nullable=False),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost_micro_usd", sa.BigInteger, nullable=False),
        sa.Column("cost_unknown", sa.BigInteger, nullable=False),
        sa.Column("sketch", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name="pk_rollups"),
    )
    op.create_index(
        "ix_rollups_resolution_dimension_bucket", "rollups", ["resolution", "dimension", "bucket"]
    )


def downgrade() -> None:
    op.drop_index("ix_rollups_resolution_dimension_bucket", table_name="rollups")
    op.drop_table("rollups")
