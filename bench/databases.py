"""Fresh, empty stores for a benchmark run: a SQLite file, or a PostgreSQL database
created for the run (never the tests' database, which other runs may be using).

PostgreSQL comes from ``--postgres URL`` or ``TRIMTAB_BENCH_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/trimtab_bench``; the database named in
the URL is dropped and created again, so point it at a scratch name only.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/trimtab_bench"


def postgres_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("TRIMTAB_BENCH_POSTGRES") or DEFAULT_POSTGRES


def fresh_sqlite(folder: Path, name: str = "bench.db") -> str:
    path = folder / name
    for suffix in ("", "-wal", "-shm", ".migrate.lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def fresh_postgres(url: str) -> str:
    """Drop and create the database named in ``url``; returns the URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = parsed.database
    if not name or name in ("postgres", "template0", "template1"):
        raise SystemExit(f"refusing to recreate database {name!r}; name a scratch database")
    admin = parsed.set(drivername="postgresql", database="postgres")
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url


def postgres_reachable(url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        import psycopg
        from sqlalchemy.engine import make_url

        parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
        admin = parsed.set(drivername="postgresql", database="postgres")
        psycopg.connect(admin.render_as_string(hide_password=False), connect_timeout=3).close()
        return None
    except Exception as exc:  # noqa: BLE001 - reported, and the PostgreSQL half is skipped
        return f"{exc.__class__.__name__}: {exc}".splitlines()[0]
