"""Incident freezes (a system's releases pinned) and legal holds (calls exempt from pruning).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.String(16), nullable=True),
        sa.Column("pinned", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("frozen_by", sa.String(320), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(320), nullable=True),
        sa.Column("lift_reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_freezes"),
    )
    op.create_index("ix_freezes_system_lifted_at", "freezes", ["system", "lifted_at"])
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.String(16), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("placed_by", sa.String(320), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(320), nullable=True),
        sa.Column("release_reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_legal_holds"),
    )
    op.create_index("ix_legal_holds_system_released_at", "legal_holds",
                    ["system", "released_at"])


def downgrade() -> None:
    op.drop_index("ix_legal_holds_system_released_at", table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_index("ix_freezes_system_lifted_at", table_name="freezes")
    op.drop_table("freezes")
