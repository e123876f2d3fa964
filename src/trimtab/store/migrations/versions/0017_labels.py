"""Ground truth for classic models: one true label per recorded call.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "labels",
        sa.Column("call_id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("release_id", sa.String(64), nullable=True),
        sa.Column("call_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("predicted", sa.String(201), nullable=False),
        sa.Column("error", sa.Float, nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_labels"),
    )
    op.create_index("ix_labels_system_time", "labels", ["system", "time"])


def downgrade() -> None:
    op.drop_index("ix_labels_system_time", table_name="labels")
    op.drop_table("labels")
