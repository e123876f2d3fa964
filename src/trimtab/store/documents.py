"""The register of generated compliance documents: the evidence for check G4
(documents generated within 12 months, naming an owner). The documents
themselves live in files; the store keeps their hash so a copy can be checked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from trimtab.store.ids import new_call_id
from trimtab.store.schema.maturity import documents


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    system: str
    kind: str
    format: str
    sha256: str
    as_of: datetime
    generated_at: datetime
    owner: str
    missing: int
    location: str | None
    actor: str


def add(conn: Connection, **values) -> DocumentRecord:
    row = {"id": new_call_id(), **values}
    conn.execute(insert(documents).values(**row))
    return DocumentRecord(**row)


def for_system(conn: Connection, system: str, limit: int = 200) -> list[DocumentRecord]:
    """Newest first."""
    rows = conn.execute(select(documents).where(documents.c.system == system)
                        .order_by(documents.c.generated_at.desc(), documents.c.id.desc())
                        .limit(limit))
    return [DocumentRecord(**row._mapping) for row in rows]
