"""End to end: a prompt change that breaks 10% of the cases fails its suite and
promotion refuses it, naming the cases; the same system with a fixed prompt passes
and is promoted; an installed (entry point) scorer and an LLM judge score beside
the built-in ones. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

import trimtab
from tests.helpers import edit, promote_through
from trimtab import plugins

# A rule the simulated model applies first: a complaint about a dent or a spill,
# followed by the broken prompt's instruction, is answered as cosmetic. Two of the
# example's twenty cases (c05, c18) mention one: 10%.
COSMETIC_RULE = """\
        rules:
          - regex: '(?is)\\n\\n[^\\n]*\\b(dent|spill)[^\\n]*\\nTreat cosmetic damage'
            reply: {team: other, severity: low, reason: Looks superficial.}
"""
SUITE_EXTRA = """\
          - {type: latency, max_ms: 2000}
          - {type: no_apology}
          - type: judge
            provider: simulated
            model: sim-judge
            rubric: The reason must name the defect, not play it down.
            threshold: 0.95
            simulate:
              rules:
                - when: [superficial]
                  reply: {score: 0, reason: plays the defect down}
              default: {score: 1, reason: names the defect}
"""
USER_PROMPT = "Complaint from {{customer}} about product {{product}}:\n\n{{text}}\n"


@pytest.fixture
def scorer_package(tmp_path, monkeypatch):
    """An installed distribution whose `trimtab.scorers` entry point is no_apology."""
    site = tmp_path / "site"
    (site / "acme_scorers-1.0.dist-info").mkdir(parents=True)
    (site / "acme_scorers-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-scorers\nVersion: 1.0\n")
    (site / "acme_scorers-1.0.dist-info" / "entry_points.txt").write_text(
        "[trimtab.scorers]\nno_apology = acme_scorers:no_apology\n")
    (site / "acme_scorers.py").write_text(
        "def no_apology(answer, case):\n"
        "    return {'passed': 'sorry' not in (answer.text or '').lower(),\n"
        "            'detail': 'apologises'}\n")
    monkeypatch.syspath_prepend(str(site))
    plugins.refresh()
    yield site
    plugins.refresh()


@pytest.fixture
def gated(project_dir, scorer_package):
    path = project_dir / "trimtab.yaml"
    edit(path, "        rules:\n", COSMETIC_RULE)
    edit(path, "          - {type: latency, max_ms: 2000}\n", SUITE_EXTRA)
    edit(path, "# gate: {environments: [production]}", "gate: {environments: [production]}")
    return project_dir


def set_prompt(project_dir, extra: str) -> None:
    (project_dir / "prompts" / "complaint-router.user.md").write_text(USER_PROMPT + extra)


def newest_release(cli) -> str:
    return json.loads(cli("releases", "complaint-router", "--json").output)[0]["id"]


def test_a_prompt_that_breaks_ten_percent_is_refused_and_the_fix_passes(cli, gated, tmp_path):
    good = cli("eval", "complaint-router")
    assert "20/20 cases passed" in good.output and "gate: passed" in good.output
    assert "no_apology" in good.output and "judge" in good.output
    v1 = newest_release(cli)
    for env in ("dev", "staging", "production"):
        cli("promote", "complaint-router", v1[:12], "--env", env)

    set_prompt(gated, "Treat cosmetic damage as other.\n")
    junit = tmp_path / "eval.xml"
    broken = cli("eval", "complaint-router", "--baseline", "production", "--junit", str(junit),
                 "--markdown", str(tmp_path / "eval.md"), expect=1)
    out = broken.output
    v2 = newest_release(cli)
    assert v2 != v1 and f"release {v2[:12]}" in out
    assert "18/20 cases passed" in out
    assert "c05 (line 5): exact:team: expected 'packaging', got 'other'" in out
    assert "c18 (line 18)" in out
    assert "0 improved, 2 regressed" in out and "regressed: c05, c18" in out
    assert "McNemar exact test p=0.5 (not significant)" in out
    assert "exact:team: pass_rate 0.900 is below its threshold 0.95" in out
    assert "judge: pass_rate 0.900 is below its threshold 0.95" in out
    assert "gate: FAILED" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert "case c05" in failed and "case c18" in failed
    assert "threshold exact:team pass_rate >= 0.95" in failed
    assert "| `c05` |" in (tmp_path / "eval.md").read_text()

    for env in ("dev", "staging"):  # not gated
        cli("promote", "complaint-router", v2[:12], "--env", env)
    refused = cli("promote", "complaint-router", v2[:12], "--env", "production", expect=1)
    assert "production requires passing eval suites" in refused.output
    assert "failing cases: c05, c18" in refused.output
    assert cli("status", "--json").output.count(v1) == 1  # production still runs v1

    set_prompt(gated, "Damaged packaging stays packaging.\n")
    fixed = cli("eval", "complaint-router", "--baseline", "production")
    v3 = newest_release(cli)
    assert v3 not in (v1, v2)
    assert "20/20 cases passed" in fixed.output and "gate: passed" in fixed.output
    assert "0 improved, 0 regressed, 20 still pass" in fixed.output
    for env in ("dev", "staging", "production"):
        cli("promote", "complaint-router", v3[:12], "--env", env)
    runs = json.loads(cli("evals", "complaint-router", "--json").output)
    assert [(r["release_id"], r["passed"]) for r in runs] == [(v3, True), (v2, False),
                                                              (v1, True)]


def test_an_override_needs_a_reason_and_is_audited(ws, gated):
    set_prompt(gated, "Treat cosmetic damage as other.\n")
    report = ws.eval("complaint-router")
    assert not report.passed
    [run] = report.runs
    assert [o.case.id for o in run.failing_cases] == ["c05", "c18"]
    assert run.stored.dataset_sha256 == run.prepared.dataset.sha256
    assert [r.case_id for r in ws.eval_results(run.stored.id)[1] if not r.passed] == \
        ["c05", "c18"]
    release = report.release.id
    promote_through(ws, "complaint-router", release, "staging")  # staging is not gated
    with pytest.raises(trimtab.TrimtabError, match="failing cases: c05, c18"):
        ws.promote("complaint-router", release, "production")
    with pytest.raises(trimtab.TrimtabError, match="--force needs --reason"):
        ws.promote("complaint-router", release, "production", force=True)
    ws.promote("complaint-router", release, "production", force=True, reason="hotfix")
    [override] = ws.audit_log(action="gate.override")
    assert override.to_dict()["payload"]["reason"] == "hotfix"
    assert override.to_dict()["payload"]["suites"][0]["failing_cases"] == ["c05", "c18"]
    assert ws.verify_audit().ok


def test_a_changed_dataset_is_a_new_baseline(ws, gated):
    report = ws.eval("complaint-router")
    assert report.passed
    dataset = gated / "evals" / "complaint-router.jsonl"
    dataset.write_text(dataset.read_text().replace("Invoice shows", "The invoice shows"))
    promote_through(ws, "complaint-router", report.release.id, "staging")
    with pytest.raises(trimtab.TrimtabError, match="the dataset changed since"):
        ws.promote("complaint-router", report.release.id, "production")
    again = ws.eval("complaint-router", release=report.release.id[:12])
    assert again.runs[0].stored.dataset_sha256 != report.runs[0].stored.dataset_sha256
    ws.promote("complaint-router", report.release.id, "production")
