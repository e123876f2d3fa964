"""Shared fixtures. Every store-backed test runs on SQLite and on PostgreSQL.

PostgreSQL runs when TRIMTAB_TEST_DATABASE_URL is set (CI sets it); each test
gets its own schema, dropped afterwards. Set but unreachable is a failure,
not a skip: CI must never go green having tested only SQLite.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import typer.testing
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from typer.main import get_command
from typer.testing import CliRunner

import trimtab
from tests.helpers import promote_through
from trimtab.cli import app, output

PG_ENV = "TRIMTAB_TEST_DATABASE_URL"


def _pg_base() -> str:
    url = os.environ[PG_ENV]
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


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
    yield from _postgres_schema()


@pytest.fixture
def postgres_url():
    """For tests about PostgreSQL itself (e.g. the network path to it)."""
    yield from _postgres_schema()


def _postgres_schema():
    if not os.environ.get(PG_ENV):
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(_pg_base(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        pytest.fail(f"{PG_ENV} is set but PostgreSQL is unreachable: {exc.orig}")
    separator = "&" if "?" in _pg_base() else "?"
    yield f"{_pg_base()}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


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
