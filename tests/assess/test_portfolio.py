"""Assessments are stored with their trend; the portfolio ranks gap × impact and
writes the quarter's plan."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta

from trimtab.assess.portfolio import stale_note

SYSTEM = "complaint-router"
ASSISTANT = textwrap.dedent("""\
    systems:
      compliance-assistant:
        description: Answers staff questions on internal compliance rules.
        owner: compliance@example.com
        tier: 1
        risk: high
        release:
          provider: simulated
          model: sim-router-1
          prompts:
            user: prompts/complaint-router.user.md
    """)


def add_assistant(project_dir) -> None:
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text().replace("systems:\n", ASSISTANT, 1))


def test_every_assessment_is_stored_and_the_history_shows_the_trend(ws, cli):
    ws.sync()
    first = ws.assess(SYSTEM)
    release, _ = ws.release(SYSTEM)
    for env in ws.project.spec.environments:
        ws.promote(SYSTEM, release.id, env)
    second = ws.assess(SYSTEM)

    rows = ws.assessment_history(SYSTEM)
    assert [r.stage for r in rows] == [second.stage, first.stage] == [1, 0]
    assert "M2" in rows[1].failing_checks and "M2" not in rows[0].failing_checks
    assert json.loads(rows[0].result)["next_steps"][0]["id"] == "A5"
    assert rows[0].actor == "alice@example.com"

    out = cli("assess", SYSTEM, "--history").output
    assert "trend over 2 assessments: up (0 → 1)" in out
    assert [r["stage"] for r in json.loads(
        cli("assess", SYSTEM, "--history", "--format", "json").output)] == [1, 0]
    assert "needs a SYSTEM" in cli("assess", "--history", expect=2).output


def test_an_assessment_older_than_a_quarter_is_flagged(ws):
    ws.sync()
    ws.assess(SYSTEM, now=datetime.now(UTC) - timedelta(days=100))
    [old] = ws.assessment_history(SYSTEM)

    assert "100 days old (over a quarter)" in stale_note(old, datetime.now(UTC))
    assert stale_note(None, datetime.now(UTC)).startswith("never assessed")
    ws.assess(SYSTEM)
    assert stale_note(ws.assessment_history(SYSTEM)[0], datetime.now(UTC)) is None


def test_the_portfolio_puts_the_high_risk_gap_first_and_writes_the_plan(
        ws, cli, project_dir, tmp_path):
    add_assistant(project_dir)
    ws.sync()
    release, _ = ws.release(SYSTEM)
    for env in ws.project.spec.environments:
        ws.promote(SYSTEM, release.id, env)

    ranked = ws.portfolio()
    assert [r.assessment.system for r in ranked] == ["compliance-assistant", SYSTEM]
    top = ranked[0]
    assert (top.assessment.stage, top.assessment.target, top.assessment.gap) == (0, 4, 4)
    assert top.priority == top.assessment.gap * top.impact > ranked[1].priority

    plan = tmp_path / "plan.md"
    out = cli("assess", "--portfolio", "--plan", str(plan)).output
    assert out.index("compliance-assistant") < out.index(SYSTEM)
    text = plan.read_text()
    assert text.startswith(f"# Maturity plan, {datetime.now(UTC).year}-Q")
    assert "## 1. compliance-assistant: stage 0 (None yet) → 4 (Governed)" in text
    assert "- [ ] **M2** a release is active in production" in text
    assert "## 2. complaint-router: stage 1 (Manual) → 3 (Observed)" in text
    assert "--plan writes the portfolio's plan" in cli("assess", "--plan", str(plan),
                                                        expect=2).output


def test_the_portfolio_verifies_the_audit_chain_once_for_every_system(ws, project_dir,
                                                                       monkeypatch):
    """The chain is the store's, not a system's: walking it per system made a
    portfolio of N systems read the whole audit trail N times."""
    from trimtab.store import audit as audit_store

    add_assistant(project_dir)
    ws.sync()
    walks = []
    verify = audit_store.verify

    def counted(conn, *args, **kwargs):  # the real verification, counted
        walks.append(1)
        return verify(conn, *args, **kwargs)

    monkeypatch.setattr(audit_store, "verify", counted)
    ranked = ws.portfolio(save=False)
    assert len(ranked) == 2 and len(walks) == 1
    g3 = {r.assessment.system: next(v for v in r.assessment.verdicts if v.check.id == "G3")
          for r in ranked}
    assert g3[SYSTEM].evidence == g3["compliance-assistant"].evidence
    assert "entries verify" in g3[SYSTEM].evidence

    walks.clear()
    assert len(ws.assess_all(save=False)) == 2 and len(walks) == 1
