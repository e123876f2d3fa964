"""Compliance documents: written from evidence, gaps marked, reproducible, and
recorded so the assessment's G4 check sees them."""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
import time
from datetime import UTC, datetime

from tests.helpers import edit

SYSTEM = "complaint-router"
KINDS = ["technical-documentation", "model-card", "instructions-for-use",
         "post-market-monitoring", "transparency-record", "nist-ai-rmf", "iso-42001",
         "obligations-calendar"]
COMPLIANCE = textwrap.indent(textwrap.dedent("""\
    compliance:
      role: deployer
      regimes: [eu-ai-act]
      intended_purpose: Route customer quality complaints to the owning engineering team.
      users: Quality engineers; complainants are affected.
      data_sources: [complaint texts from the CRM]
      human_oversight: An engineer confirms every high-severity routing.
      known_limitations: [German and English only]
      transparency: {discloses_ai_interaction: true, marks_synthetic_output: false}
    """), "    ")


def live_in_order(ws):
    release, _ = ws.release(SYSTEM)
    for env in ws.project.spec.environments:
        ws.promote(SYSTEM, release.id, env)
    return release


MISSING = "**Missing:**"
DECLARED = ("intended_purpose", "users", "data_sources", "human_oversight",
            "known_limitations", "out_of_scope")


def documents_checked(ws, out, system: str = SYSTEM):
    """Every document, checked line by line against the assessment taken at the
    same moment: a passing check's evidence is shown and not marked missing, a
    failing one is marked missing with its evidence, one that does not apply to the
    system's track is neither; a coverage row says `evidence` only when all its
    checks pass, and lists none that does not apply; an undeclared fact is marked
    missing and a declared one is shown; every release, change and alert rule
    of the store appears. Returns {kind: text}."""
    moment = datetime.now(UTC)
    verdicts = {v.check.id: v for v in ws.assess(system, now=moment, save=False).verdicts}
    written = ws.documents(system, out=out, as_of=moment)
    assert [g.kind for g in written] == KINDS
    text = {g.kind: g.path.read_text() for g in written}
    shown = 0
    for g in written:
        assert g.record.missing == text[g.kind].count(MISSING), g.kind
        assert g.record.sha256 == hashlib.sha256(g.path.read_bytes()).hexdigest()
        for line in text[g.kind].splitlines():
            for check_id in re.findall(r"\(check ([MAOG]\d): ", line):
                v = verdicts[check_id]
                assert v.evidence in line, (g.kind, line)
                assert (MISSING in line) == (v.counts and not v.passes), (g.kind, line)
                shown += 1
            row = re.match(r"\| (\S+) \| [^|]+ \| ([MAOG]\d(?:, [MAOG]\d)*) \| (.+) \|$", line)
            if row and g.kind in ("nist-ai-rmf", "iso-42001"):
                assert all(verdicts[c].counts for c in row.group(2).split(", ")), line
                passes = all(verdicts[c].passes for c in row.group(2).split(", "))
                assert (row.group(3) == "evidence") == passes, (g.kind, line)
                assert (MISSING in row.group(3)) != passes, (g.kind, line)
                shown += 1
    compliance = ws.project.spec.systems[system].compliance
    everything = "\n".join(text.values())
    for field in DECLARED:
        value = getattr(compliance, field)
        marked = [line for line in everything.splitlines() if f"compliance.{field}`" in line]
        if value:
            assert not marked, field
            assert (value if isinstance(value, str) else value[0]) in everything
        else:
            assert marked and all(MISSING in line for line in marked), field
    tech = text["technical-documentation"]
    for release in ws.releases(system)[:10]:
        assert f"`{release.id[:12]}`" in tech
    for d in ws.history(system)[-20:]:
        assert f"| {d.env} | {d.action} | `{d.release_id[:12]}` |" in tech
    for rule, spec in ws.project.spec.alerts.items():
        if spec.system in (None, system):
            assert f"| {rule} | {spec.metric} |" in text["post-market-monitoring"]
    assert shown >= 20  # the checks above looked at real lines
    return written, text


def test_the_init_example_gets_every_document_with_the_gaps_marked(ws, project_dir, tmp_path):
    release = live_in_order(ws)
    written, text = documents_checked(ws, tmp_path / "pack")

    tech = text["technical-documentation"]
    assert tech.startswith(f"# {SYSTEM}: Technical documentation (EU AI Act Annex IV)")
    assert f"- Version in production: `{release.id}`" in tech
    assert ("- Intended purpose: **Missing:** intended purpose. Fill it: "
            f"`systems.{SYSTEM}.compliance.intended_purpose` in trimtab.yaml") in tech
    assert "## 6. Changes over the lifecycle" in tech and "| production | promote |" in tech
    assert "- Rollback: **Missing:** a rollback path exists" in tech
    assert "- Independent review: **Missing:** an independent review was recorded" in tech
    assert "no eval run on the release in production" in text["model-card"]
    assert written[0].record.missing >= 5
    calendar = text["obligations-calendar"]
    assert "**Missing:** role." in calendar  # unknown role: both roles' duties are listed
    assert "Art. 26(6)" not in calendar  # a deployer's high-risk duty; this system is limited
    assert "Art. 50(1)-(2)" in calendar and "Art. 50(3)-(4)" in calendar


