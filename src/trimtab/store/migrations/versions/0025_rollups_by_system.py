"""An index on rollups by (resolution, dimension, system, bucket): a system page's
cost tables read one system's user and tag rows over a window, and at 10,000,000
calls the other systems' rows in that window are most of what the old
(resolution, dimension, bucket) index would walk through (bench/dashboard_pages.py).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_rollups_resolution_dimension_system_bucket", "rollups",
                    ["resolution", "dimension", "system", "bucket"])


def downgrade() -> None:
    op.drop_index("ix_rollups_resolution_dimension_system_bucket", table_name="rollups")
