"""`trimtab diff`: prompts line by line, params as key changes."""

import json

from tests.helpers import edit

SYSTEM = "complaint-router"


def test_diff_shows_prompt_lines_and_param_keys(ws, project_dir):
    old, _ = ws.release(SYSTEM)
    edit(project_dir / "prompts" / "complaint-router.system.md",
         "You route customer quality complaints", "You triage customer quality complaints")
    path = project_dir / "trimtab.yaml"
    edit(path, "temperature: 0", "temperature: 0.2\n        top_p: 0.9")
    edit(path, "        max_tokens: 200\n", "")
    edit(path, "model: sim-router-1", "model: sim-router-2")
    new, _ = ws.release(SYSTEM)

    _, _, changes = ws.diff(old.short_id, new.short_id)
    by_path = {c.path: c for c in changes.changes}
    assert (by_path["params.temperature"].old, by_path["params.temperature"].new) == (0, 0.2)
    assert by_path["params.top_p"].change == "added"
    assert by_path["params.max_tokens"].change == "removed"
    assert (by_path["model"].old, by_path["model"].new) == ("sim-router-1", "sim-router-2")
    assert list(changes.prompts) == ["system"]
    lines = changes.prompts["system"]
    assert "-You route customer quality complaints for a manufacturer." in lines
    assert "+You triage customer quality complaints for a manufacturer." in lines


def test_identical_releases_have_no_diff(ws):
    made, _ = ws.release(SYSTEM)
    assert ws.diff(made.id, made.id)[2].empty


def test_diff_cli_text_and_json(cli, project_dir):
    old = json.loads(cli("release", SYSTEM, "--json").stdout)["id"]
    edit(project_dir / "prompts" / "complaint-router.user.md", "{{text}}", "{{text}}\nBe brief.")
    new = json.loads(cli("release", SYSTEM, "--json").stdout)["id"]
    out = cli("diff", old[:10], new[:10]).stdout
    assert "prompt user" in out and "+Be brief." in out
    data = json.loads(cli("diff", old, new, "--json").stdout)
    assert data["changes"] == [] and "+Be brief." in data["prompts"]["user"]
    assert "no release has an id" in cli("diff", old, "abcdef0123", expect=2).output
