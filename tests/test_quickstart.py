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


def test_scripts_demo_runs_the_demo_and_serves_the_dashboard():
    """The README's first command: scripts/demo builds the demo and leaves the
    dashboard serving (tests/demo builds the workspace itself on both stores)."""
    from pathlib import Path

    script = (Path(__file__).resolve().parents[1] / "scripts" / "demo").read_text()
    assert 'trimtab demo "${1:-trimtab-demo}"' in script and "--no-serve" not in script
