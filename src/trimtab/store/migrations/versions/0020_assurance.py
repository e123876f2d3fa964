"""Independent reviews of a system and their tracked findings (check G6).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assurance_reviews",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("reviewer", sa.String(320), nullable=False),
        sa.Column("organisation", sa.String(320), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assurance_reviews"),
    )
    op.create_index("ix_assurance_reviews_system_reviewed_at", "assurance_reviews",
                    ["system", "reviewed_at"])
    op.create_table(
        "assurance_findings",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("review_id", sa.String(32), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(320), nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_assurance_findings"),
        sa.ForeignKeyConstraint(["review_id"], ["assurance_reviews.id"],
                                name="fk_assurance_findings_review_id_assurance_reviews"),
        sa.UniqueConstraint("review_id", "number",
                            name="uq_assurance_findings_review_id_number"),
    )
    op.create_index("ix_assurance_findings_system_status", "assurance_findings",
                    ["system", "status"])


def downgrade() -> None:
    op.drop_index("ix_assurance_findings_system_status", table_name="assurance_findings")
    op.drop_table("assurance_findings")
    op.drop_index("ix_assurance_reviews_system_reviewed_at", table_name="assurance_reviews")
    op.drop_table("assurance_reviews")
