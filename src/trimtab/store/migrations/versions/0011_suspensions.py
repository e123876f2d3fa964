"""The kill switch: suspend and resume events per system and environment.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suspensions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("mode", sa.String(10), nullable=True),
        sa.Column("message", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_suspensions"),
    )
    op.create_index("ix_suspensions_system_env_id", "suspensions", ["system", "env", "id"])


def downgrade() -> None:
    op.drop_index("ix_suspensions_system_env_id", table_name="suspensions")
    op.drop_table("suspensions")
