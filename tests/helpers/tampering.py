"""Editing the store behind trimtab's back, as someone with database admin rights would."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

#: Edits of a six-entry chain a hash chain must catch, each with the first bad seq:
#: the audit tests and the checkpoint tests both start from these.
CHAIN_EDITS = [
        pytest.param(["UPDATE audit SET actor = 'mallory@example.com' WHERE seq = 3"], 3,
                     id="modified"),
        pytest.param(["DELETE FROM audit WHERE seq = 3"], 3, id="deleted"),
        pytest.param(["UPDATE audit SET seq = seq + 1000 WHERE seq >= 3",
                      "UPDATE audit SET seq = seq - 999 WHERE seq >= 1000",
                      "INSERT INTO audit (seq, time, actor, action, object_type, object_id, "
                      "system, payload, prev_hash, hash) SELECT 3, time, 'mallory', "
                      "'deployment.promote', 'deployment', '99', system, '{}', prev_hash, "
                      "hash FROM audit WHERE seq = 2"], 3, id="inserted"),
        pytest.param(["UPDATE audit SET seq = 1003 WHERE seq = 3",
                      "UPDATE audit SET seq = 3 WHERE seq = 4",
                      "UPDATE audit SET seq = 4 WHERE seq = 1003"], 3, id="reordered"),
]


def raw(database_url: str, *statements: str) -> None:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def tamper(database_url: str, *statements: str) -> None:
    """An attacker with admin rights: drop the append-only triggers, then edit."""
    if database_url.startswith("sqlite"):
        drops = [f"DROP TRIGGER trg_audit_no_{op}" for op in ("update", "delete")]
    else:
        drops = ["ALTER TABLE audit DISABLE TRIGGER USER"]
    raw(database_url, *drops, *statements)
