"""Incidents and their timeline notes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("system", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("categories", sa.Text, nullable=False),
        sa.Column("aware_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(320), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(320), nullable=True),
        sa.Column("root_cause", sa.Text, nullable=True),
        sa.Column("actions", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_system_aware_at", "incidents", ["system", "aware_at"])
    op.create_table(
        "incident_notes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("incident_id", sa.String(16), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"],
                                name="fk_incident_notes_incident_id_incidents"),
        sa.PrimaryKeyConstraint("id", name="pk_incident_notes"),
    )
    op.create_index("ix_incident_notes_incident_id_id", "incident_notes", ["incident_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_incident_notes_incident_id_id", table_name="incident_notes")
    op.drop_table("incident_notes")
    op.drop_index("ix_incidents_system_aware_at", table_name="incidents")
    op.drop_table("incidents")
