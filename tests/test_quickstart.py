"""The README's first experience: init, release, promote, status."""

import json

import trimtab


def test_init_release_promote_status(cli, project_dir):
    cli("validate")
    made = json.loads(cli("release", "complaint-router", "-m", "first", "--json").stdout)
    assert made["created"] is True
    assert len(made["id"]) == 64

    for env in ("dev", "staging", "production"):
        cli("promote", "complaint-router", made["id"][:12], "--env", env, "--reason", "go")

    status = json.loads(cli("status", "--json").stdout)
    assert {(s["env"], s["release_id"]) for s in status} == {
        ("dev", made["id"]), ("staging", made["id"]), ("production", made["id"]),
    }
    assert all(s["actor"] == "alice@example.com" for s in status)
    table = cli("status").stdout
    assert "complaint-router" in table and made["id"][:12] in table


def test_active_release_python_api(ws, monkeypatch, project_dir, database_url):
    made, _ = ws.release("complaint-router")
    ws.promote("complaint-router", made.short_id, "dev")
    monkeypatch.chdir(project_dir)
    monkeypatch.setenv("TRIMTAB_DATABASE_URL", database_url)
    monkeypatch.setattr(trimtab.workspace, "_default", None)
    active = trimtab.active_release("complaint-router", "dev")
    assert active is not None and active.id == made.id
    assert active.spec["model"] == "sim-router-1"
    assert trimtab.active_release("complaint-router", "production") is None


def test_demo_is_repeatable(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from trimtab.cli import app

    runner = CliRunner()
    first = runner.invoke(app, ["demo", str(tmp_path / "demo")])
    assert first.exit_code == 0, first.output
    assert "production" in first.stdout
    second = runner.invoke(app, ["demo", str(tmp_path / "demo")])
    assert second.exit_code == 0, second.output
    ws = trimtab.connect(tmp_path / "demo")
    assert len(ws.releases("complaint-router")) == 1
    assert len(ws.history("complaint-router")) == 3
    assert ws.verify_audit().ok
    # Each run routes 60 sample complaints through production and shows their metrics.
    assert "routed 60 sample complaints" in second.stdout and "sim-router-1" in second.stdout
    calls = ws.calls(limit=500)
    assert len(calls) == 120 and {c.status for c in calls} == {"ok"}
