"""Releases are immutable, content-addressed snapshots of a system."""

import hashlib
import json
import subprocess

import pytest
from sqlalchemy import create_engine, text

import trimtab
from tests.helpers import edit

SYSTEM = "complaint-router"


def test_release_id_is_the_sha256_of_its_canonical_snapshot(ws):
    made, created = ws.release(SYSTEM, note="first")
    assert created
    assert made.id == hashlib.sha256(made.spec_json.encode()).hexdigest()
    assert made.spec_json == json.dumps(made.spec, sort_keys=True, separators=(",", ":"),
                                        ensure_ascii=False)
    assert made.author == "alice@example.com" and made.note == "first"


def test_snapshot_holds_prompt_contents_params_and_fallbacks(ws, project_dir):
    spec = ws.release(SYSTEM)[0].spec
    prompt = (project_dir / "prompts" / "complaint-router.system.md").read_text()
    assert spec["prompts"]["system"] == {"path": "prompts/complaint-router.system.md",
                                         "content": prompt}
    assert spec["model"] == "sim-router-1"
    assert spec["provider"]["kind"] == "simulated"
    assert spec["params"]["temperature"] == 0
    assert spec["fallbacks"][0]["model"] == "sim-router-small"


def test_same_content_same_release_nothing_duplicated(ws):
    first, created_first = ws.release(SYSTEM, note="one")
    again, created_again = ws.release(SYSTEM, note="two")
    assert (created_first, created_again) == (True, False)
    assert again.id == first.id and again.note == "one"
    assert len(ws.releases(SYSTEM)) == 1
    assert [e.action for e in ws.audit_log()].count("release.create") == 1


def test_prompt_change_makes_a_new_release(ws, project_dir):
    first, _ = ws.release(SYSTEM)
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint from", "Complaint by")
    second, created = ws.release(SYSTEM)
    assert created and second.id != first.id
    assert [r.id for r in ws.releases(SYSTEM)] == [second.id, first.id]


def test_git_commit_and_dirty_flag_are_recorded(project_dir, database_url):
    def git(*args):
        subprocess.run(["git", *args], cwd=project_dir, check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.email=a@b.c", "-c", "user.name=A", "add", ".")
    git("-c", "user.email=a@b.c", "-c", "user.name=A", "commit", "-qm", "init")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_dir, capture_output=True,
                          text=True, check=True).stdout.strip()
    ws = trimtab.connect(project_dir, database_url=database_url)
    clean, _ = ws.release(SYSTEM)
    assert (clean.git_commit, clean.git_dirty) == (head, False)
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Issue")
    dirty, _ = ws.release(SYSTEM)
    assert (dirty.git_commit, dirty.git_dirty) == (head, True)


def test_outside_git_the_commit_is_unknown(ws):
    made, _ = ws.release(SYSTEM)
    assert made.git_commit is None and made.git_dirty is None


def test_any_unique_prefix_finds_a_release(ws, project_dir):
    first, _ = ws.release(SYSTEM)
    assert ws.get_release(first.id[:4]).id == first.id
    assert ws.get_release(first.id.upper()).id == first.id
    with pytest.raises(trimtab.TrimtabError, match="no release has an id starting with"):
        ws.get_release("0" * 12 if not first.id.startswith("0") else "f" * 12)
    with pytest.raises(trimtab.TrimtabError, match="not a release id"):
        ws.get_release("latest")


def test_ambiguous_prefix_lists_candidates(ws, project_dir):
    prompt = project_dir / "prompts" / "complaint-router.user.md"
    ids = []
    for i in range(20):  # 20 releases: two must share a first hex digit
        prompt.write_text(f"version {i}\n")
        ids.append(ws.release(SYSTEM)[0].id)
    first_digits = [i[0] for i in ids]
    shared = next(d for d in first_digits if first_digits.count(d) > 1)
    with pytest.raises(trimtab.TrimtabError, match="ambiguous") as info:
        ws.get_release(shared)
    assert "Fix: give more characters" in str(info.value)


def test_the_database_refuses_to_update_or_delete_a_release(ws, database_url):
    made, _ = ws.release(SYSTEM)
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    for statement in ("UPDATE releases SET note = 'rewritten'", "DELETE FROM releases"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()
    assert ws.get_release(made.id).note == ""


def test_releases_cli_lists_where_each_is_active(cli):
    made = json.loads(cli("release", SYSTEM, "--json").stdout)
    for env in ("dev", "staging"):
        cli("promote", SYSTEM, made["id"][:8], "--env", env)
    listed = json.loads(cli("releases", SYSTEM, "--json").stdout)
    assert [(r["id"], r["active_in"]) for r in listed] == [(made["id"], ["dev", "staging"])]
    assert made["id"][:12] in cli("releases", SYSTEM).stdout
    shown = json.loads(cli("show", made["id"][:10]).stdout)
    assert shown["spec"]["system"] == SYSTEM


def test_release_of_unknown_system(cli):
    result = cli("release", "complaint-routr", expect=2)
    assert "no system named 'complaint-routr'" in result.output
    assert "Did you mean 'complaint-router'?" in result.output


def test_unchanged_release_says_so(cli):
    cli("release", SYSTEM)
    assert "unchanged" in cli("release", SYSTEM).stdout
