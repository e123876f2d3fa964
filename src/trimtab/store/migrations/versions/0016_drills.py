"""Incident drills: tabletop exercises of a system's runbook.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drills",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scenario", sa.Text, nullable=False),
        sa.Column("participants", sa.Text, nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("restore_minutes", sa.Float, nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drills"),
    )
    op.create_index("ix_drills_system_held_at", "drills", ["system", "held_at"])


def downgrade() -> None:
    op.drop_index("ix_drills_system_held_at", table_name="drills")
    op.drop_table("drills")
