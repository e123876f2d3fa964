"""The inventory: which AI systems exist, who owns them, how risky they are."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from trimtab.errors import NotFound
from trimtab.store import audit
from trimtab.store.schema.base import utcnow
from trimtab.store.schema.release_history import systems

# Fields the project file declares; a change to any is audited as system.update.
DECLARED = (
    "kind", "description", "owner", "tier", "risk", "customer_facing", "target_stage",
)


@dataclass(frozen=True)
class System:
    id: int
    name: str
    kind: str
    description: str
    owner: str
    tier: int
    risk: str
    customer_facing: bool
    target_stage: int
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["updated_at"] = self.updated_at.isoformat()
        return data


def register(conn: Connection, name: str, declared: dict, *, actor: str) -> tuple[System, str]:
    """Insert or update a system from its declaration.

    Returns the stored system and what happened: "registered", "updated" or
    "unchanged". Unchanged writes nothing, so syncing is idempotent.
    """
    values = {field: declared[field] for field in DECLARED}
    row = conn.execute(select(systems).where(systems.c.name == name)).first()
    now = utcnow()
    if row is None:
        new_id = conn.execute(
            insert(systems).values(name=name, created_at=now, updated_at=now, **values)
        ).inserted_primary_key[0]
        audit.append(
            conn, actor=actor, action="system.register", object_type="system",
            object_id=name, system=name, payload=values,
        )
        return get_by_id(conn, new_id), "registered"
    changes = {f: [row._mapping[f], v] for f, v in values.items() if row._mapping[f] != v}
    if not changes:
        return System(**row._mapping), "unchanged"
    conn.execute(update(systems).where(systems.c.id == row.id).values(updated_at=now, **values))
    audit.append(
        conn, actor=actor, action="system.update", object_type="system",
        object_id=name, system=name, payload={"changes": changes},
    )
    return get_by_id(conn, row.id), "updated"


def get_by_id(conn: Connection, system_id: int) -> System:
    return System(**conn.execute(select(systems).where(systems.c.id == system_id)).one()._mapping)


def find(conn: Connection, name: str) -> System | None:
    row = conn.execute(select(systems).where(systems.c.name == name)).first()
    return System(**row._mapping) if row else None


def get(conn: Connection, name: str) -> System:
    found = find(conn, name)
    if found is None:
        known = [s.name for s in list_all(conn)]
        hint = f" Registered systems: {', '.join(known)}." if known else ""
        raise NotFound(
            f"unknown system {name!r}: it has no release in this store yet.{hint} "
            f"Fix: check the name, or cut its first release with `trimtab release {name}`."
        )
    return found


def list_all(conn: Connection) -> list[System]:
    return [System(**r._mapping) for r in conn.execute(select(systems).order_by(systems.c.name))]
