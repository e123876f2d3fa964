"""Editing the store behind trimtab's back, as someone with database admin rights would."""

from __future__ import annotations

from sqlalchemy import create_engine, text


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
