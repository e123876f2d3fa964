"""Call records a process could not spool (a full disk), counted per system and env:
the built-in alert rule recording-dropped reads them.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_drops",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reporter", sa.String(200), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("dropped", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recording_drops"),
    )
    op.create_index("ix_recording_drops_time", "recording_drops", ["time"])


def downgrade() -> None:
    op.drop_index("ix_recording_drops_time", table_name="recording_drops")
    op.drop_table("recording_drops")