def test_a_classic_model_is_not_told_to_fill_gaps_in_practices_that_are_not_its_own(
        ws, project_dir, tmp_path):
    """Human review of a sample and cost attribution (O3, O5) do not apply to a
    classic model: its documents say so, never `Missing:` nor `checks O3 fail`."""
    from tests.assess.test_assessment import add_classic

    add_classic(ws, project_dir)
    written, text = documents_checked(ws, tmp_path / "pack", system="churn-model")

    assert "- Human review of outputs: not applicable: does not apply to classic systems " \
        "(check O3: n/a)" in text["technical-documentation"]
    measure = next(line for line in text["nist-ai-rmf"].splitlines() if "| MEASURE |" in line)
    assert "| O1, O2, O6, O7 | **Missing:** checks O1, O2, O6, O7 fail." in measure
    assert not any("n/a" in line and MISSING in line for t in text.values()
                   for line in t.splitlines())


def test_declared_facts_fill_the_gaps(ws, project_dir, tmp_path):
    edit(project_dir / "trimtab.yaml", "    release:\n", COMPLIANCE + "    release:\n")
    live_in_order(ws)
    [card] = ws.documents(SYSTEM, kinds=["model-card"], out=tmp_path)
    [record] = ws.documents(SYSTEM, kinds=["transparency-record"], out=tmp_path)

    text = card.path.read_text()
    assert "- Primary use: Route customer quality complaints" in text
    assert "German and English only" in text
    assert "| People are told they interact with AI | yes |" in record.path.read_text()
    assert "| Synthetic output is marked as such | no |" in record.path.read_text()
    assert "| Deep fakes are disclosed | **Missing:** not declared." in record.path.read_text()


def test_same_store_and_as_of_give_the_same_bytes(ws, tmp_path):
    live_in_order(ws)
    moment = datetime.now(UTC)
    first = ws.documents(SYSTEM, out=tmp_path / "a", as_of=moment)
    second = ws.documents(SYSTEM, out=tmp_path / "b", as_of=moment)

    assert [g.record.sha256 for g in first] == [g.record.sha256 for g in second]
    assert all(g.path.read_bytes() == h.path.read_bytes() for g, h in zip(first, second,
                                                                         strict=True))


def test_html_is_one_self_contained_page(ws, tmp_path):
    live_in_order(ws)
    [page] = ws.documents(SYSTEM, kinds=["nist-ai-rmf"], fmt="html", out=tmp_path)

    html = page.path.read_text()
    assert html.startswith("<!doctype html>") and "<table>" in html and "<style>" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing from elsewhere
    assert "<script" not in html


def test_generated_documents_are_the_evidence_for_g4(ws, tmp_path):
    live_in_order(ws)
    before = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}
    assert before["G4"].state == "missing"

    ws.documents(SYSTEM, out=tmp_path)
    after = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G4"]
    assert after.state == "manual" and after.passes
    assert "8 kind(s) generated" in after.evidence
    assert "owner quality-team@example.com" in after.evidence


def test_cli_writes_lists_and_refuses_bad_input(cli, ws, tmp_path):
    live_in_order(ws)
    out = tmp_path / "pack"
    table = cli("docs", SYSTEM, "--out", str(out), "-k", "model-card", "-k", "iso-42001").output
    assert "model-card" in table and "iso-42001" in table
    assert sorted(p.name for p in out.iterdir()) == [f"{SYSTEM}.iso-42001.md",
                                                    f"{SYSTEM}.model-card.md"]
    data = json.loads(cli("docs", SYSTEM, "--out", str(out), "-k", "model-card",
                          "--as-of", "2026-12-01", "--json").output)
    assert data[0]["as_of"].startswith("2026-12-01T00:00:00")

    assert "unknown document(s) nope" in cli("docs", SYSTEM, "-k", "nope", expect=2).output
    assert "use one of md, html, pdf" in cli("docs", SYSTEM, "-f", "doc", expect=2).output
    assert "--as-of 'soon': not a time" in cli("docs", SYSTEM, "--as-of", "soon",
                                               expect=2).output
    assert "no system named 'ghost'" in cli("docs", "ghost", expect=2).output


def test_pdf_is_written_with_weasyprint_or_names_the_extra(ws, cli, tmp_path):
    import importlib.util

    live_in_order(ws)
    if importlib.util.find_spec("weasyprint") is None:
        out = cli("docs", SYSTEM, "-f", "pdf", "--out", str(tmp_path), expect=2).output
        assert "pip install 'trimtab[pdf]'" in out
    else:
        cli("docs", SYSTEM, "-f", "pdf", "-k", "model-card", "--out", str(tmp_path))
        assert (tmp_path / f"{SYSTEM}.model-card.pdf").read_bytes().startswith(b"%PDF")


def test_documents_as_of_a_past_moment_state_only_what_the_store_held_then(ws, tmp_path):
    """--as-of is an evidence cut-off: a later promotion, call or rollback path is not
    claimed, and the stage is the one of that moment."""
    ws.sync()
    before = datetime.now(UTC)
    time.sleep(0.01)
    live_in_order(ws)
    edit(ws.project.root / "prompts" / f"{SYSTEM}.user.md", "Complaint", "Report")
    live_in_order(ws)
    ws.system(SYSTEM, env="production").run({"customer": "A", "product": "B", "text": "C"})
    assert ws.flush()

    [tech] = ws.documents(SYSTEM, kinds=["technical-documentation"], out=tmp_path,
                          as_of=before)
    text = tech.path.read_text()
    assert "- Maturity: stage 0 (None yet)" in text
    assert "- Operation: **Missing:** no calls recorded in production" in text
    assert "- Rollback: **Missing:** a rollback path exists" in text
    assert "**Missing:** nothing in production" in text
