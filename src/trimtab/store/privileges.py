"""PostgreSQL roles that make the history tables append-only for ordinary connections.

The application checks roles before every change, but anyone whose database
connection may UPDATE or DELETE can skip those checks. ``apply`` creates three
group roles (NOLOGIN; grant them to the login roles people and services use)
and splits the privileges so that the connections of ordinary users and
services cannot rewrite history, enforced by PostgreSQL itself:

- ``<prefix>_owner`` owns every table and sequence of the schema: the role a
  migration (``trimtab db upgrade``) and ``trimtab db roles`` run as;
- ``<prefix>_writer`` is what the CLI, the SDK, the gateway and ``trimtab serve``
  connect as. It may read everything and change the working tables, but the
  history tables (``APPEND_ONLY``) take only INSERT; ``approval_requests``
  additionally takes UPDATE of the columns that move a request through its
  states (never its release, requester or quorum), and ``audit_head`` UPDATE of
  its two columns (every audit entry advances it; a writer that sets it wrong
  makes ``trimtab audit verify`` fail, it cannot remove the entries);
- ``<prefix>_reader`` may only read (dashboards, auditors, BI).

Neither writer nor reader gets TRUNCATE, REFERENCES or TRIGGER on anything.
A later migration's new tables need the grants again: re-run ``trimtab db roles``
after ``trimtab db upgrade`` (it is idempotent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from trimtab.errors import TrimtabError

#: History: rows are added, never changed or removed by an ordinary connection.
APPEND_ONLY = ("audit", "deployments", "releases", "approval_requests", "approval_votes",
               "freezes", "legal_holds")

#: The columns an ordinary connection may UPDATE in an otherwise append-only table,
#: because the application itself moves them (and audits each move).
UPDATABLE_COLUMNS = {
    "audit_head": ("seq", "hash"),
    "approval_requests": ("state", "decided_at", "deployment_id"),
    # An incident's freeze is lifted, a legal hold's window ended or the hold
    # released: never its system, window start or pinned releases.
    "freezes": ("lifted_at", "lifted_by", "lift_reason"),
    "legal_holds": ("until", "released_at", "released_by", "release_reason"),
}

#: Only readable by writers: the schema's version belongs to the migrator.
READ_ONLY = ("alembic_version",)

_PREFIX = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


@dataclass(frozen=True)
class RolePlan:
    """What ``apply`` did: the schema, the three roles, and who was made a member."""

    schema: str
    owner: str
    writer: str
    reader: str
    created: list[str] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)
    tables: int = 0

    def to_dict(self) -> dict:
        return {"schema": self.schema, "owner": self.owner, "writer": self.writer,
                "reader": self.reader, "created": self.created, "members": self.members,
                "tables": self.tables, "append_only": list(APPEND_ONLY),
                "updatable_columns": {t: list(c) for t, c in UPDATABLE_COLUMNS.items()}}


def check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise TrimtabError(
            f"--prefix {prefix!r} is not a usable role name prefix. Fix: lower-case letters, "
            "digits and underscores, starting with a letter (e.g. --prefix trimtab).")
    return prefix


def _ident(conn: Connection, name: str) -> str:
    return conn.execute(text("SELECT quote_ident(:n)"), {"n": name}).scalar_one()


def apply(conn: Connection, prefix: str = "trimtab", *, owners: list[str] = (),
          writers: list[str] = (), readers: list[str] = ()) -> RolePlan:
    """Create (if absent) the three roles and (re)grant privileges on every table
    of the current schema; grant each role to the named login roles. Runs in
    the caller's transaction; needs CREATEROLE and ownership of the tables (or
    a superuser)."""
    require_postgresql(conn.dialect.name)
    check_prefix(prefix)
    user = conn.execute(text("SELECT current_user")).scalar()
    try:
        return _apply(conn, prefix, owners, writers, readers)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != "42501":  # insufficient_privilege
            raise
        raise TrimtabError(
            f"PostgreSQL refused: {str(exc.orig).strip()}. `trimtab db roles` must run as a "
            f"role that may create roles and owns the store's tables ({user!r} may not). "
            "Fix: run it with the TRIMTAB_DATABASE_URL of the database owner or a superuser."
        ) from None


def require_postgresql(dialect: str) -> None:
    if dialect != "postgresql":
        raise TrimtabError(
            "`trimtab db roles` is for PostgreSQL: SQLite has no users or privileges (whoever "
            "can write the file can change everything; the audit chain and its checkpoints "
            "show it). Fix: keep the SQLite file readable only by its owner (trimtab creates "
            "it 0600), or move a team store to PostgreSQL (TRIMTAB_DATABASE_URL=postgresql://...).")


def _apply(conn: Connection, prefix: str, owners, writers, readers) -> RolePlan:
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    names = {kind: f"{prefix}_{kind}" for kind in ("owner", "writer", "reader")}
    plan = RolePlan(schema, names["owner"], names["writer"], names["reader"])
    for role in names.values():
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                              {"r": role}).first()
        if not exists:
            conn.execute(text(f"CREATE ROLE {_ident(conn, role)} NOLOGIN"))
            plan.created.append(role)
    owner, writer, reader = (_ident(conn, names[k]) for k in ("owner", "writer", "reader"))
    q_schema = _ident(conn, schema)
    tables = list(conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
        {"s": schema}).scalars())
    sequences = list(conn.execute(text(
        "SELECT sequencename FROM pg_sequences WHERE schemaname = :s ORDER BY sequencename"),
        {"s": schema}).scalars())
    if "audit" not in tables:
        raise TrimtabError(
            f"schema {schema!r} holds no trimtab store. Fix: run `trimtab db upgrade` first, "
            "with the same TRIMTAB_DATABASE_URL.")
    # Whoever runs this must be able to act as the owner to hand tables over.
    conn.execute(text(f"GRANT {owner} TO CURRENT_USER"))
    conn.execute(text(f"GRANT USAGE ON SCHEMA {q_schema} TO {writer}, {reader}"))
    conn.execute(text(f"GRANT USAGE, CREATE ON SCHEMA {q_schema} TO {owner}"))
    for table in tables:
        q = f"{q_schema}.{_ident(conn, table)}"
        conn.execute(text(f"ALTER TABLE {q} OWNER TO {owner}"))
        conn.execute(text(f"REVOKE ALL ON {q} FROM PUBLIC, {writer}, {reader}"))
        conn.execute(text(f"GRANT SELECT ON {q} TO {reader}, {writer}"))
        if table in READ_ONLY:
            continue
        if table in APPEND_ONLY or table in UPDATABLE_COLUMNS:
            if table in APPEND_ONLY:
                conn.execute(text(f"GRANT INSERT ON {q} TO {writer}"))
            columns = UPDATABLE_COLUMNS.get(table)
            if columns:
                listed = ", ".join(_ident(conn, c) for c in columns)
                conn.execute(text(f"GRANT UPDATE ({listed}) ON {q} TO {writer}"))
        else:
            conn.execute(text(f"GRANT INSERT, UPDATE, DELETE ON {q} TO {writer}"))
    for sequence in sequences:
        q = f"{q_schema}.{_ident(conn, sequence)}"
        # Serial sequences moved with their tables (ALTER TABLE ... OWNER).
        conn.execute(text(f"GRANT USAGE, SELECT ON SEQUENCE {q} TO {writer}"))
        conn.execute(text(f"GRANT SELECT ON SEQUENCE {q} TO {reader}"))
    for kind, logins in (("owner", owners), ("writer", writers), ("reader", readers)):
        for login in logins:
            found = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"),
                                 {"r": login}).first()
            if not found:
                raise TrimtabError(
                    f"--{kind} {login!r}: no such PostgreSQL role. Fix: create the login first "
                    f"(CREATE ROLE {login} LOGIN PASSWORD '...'), then run this again.")
            conn.execute(text(f"GRANT {_ident(conn, names[kind])} TO {_ident(conn, login)}"))
            plan.members.setdefault(names[kind], []).append(login)
    return RolePlan(plan.schema, plan.owner, plan.writer, plan.reader, plan.created,
                    plan.members, len(tables))
