"""PostgreSQL schemas for the tests: each test gets one of its own, migrated to head.

Migrating a new schema (81 DDL statements) for every test and dropping it
afterwards cost about half a second a test. A schema a test has finished with is
emptied, renamed and handed to the next test instead, but only when it is provably the
same as a freshly migrated one: the same catalog (tables, columns, defaults,
constraints, indexes, triggers, functions, policies, rules, types, sequences,
owners and grants down to columns) and the
same rows the migrations seed. Anything else (a test that downgraded, granted a
role, added an object, or still holds a lock) gets its schema dropped, as before.
The first schema of every worker is migrated by trimtab itself, so the path a
real store takes stays the path under test; tests of migrating an empty schema
ask for one with ``@pytest.mark.empty_schema``.
"""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

#: Everything in a schema that migrations create and a test might change, as text
#: (pg_catalog only: information_schema's views took 0.1 s a call).
_CATALOG = """
WITH n AS (SELECT oid, nspowner, nspacl FROM pg_namespace WHERE nspname = :schema)
SELECT 'rel ' || c.relname || ' ' || c.relkind::text || ' ' || c.relowner::regrole::text || ' '
       || coalesce(c.relacl::text, '') || ' ' || c.relpersistence::text || ' '
       || c.relrowsecurity::text || ' ' || c.relforcerowsecurity::text || ' '
       || coalesce(c.reloptions::text, '')
  FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM n)
UNION ALL
SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' ' || a.attnotnull::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
       || ' ' || coalesce(a.attacl::text, '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = (SELECT oid FROM n) AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'con ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = (SELECT oid FROM n)
UNION ALL
SELECT 'idx ' || pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relnamespace = (SELECT oid FROM n)
UNION ALL
SELECT 'trg ' || t.tgname || ' ' || t.tgenabled::text || ' ' || pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = (SELECT oid FROM n) AND NOT t.tgisinternal
UNION ALL
SELECT 'fn ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
       || md5(replace(pg_get_functiondef(p.oid), :schema, '<schema>')) || ' '
       || coalesce(p.proacl::text, '')
  FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM n)
UNION ALL
SELECT 'pol ' || pol.polname || ' ' || pol.polrelid::regclass::text || ' '
       || pol.polcmd::text || ' ' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '')
  FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
 WHERE c.relnamespace = (SELECT oid FROM n)
UNION ALL
SELECT 'rule ' || r.rulename || ' ' || md5(replace(pg_get_ruledef(r.oid), :schema, '<schema>'))
  FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
 WHERE c.relnamespace = (SELECT oid FROM n)
UNION ALL
SELECT 'type ' || t.typname || ' ' || t.typtype::text
  FROM pg_type t WHERE t.typnamespace = (SELECT oid FROM n) AND t.typtype IN ('e', 'd')
UNION ALL
SELECT 'seq ' || c.relname || ' ' || s.seqstart || ' ' || s.seqincrement || ' '
       || s.seqmin || ' ' || s.seqmax || ' ' || s.seqcycle::text || ' '
       || CASE WHEN :values THEN coalesce(pg_sequence_last_value(c.oid)::text, 'unused')
               ELSE '' END
  FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
 WHERE c.relnamespace = (SELECT oid FROM n) AND c.relkind = 'S'
UNION ALL
SELECT 'nsp ' || nspowner::regrole::text || ' ' || coalesce(nspacl::text, '') FROM n
UNION ALL
SELECT 'dacl ' || defaclobjtype::text || ' ' || coalesce(defaclacl::text, '')
  FROM pg_default_acl WHERE defaclnamespace = (SELECT oid FROM n)
"""


