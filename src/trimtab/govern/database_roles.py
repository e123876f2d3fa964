"""`trimtab db roles`: PostgreSQL privileges behind the application's role checks.

The role checks in ``trimtab.govern.roles`` hold for everyone who goes through
trimtab; a database connection that may UPDATE or DELETE can go around them.
This splits the store's PostgreSQL privileges (``trimtab.store.privileges``) so
that the connections people and services use cannot rewrite the history
tables at all, whatever they type. Making the split is itself audited
(``db.roles``) and needs a trimtab admin as well as a PostgreSQL role that may
create roles and owns the tables.
"""

from __future__ import annotations

from trimtab.store import Store, privileges
from trimtab.store import audit as audit_store
from trimtab.store.privileges import RolePlan


def create_roles(store: Store, *, actor: str, prefix: str = "trimtab",
                 owners: list[str] = (), writers: list[str] = (),
                 readers: list[str] = ()) -> RolePlan:
    with store.write() as conn:
        plan = privileges.apply(conn, prefix, owners=list(owners), writers=list(writers),
                                readers=list(readers))
        audit_store.append(conn, actor=actor, action="db.roles", object_type="schema",
                           object_id=plan.schema, system=None,
                           payload={"owner": plan.owner, "writer": plan.writer,
                                    "reader": plan.reader, "created": plan.created,
                                    "members": plan.members})
    return plan
