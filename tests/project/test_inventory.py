"""`trimtab systems` and `trimtab sync`: the inventory of AI systems."""

import json

from tests.helpers import edit


def test_systems_lists_declared_and_registered(cli, project_dir):
    rows = json.loads(cli("systems", "--json").stdout)
    assert [(r["name"], r["state"], r["target_stage"]) for r in rows] == [
        ("complaint-router", "declared, not registered", 3)]
    assert "complaint-router: registered" in cli("sync").stdout
    assert "complaint-router: unchanged" in cli("sync", "complaint-router").stdout
    edit(project_dir / "trimtab.yaml", "risk: limited", "risk: high")
    row = json.loads(cli("systems", "--json").stdout)[0]
    assert (row["risk"], row["target_stage"], row["state"]) == (
        "high", 4, "changed in file, run trimtab sync")
    assert "complaint-router: updated" in cli("sync").stdout
    table = cli("systems").stdout
    assert "complaint-router" in table and "stage 4" in table and "high" in table


def test_systems_remembers_a_system_removed_from_the_file(cli, project_dir):
    cli("release", "complaint-router")
    path = project_dir / "trimtab.yaml"
    text = path.read_text()
    path.write_text(text[: text.index("systems:")] + "systems: {}\n")
    rows = json.loads(cli("systems", "--json").stdout)
    assert [(r["name"], r["state"]) for r in rows] == [
        ("complaint-router", "registered, no longer declared")]


def test_sync_of_unknown_system(cli):
    result = cli("sync", "nope", expect=2)
    assert "no system named 'nope'" in result.output
