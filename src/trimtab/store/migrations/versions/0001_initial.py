"""Systems, releases, deployments and the audit chain.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64
APPEND_ONLY = ("releases", "deployments", "audit")


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        "systems",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("owner", sa.String(320), nullable=False),
        sa.Column("tier", sa.Integer, nullable=False),
        sa.Column("risk", sa.String(20), nullable=False),
        sa.Column("customer_facing", sa.Boolean, nullable=False),
        sa.Column("target_stage", sa.Integer, nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("updated_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_systems"),
        sa.UniqueConstraint("name", name="uq_systems_name"),
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("system_id", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("author", sa.String(320), nullable=False),
        sa.Column("created_at", ts, nullable=False),
        sa.Column("git_commit", sa.String(64), nullable=True),
        sa.Column("git_dirty", sa.Boolean, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
        sa.ForeignKeyConstraint(
            ["system_id"], ["systems.id"], name="fk_releases_system_id_systems"
        ),
    )
    op.create_index("ix_releases_system_id_created_at", "releases", ["system_id", "created_at"])
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("system_id", sa.Integer, nullable=False),
        sa.Column("env", sa.String(100), nullable=False),
        sa.Column("release_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("percent", sa.Integer, nullable=True),
        sa.Column("parent_id", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("ci_url", sa.Text, nullable=True),
        sa.Column("created_at", ts, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.ForeignKeyConstraint(
            ["system_id"], ["systems.id"], name="fk_deployments_system_id_systems"
        ),
        sa.ForeignKeyConstraint(
            ["release_id"], ["releases.id"], name="fk_deployments_release_id_releases"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["deployments.id"], name="fk_deployments_parent_id_deployments"
        ),
    )
    op.create_index(
        "ix_deployments_system_id_env_id", "deployments", ["system_id", "env", "id"]
    )
    op.create_table(
        "audit",
        sa.Column("seq", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("time", ts, nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("object_type", sa.String(50), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=False),
        sa.Column("system", sa.String(200), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit"),
    )
    op.create_index("ix_audit_system_seq", "audit", ["system", "seq"])
    op.create_index("ix_audit_time", "audit", ["time"])
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS}])

    # Releases are immutable; deployment history and the audit trail are
    # append-only: the database itself refuses an UPDATE or DELETE, whatever
    # client issues it. (Someone with DDL rights can drop a trigger; the audit
    # hash chain is what catches that.)
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION trimtab_append_only() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION 'trimtab: % is append-only; % refused', TG_TABLE_NAME, TG_OP;
            END $$ LANGUAGE plpgsql
            """
        )
    for table in APPEND_ONLY:
        for op_name in ("UPDATE", "DELETE"):
            name = f"trg_{table}_no_{op_name.lower()}"
            if dialect == "postgresql":
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {op_name} ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION trimtab_append_only()"
                )
            else:
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {op_name} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, 'trimtab: {table} is append-only; "
                    f"{op_name} refused'); END"
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for op_name in ("UPDATE", "DELETE"):
            name = f"trg_{table}_no_{op_name.lower()}"
            op.execute(
                f"DROP TRIGGER IF EXISTS {name} ON {table}"
                if dialect == "postgresql"
                else f"DROP TRIGGER IF EXISTS {name}"
            )
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS trimtab_append_only()")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_time", table_name="audit")
    op.drop_index("ix_audit_system_seq", table_name="audit")
    op.drop_table("audit")
    op.drop_index("ix_deployments_system_id_env_id", table_name="deployments")
    op.drop_table("deployments")
    op.drop_index("ix_releases_system_id_created_at", table_name="releases")
    op.drop_table("releases")
    op.drop_table("systems")
