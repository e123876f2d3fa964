"""Stored maturity assessments, so a system's stage has a history.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("track", sa.String(20), nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("target", sa.Integer, nullable=False),
        sa.Column("failing", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
    )
    op.create_index("ix_assessments_system_time", "assessments", ["system", "time"])


def downgrade() -> None:
    op.drop_index("ix_assessments_system_time", table_name="assessments")
    op.drop_table("assessments")
