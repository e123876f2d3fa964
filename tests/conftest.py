"""Shared fixtures. Every store-backed test runs on SQLite and on PostgreSQL.

PostgreSQL runs when TRIMTAB_TEST_DATABASE_URL is set (CI sets it); each test
gets a schema of its own, migrated to head and empty (tests/helpers/pg_schemas.py).
Set but unreachable is a failure, not a skip: CI must never go green having
tested only SQLite.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer.testing
from sqlalchemy.exc import OperationalError
from typer.main import get_command
from typer.testing import CliRunner

import trimtab
from tests.helpers import promote_through
from tests.helpers.pg_schemas import SchemaPool, tidy_catalog
from trimtab.cli import app, output

PG_ENV = "TRIMTAB_TEST_DATABASE_URL"


def _pg_base() -> str:
    url = os.environ[PG_ENV]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def pytest_sessionstart(session):
    """Once per run (not per xdist worker): a PostgreSQL catalog bloated by earlier
    runs slows every test that touches a schema (tests/helpers/pg_schemas.py)."""
    if os.environ.get(PG_ENV) and not hasattr(session.config, "workerinput"):
        dead = tidy_catalog(_pg_base())
        if dead:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"PostgreSQL: {dead:,} dead catalog rows vacuumed "
                                    "(is autovacuum off?)")


@pytest.fixture(autouse=True, scope="session")
def _patient_http_clients():
    """httpx gives up after 5 s by default. On a CI machine running the suite on
    every core, a server under test (a PostgreSQL-backed page, a gateway starting)
    can take longer without being wrong, and a 5 s cut made such tests flaky.
    Tests that mean a timeout pass their own; trimtab itself always passes one."""
    import httpx._config

    default = httpx._config.DEFAULT_TIMEOUT_CONFIG  # the object every default refers to
    saved = (default.connect, default.read, default.write, default.pool)
    default.connect = default.read = default.write = default.pool = 30.0
    yield
    default.connect, default.read, default.write, default.pool = saved


@pytest.fixture(autouse=True, scope="session")
def _one_click_tree():
    """typer's CliRunner turns the Typer app into click commands on every invoke:
    ~0.1 s of CPU for trimtab's 100-odd commands, times the thousands of CLI
    runs in the suite. The tree is the same every time, so build it once.
    Any other Typer app (tests/test_docs.py builds some) is built as before."""
    built = get_command(app)
    original = typer.testing._get_command

    def get(typer_app):
        return built if typer_app is app else original(typer_app)

    typer.testing._get_command = get
    yield
    typer.testing._get_command = original


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """Tests never see the developer's own project, store or identity."""
    for name in ("TRIMTAB_DATABASE_URL", "TRIMTAB_PROJECT", "TRIMTAB_ARTEFACT_STORE",
                 "TRIMTAB_CI_URL", "GITHUB_RUN_ID", "CI_JOB_URL", "BUILD_URL",
                 "TRIMTAB_TOKEN", "TRIMTAB_CHECKPOINT_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("OTEL_")]:  # no spans to a real collector
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIMTAB_USER", "alice@example.com")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store' / 'trimtab.db'}"
        return
    yield from _postgres_schema(request)


@pytest.fixture
def postgres_url(request):
    """For tests about PostgreSQL itself (e.g. the network path to it)."""
    yield from _postgres_schema(request)


@pytest.fixture(scope="session")
def _schema_pool():
    """Migrated schemas, emptied and reused between tests (tests/helpers/pg_schemas.py)."""
    if not os.environ.get(PG_ENV):
        yield None
        return
    pool = SchemaPool(_pg_base())
    yield pool
    pool.close()


def _postgres_schema(request):
    """A schema of its own for the test: at head, or empty for @pytest.mark.empty_schema."""
    pool = request.getfixturevalue("_schema_pool")
    if pool is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it)")
    empty = request.node.get_closest_marker("empty_schema") is not None
    try:
        schema = pool.create_empty() if empty else pool.take()
    except OperationalError as exc:
        pytest.fail(f"{PG_ENV} is set but PostgreSQL is unreachable: {exc.orig}")
    yield pool.url(schema)
    if empty:
        pool.drop(schema)
    else:
        pool.give_back(schema)


@pytest.fixture
def project_dir(tmp_path) -> Path:
    """The example project `trimtab init` writes."""
    directory = tmp_path / "project"
    result = CliRunner().invoke(app, ["init", str(directory)])
    assert result.exit_code == 0, result.output
    return directory


@pytest.fixture
def ws(project_dir, database_url):
    workspace = trimtab.connect(project_dir, database_url=database_url)
    yield workspace
    workspace.close()


@pytest.fixture
def live(ws):
    """The example's complaint-router released and promoted through dev and staging
    to production: (ws, release)."""
    release, _ = ws.release("complaint-router")
    promote_through(ws, "complaint-router", release.id, "production")
    return ws, release


@pytest.fixture
def cli(project_dir, database_url, monkeypatch):
    """Run `trimtab ...` in-process against the test project and store."""
    monkeypatch.setenv("TRIMTAB_DATABASE_URL", database_url)
    monkeypatch.setenv("TRIMTAB_PROJECT", str(project_dir))
    monkeypatch.setattr(output.console, "width", 160)  # a wide terminal: no truncated cells
    runner = CliRunner()

    def run(*args: str, expect: int | None = 0):
        result = runner.invoke(app, list(args), catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, (args, result.exit_code, result.output)
        return result

    return run
