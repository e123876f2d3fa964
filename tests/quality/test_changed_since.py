"""`trimtab eval --changed-since GIT_REF` runs only the systems whose release content or
eval suites changed since the ref, in a real git repository."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

import trimtab

COPY = "router-copy"


def git(directory, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
         "-c", "commit.gpgsign=false", *args],
        cwd=directory, capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture
def repo(project_dir):
    """The example project with a second system (its own prompts and dataset), committed."""
    path = project_dir / "trimtab.yaml"
    data = yaml.safe_load(path.read_text())
    copy = json.loads(json.dumps(data["systems"]["complaint-router"]))
    for role in ("system", "user"):
        source = project_dir / "prompts" / f"complaint-router.{role}.md"
        shutil.copy(source, project_dir / "prompts" / f"{COPY}.{role}.md")
        copy["release"]["prompts"][role] = f"prompts/{COPY}.{role}.md"
    shutil.copy(project_dir / "evals" / "complaint-router.jsonl",
                project_dir / "evals" / f"{COPY}.jsonl")
    copy["evals"]["routing"]["dataset"] = f"evals/{COPY}.jsonl"
    data["systems"][COPY] = copy
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    git(project_dir, "init", "-q", "-b", "main")
    git(project_dir, "add", "trimtab.yaml", "prompts", "evals")
    git(project_dir, "commit", "-q", "-m", "two systems")
    return project_dir


def test_only_changed_systems_are_evaluated(repo, cli, tmp_path):
    nothing = json.loads(cli("eval", "--changed-since", "HEAD", "--json").output)
    assert nothing["reports"] == [] and nothing["passed"] is True
    assert {(s["system"], s["changed"]) for s in nothing["systems"]} == {
        ("complaint-router", False), (COPY, False)}

    prompt = repo / "prompts" / "complaint-router.user.md"
    prompt.write_text(prompt.read_text() + "\nBe brief.\n")
    comment = tmp_path / "eval.md"
    out = cli("eval", "--changed-since", "HEAD", "--markdown", str(comment)).output
    assert "complaint-router: release content changed since HEAD" in out
    assert f"{COPY}: unchanged since HEAD, not evaluated" in out
    assert "complaint-router/routing" in out and f"{COPY}/routing" not in out
    text = comment.read_text()
    assert "Unchanged, not run: `router-copy`" in text
    assert "### trimtab eval `complaint-router`: passed" in text
    runs = json.loads(cli("evals", "complaint-router", "--json").output)
    assert len(runs) == 1 and json.loads(cli("evals", COPY, "--json").output) == []

    git(repo, "commit", "-q", "-am", "brief")
    dataset = repo / "evals" / f"{COPY}.jsonl"
    dataset.write_text(dataset.read_text() + "\n")  # new bytes: a new baseline
    found = json.loads(cli("eval", "--changed-since", "HEAD", "--json").output)
    assert [(r["system"], r["passed"]) for r in found["reports"]] == [(COPY, True)]
    why = {s["system"]: s["why"] for s in found["systems"]}
    assert why == {"complaint-router": "unchanged since HEAD",
                   COPY: "eval suites changed since HEAD"}
    # one system named: evaluated only when it changed
    alone = cli("eval", "complaint-router", "--changed-since", "HEAD~1").output
    assert "complaint-router: release content changed since HEAD~1" in alone
    assert COPY not in alone


def test_changed_since_mistakes_say_what_to_fix(repo, cli, project_dir, tmp_path):
    bad = cli("eval", "--changed-since", "no-such-branch", expect=2).output
    assert "not a commit in this repository" in bad and "git fetch origin main" in bad
    assert "name a SYSTEM, or --changed-since" in cli("eval", expect=2).output
    both = cli("eval", "complaint-router", "--changed-since", "HEAD", "--release", "abcd",
               expect=2).output
    assert "Use one of them" in both
    shutil.rmtree(repo / ".git")
    outside = cli("eval", "--changed-since", "HEAD", expect=2).output
    assert "not in a git work tree" in outside


def test_a_system_new_since_the_ref_counts_as_changed(repo):
    ws = trimtab.connect(repo)
    git(repo, "commit", "-q", "--allow-empty", "-m", "empty")
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert [c.changed for c in ws.changed_since(first)] == [False, False]
    path = repo / "trimtab.yaml"
    data = yaml.safe_load(path.read_text())
    data["systems"]["third"] = data["systems"][COPY]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    ws = trimtab.connect(repo)
    changes = {c.system: c.why for c in ws.changed_since("HEAD")}
    assert changes["third"] == "new since HEAD"
    assert changes["complaint-router"] == "unchanged since HEAD"
    ws.close()