class SchemaPool:
    """One per test worker: schemas at head, empty, ready for the next test."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.admin: Engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
        #: The same pool, in transactions: an emptied schema is all or nothing.
        self.transactional = self.admin.execution_options(isolation_level="READ COMMITTED")
        self.free: list[str] = []
        self.fingerprint: str | None = None  # the catalog of a new schema
        self.shape: str | None = None  # the same, whatever its sequences have handed out
        self.seed: dict[str, list[dict]] = {}  # rows the migrations write, by table
        self.tables: list[str] = []

    def url(self, schema: str) -> str:
        separator = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{separator}options={quote(f'-csearch_path={schema}')}"

    def create_empty(self) -> str:
        schema = _new_name()
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        return schema

    def take(self) -> str:
        """A migrated, empty schema: a recycled one, or a new one trimtab migrates."""
        if self.free:
            return self.free.pop()
        from trimtab.store.engine import Store

        schema = self.create_empty()
        Store(self.url(schema)).dispose()  # the real migration path
        if self.fingerprint is None:
            self._learn(schema)
        return schema

    def give_back(self, schema: str) -> None:
        """Empty the schema for the next test, or drop it when it is not as new."""
        try:
            renamed = self._reset(schema)
            if renamed:
                self.free.append(renamed)
                return
        except Exception:  # noqa: BLE001 - a schema we cannot vouch for is dropped
            pass
        self.drop(schema)

    def drop(self, schema: str) -> None:
        """Drop it; a session a finished test left holding a lock in it (which made
        the DROP wait forever) is ended after 5 s."""
        with self.admin.connect() as conn:
            conn.execute(text("SET lock_timeout = '5s'"))
            try:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                    raise
                conn.execute(text(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
                    "JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relnamespace = to_regnamespace(:schema) "
                    "AND l.pid <> pg_backend_pid()"), {"schema": schema})
                conn.execute(text("SET lock_timeout = 0"))
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            finally:
                conn.execute(text("RESET lock_timeout"))

    def close(self) -> None:
        for schema in self.free:
            self.drop(schema)
        self.free.clear()
        self.admin.dispose()

    def _catalog(self, conn, schema: str, *, values: bool = True) -> str:
        """The catalog as a hash; ``values=False`` leaves out where sequences stand."""
        lines = sorted(row[0] for row in conn.execute(text(_CATALOG),
                                                      {"schema": schema, "values": values}))
        return hashlib.sha256("\n".join(lines).replace(schema, "<schema>").encode()).hexdigest()

    def _learn(self, schema: str) -> None:
        with self.admin.connect() as conn:
            self.fingerprint = self._catalog(conn, schema)
            self.shape = self._catalog(conn, schema, values=False)
            self.tables = [r[0] for r in conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
                {"s": schema})]
            for table in self.tables:
                rows = [dict(r._mapping) for r in conn.execute(
                    text(f'SELECT * FROM "{schema}"."{table}"'))]
                if rows:
                    self.seed[table] = rows

    def _reset(self, schema: str) -> str | None:
        """The schema emptied under a new name (a process the test left behind finds
        nothing under the old one, as if it had been dropped); None if it differs."""
        with self.transactional.connect() as conn, conn.begin():
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))
            if self._catalog(conn, schema, values=False) != self.shape:
                return None
            # Every table locked first: a session the test left behind with a write in
            # flight holds a lock that DELETE would not wait for, and would commit
            # its row into the next test's schema. Waiting longer than lock_timeout
            # for it drops the schema instead.
            conn.execute(text("LOCK TABLE " + ", ".join(f'"{schema}"."{t}"' for t in self.tables)
                              + " IN ACCESS EXCLUSIVE MODE"))
            # DELETE, not TRUNCATE: TRUNCATE makes new files for every table and index
            # (over a second for 41 tables); the replica role skips the append-only
            # and foreign-key triggers of rows that are all going anyway.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in self.tables:
                conn.execute(text(f'DELETE FROM "{schema}"."{table}"'))
            conn.execute(text(
                "SELECT setval(c.oid, s.seqstart, false) FROM pg_class c "
                "JOIN pg_sequence s ON s.seqrelid = c.oid "
                "WHERE c.relnamespace = to_regnamespace(:schema)"), {"schema": schema})
            for table, rows in self.seed.items():
                columns = list(rows[0])
                conn.execute(text(
                    f'INSERT INTO "{schema}"."{table}" ({", ".join(columns)}) '
                    f'VALUES ({", ".join(":" + c for c in columns)})'), rows)
            # Sequences restarted: unused again, as when new.
            if self._catalog(conn, schema) != self.fingerprint:
                return None
            renamed = _new_name()
            conn.execute(text(f'ALTER SCHEMA "{schema}" RENAME TO "{renamed}"'))
            return renamed


def _new_name() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


#: The catalogs a schema's creation and drop leave dead rows in.
_CATALOGS = ("pg_class", "pg_attribute", "pg_type", "pg_depend", "pg_index", "pg_constraint",
             "pg_attrdef", "pg_trigger", "pg_proc", "pg_namespace", "pg_sequence",
             "pg_statistic", "pg_init_privs", "pg_description")


def tidy_catalog(base_url: str) -> int:
    """VACUUM FULL the system catalogs when they hold more dead rows than live ones;
    returns the dead rows found there (0 when nothing was done).

    Where autovacuum is off (this project's CI machines), every schema a test run
    created and dropped stays in pg_class and pg_attribute as dead rows: after a
    few runs they are hundreds of MB, and every migration, drop and catalog lookup
    in the suite reads through them (a schema reset took 0.55 s instead of 0.05 s).
    VACUUM FULL locks each catalog while it rewrites it (a second or two in all):
    other sessions of the database wait meanwhile.
    """
    engine = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            live, dead = conn.execute(text(
                "SELECT coalesce(sum(n_live_tup), 0), coalesce(sum(n_dead_tup), 0) "
                "FROM pg_stat_sys_tables WHERE schemaname = 'pg_catalog' "
                "AND relname IN ('pg_class', 'pg_attribute')")).one()
            if dead <= max(live, 10_000):
                return 0
            conn.execute(text("VACUUM FULL " + ", ".join(f"pg_catalog.{t}" for t in _CATALOGS)))
            # Only a plain VACUUM reports to the statistics: without it the next run
            # would still see the dead rows counted and vacuum again.
            conn.execute(text("VACUUM pg_catalog.pg_class, pg_catalog.pg_attribute"))
            return int(dead)
    finally:
        engine.dispose()
