"""The tamper-evident audit chain.

Each entry's hash covers its own canonical content plus the previous entry's
hash, so changing, deleting, inserting or reordering any entry breaks every
hash after it. Entries are appended only inside ``Store.write()``, in the same
transaction as the change they describe.

A hash chain proves integrity against edits, not against someone who rewrites
the whole chain with database admin rights: publish the head hash that
``trimtab audit verify`` prints (CI log, Git tag) to anchor it outside.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from trimtab.errors import TrimtabError
from trimtab.jsontext import canonical_json, sha256_hex
from trimtab.store import changes
from trimtab.store.filters import matching
from trimtab.store.schema.audit_chain import audit, audit_head
from trimtab.store.schema.base import utcnow

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    time: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    system: str | None
    payload: str
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        import json

        return {
            "seq": self.seq,
            "time": self.time.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "system": self.system,
            "payload": json.loads(self.payload),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    #: Signed checkpoints the chain was compared with (None: none were given).
    checkpoints: int | None = None


#: What a store whose audit_head row was deleted says: every migration seeds the row,
#: so only an edit outside trimtab removes it.
HEAD_MISSING = ("the chain's head row (audit_head) is missing: it was deleted outside "
                "trimtab, so the chain's end cannot be checked and no change can be appended "
                "safely")
HEAD_MISSING_FIX = (
    "Fix: restore it from a backup of the store; or, once `trimtab audit verify` and your "
    "newest checkpoint vouch for every entry, from the newest entry: INSERT INTO "
    "audit_head (id, seq, hash) SELECT 1, seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
)


def _head(conn: Connection):
    row = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    ).first()
    if row is None:
        raise TrimtabError(f"{HEAD_MISSING}. {HEAD_MISSING_FIX}")
    return row


def text_hash(value: str | None) -> str | None:
    """What an audit payload holds of free text that may name a person (a
    reviewer's comment): its sha256, which proves the text without keeping it,
    so an erasure never needs to edit the chain."""
    return sha256_hex(value) if value else None


def entry_hash(
    *,
    seq: int,
    time: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    system: str | None,
    payload: str,
    prev_hash: str,
) -> str:
    body = {
        "seq": seq,
        "time": time.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "system": system,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return sha256_hex(canonical_json(body))


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    system: str | None,
    payload: dict[str, Any],
) -> AuditEntry:
    if not conn.info.get("trimtab_write"):
        raise RuntimeError("audit.append must run inside Store.write()")
    head = _head(conn)
    fields = dict(
        seq=head.seq + 1,
        time=utcnow(),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        system=system,
        payload=canonical_json(payload),
        prev_hash=head.hash,
    )
    fields["hash"] = entry_hash(**fields)
    conn.execute(insert(audit).values(**fields))
    conn.execute(
        update(audit_head)
        .where(audit_head.c.id == 1)
        .values(seq=fields["seq"], hash=fields["hash"])
    )
    changes.notify(conn, action)  # the head's seq is the change counter; wake listeners too
    return AuditEntry(**fields)


def entries(
    conn: Connection,
    *,
    system: str | None = None,
    since: datetime | None = None,
    action: str | None = None,
    limit: int | None = None,
    until: datetime | None = None,
) -> list[AuditEntry]:
    query = matching(select(audit).order_by(audit.c.seq), audit, system=system, since=since,
                     until=until, action=action)
    if limit is not None:
        # The newest N, still shown oldest first.
        query = query.order_by(None).order_by(audit.c.seq.desc()).limit(limit)
        return sorted((AuditEntry(**r._mapping) for r in conn.execute(query)), key=lambda e: e.seq)
    return [AuditEntry(**r._mapping) for r in conn.execute(query)]


def hashes_at(conn: Connection, seqs: list[int]) -> dict[int, str]:
    """The stored hash of each entry in ``seqs`` that exists (checkpoints compare them)."""
    found: dict[int, str] = {}
    for start in range(0, len(seqs), 500):
        chunk = seqs[start:start + 500]
        query = select(audit.c.seq, audit.c.hash).where(audit.c.seq.in_(chunk))
        found.update({row.seq: row.hash for row in conn.execute(query)})
    return found


def first_written_after(conn: Connection, moment: datetime, upto_seq: int) -> int | None:
    """The lowest seq up to ``upto_seq`` whose entry was written after ``moment``:
    an entry a checkpoint taken at ``moment`` should have covered, so a rewrite."""
    return conn.execute(
        select(func.min(audit.c.seq)).where(audit.c.seq <= upto_seq, audit.c.time > moment)
    ).scalar()


def head(conn: Connection) -> tuple[int, str]:
    """The newest (seq, hash) as the head row records it."""
    row = _head(conn)
    return row.seq, row.hash


def _stream(conn: Connection) -> Iterator[AuditEntry]:
    result = conn.execution_options(yield_per=1000).execute(select(audit).order_by(audit.c.seq))
    for row in result:
        yield AuditEntry(**row._mapping)


def verify(conn: Connection) -> ChainReport:
    """Walk the chain from seq 1; name the first entry that does not hold."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    count = 0
    for entry in _stream(conn):
        if entry.seq != expected_seq:
            bad = min(entry.seq, expected_seq)
            what = "missing (deleted?)" if entry.seq > expected_seq else "out of order"
            return ChainReport(False, count, prev_hash, bad, f"entry {expected_seq} is {what}")
        if entry.prev_hash != prev_hash:
            return ChainReport(
                False, count, prev_hash, entry.seq,
                f"entry {entry.seq} does not link to entry {entry.seq - 1} "
                "(inserted, deleted or reordered entries)",
            )
        fields = {k: getattr(entry, k) for k in (
            "seq", "time", "actor", "action", "object_type", "object_id", "system",
            "payload", "prev_hash",
        )}
        if entry_hash(**fields) != entry.hash:
            return ChainReport(
                False, count, prev_hash, entry.seq,
                f"entry {entry.seq} was modified after it was written (hash mismatch)",
            )
        prev_hash = entry.hash
        expected_seq += 1
        count += 1
    head = conn.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    if head is None:
        return ChainReport(False, count, prev_hash, count + 1, HEAD_MISSING)
    if head.seq != count or head.hash != prev_hash:
        return ChainReport(
            False, count, prev_hash, min(count, head.seq) + 1,
            f"the chain ends at entry {count} but its head records entry {head.seq} "
            "(entries deleted from the end, or appended outside trimtab)",
        )
    return ChainReport(True, count, prev_hash)
