"""Golden scenarios beyond stage 3: a customer-facing system built through the
public API to stage 4 (Governed), every document generated for it with nothing
invented, and a classic model at each stage its track can reach."""

from __future__ import annotations

import textwrap
import time
from datetime import UTC, datetime, timedelta

import trimtab
from tests.assess.test_assessment import COMPLAINT, OBSERVED, add_yaml, failing, work_sample
from tests.helpers import edit
from tests.helpers.governance import as_user, with_users

SYSTEM = "complaint-router"
CHURN = "churn-model"
CLASSIC = textwrap.dedent("""\
    systems:
      churn-model:
        description: Predicts which customers will cancel next month.
        owner: data-team@example.com
        kind: classic
        tier: 3
        risk: minimal
        release:
          artefacts:
            model: model.pkl
    """)


def governed(cli, project_dir, monkeypatch):
    """Every practice of stages 1 to 4, each made by the role that may make it:
    operator releases and promotes, approver approves production and records the
    independent review, reviewer reviews the weekly sample."""
    edit(project_dir / "trimtab.yaml", "customer_facing: false", "customer_facing: true")
    edit(project_dir / "trimtab.yaml", "# gate: {environments: [production]}",
         "gate: {environments: [production]}")
    edit(project_dir / "trimtab.yaml", "    release:\n",
         "    review: {per_week: 5}\n    release:\n")
    add_yaml(project_dir, OBSERVED)
    add_yaml(project_dir, "policies:\n  production:\n    approvals: 1\n")
    with_users(cli, monkeypatch)
    monkeypatch.setenv("TRIMTAB_CI_URL", "https://ci.example.com/runs/9")
    ws = trimtab.connect(project_dir)

    def ship() -> None:
        as_user(monkeypatch, "operator@example.com")
        release, _ = ws.release(SYSTEM)
        ws.eval(SYSTEM)
        for env in ws.project.spec.environments[:-1]:
            ws.promote(SYSTEM, release.id, env)
        request = ws.promote(SYSTEM, release.id, "production")  # a request: the policy
        as_user(monkeypatch, "approver@example.com")
        ws.approve(request.id)

    ship()
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Customer complaint")
    ship()
    as_user(monkeypatch, "operator@example.com")
    ws.rollback(SYSTEM, "staging")  # the rollback drill, in staging
    router = ws.system(SYSTEM, env="production")
    texts = ["The charger sparks.", "The box arrived crushed.", "The hinge squeaks."]

    def traffic(count: int) -> None:
        for i in range(count):
            router.run({**COMPLAINT, "text": texts[i % 3]}, user=f"agent-{i % 4}",
                       tags={"channel": "email"})
        assert ws.flush()

    traffic(15)
    ws.drift_baseline(SYSTEM, window=timedelta(hours=1))
    time.sleep(0.01)
    traffic(15)
    ws.drift(SYSTEM, current=timedelta(hours=1))
    as_user(monkeypatch, "reviewer@example.com")
    ws.review_sample(SYSTEM)
    work_sample(ws)
    as_user(monkeypatch, "operator@example.com")
    ws.check_alerts()
    ws.write_runbook(SYSTEM)
    ws.record_drill(SYSTEM, scenario="provider outage", participants=["ana", "ben"],
                    findings="fallback held", restore_minutes=9)
    as_user(monkeypatch, "approver@example.com")
    review = ws.record_independent_review(
        SYSTEM, reviewer="dana@audit.example.com", organisation="Internal audit",
        scope="release process, eval gate, human oversight",
        findings=["the runbook names no data protection contact", "eval cases are English only"])
    ws.close_finding(review.findings[0].id, resolution="the runbook names the DPO")
    as_user(monkeypatch, "operator@example.com")
    ws.checkpoint_audit()
    return ws


def test_a_customer_facing_system_with_every_practice_is_governed_and_its_documents_show_it(
        cli, project_dir, monkeypatch, tmp_path):
    from tests.assess.test_documents import documents_checked

    ws = governed(cli, project_dir, monkeypatch)
    ws.documents(SYSTEM, out=tmp_path / "first")  # G4: documents this year, with an owner
    a = ws.assess(SYSTEM)

    states = {v.check.id: (v.state, v.evidence) for v in a.verdicts}
    assert (a.stage, a.target, a.track) == (4, 4, "llm")
    assert failing(a) == [], states
    assert a.next_steps == []
    assert a.notes == ["At its target stage 4 (Governed): keep the evidence fresh."]
    assert states["G2"][1].startswith("all 2 promotion(s) since ")
    assert states["G3"][0] == "automated" and "against 1 signed checkpoint(s)" in states["G3"][1]
    assert "8 kind(s) generated" in states["G4"][1]
    assert "last drill" in states["G5"][1] and "restore took 9 min" in states["G5"][1]
    assert states["G6"] == ("manual", (
        f"review by dana@audit.example.com (Internal audit) on {datetime.now(UTC):%Y-%m-%d}, "
        "scope: release process, eval gate, human oversight; 2 finding(s), 1 closed, 1 open, "
        "none overdue"))

    # Every document of the stage-4 system: its evidence shown, nothing invented.
    written, text = documents_checked(ws, tmp_path / "pack")
    assert written[0].record.missing > 0  # the facts only the team can declare
    tech = text["technical-documentation"]
    assert "- Maturity: stage 4 (Governed) against a target of 4 (Governed)" in tech
    assert "- Independent review: review by dana@audit.example.com (Internal audit)" in tech
    assert "- Audit trail: " in tech and "against 1 signed checkpoint(s)" in tech
    # What only the team can declare is still missing: trimtab does not make it up.
    assert "- Intended purpose: **Missing:** intended purpose." in tech
    card = text["model-card"]
    assert "| tag | group | cases | pass rate | 95% interval (Wilson) |" in card
    assert "| channel | email |" in card and "Per-group metrics" not in card
    assert "| A.5 | Assessing impacts of AI systems | G6 | evidence |" in text["iso-42001"]
    assert "| A.10 | Third-party and customer relationships | - | **Missing:**" in \
        text["iso-42001"]
    for function in ("GOVERN", "MAP", "MEASURE", "MANAGE"):
        assert any(line.startswith(f"| {function} |") and line.endswith("| evidence |")
                   for line in text["nist-ai-rmf"].splitlines()), function

    # The open finding falls due in 90 days; after that it is listed, not tracked
    # (by then a week's logs and the 90-day rollback have expired too).
    later = ws.assess(SYSTEM, now=datetime.now(UTC) + timedelta(days=91), save=False)
    assert later.stage < 4 and "G6" in failing(later)
    assert "1 finding(s) open past their due date" in \
        {v.check.id: v for v in later.verdicts}["G6"].evidence
    ws.close()


def classic(ws, project_dir):
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text().replace("systems:\n", CLASSIC, 1))
    (project_dir / "model.pkl").write_bytes(b"\x80\x04 a pickled model")


def promote_classic(ws) -> str:
    release, _ = ws.release(CHURN)
    for env in ws.project.spec.environments:
        ws.promote(CHURN, release.id, env)
    return release.id


def test_a_declared_classic_model_with_nothing_in_production_is_at_stage_zero(ws, project_dir):
    classic(ws, project_dir)
    ws.sync()
    a = ws.assess(CHURN)

    assert (a.track, a.stage, a.target) == ("classic", 0, 3)
    assert failing(a) == ["M2", "A1", "A2", "A3", "A4", "A5", "O1", "O2", "O4", "O6", "O7", "O8",
                          "G1", "G2", "G3", "G4", "G5", "G6"]
    assert a.next_steps[0].check.id == "M2"


def test_a_classic_model_in_production_is_manual_and_next_needs_a_second_release(
        ws, project_dir):
    classic(ws, project_dir)
    promote_classic(ws)
    a = ws.assess(CHURN)

    assert (a.track, a.stage) == ("classic", 1)
    assert failing(a)[:2] == ["A4", "A5"]
    assert [v.check.id for v in a.next_steps] == ["A5", "A4"]
    assert {v.check.id: v.state for v in a.verdicts}["A1"] == "automated"


def test_a_classic_model_reaches_automated_and_no_further_without_a_holdout_run(
        ws, project_dir):
    classic(ws, project_dir)
    promote_classic(ws)
    (project_dir / "model.pkl").write_bytes(b"\x80\x04 a retrained model")
    promote_classic(ws)
    for i in range(12):
        ws.record(CHURN, {"tenure": i}, {"churn": i % 2 == 0}, 3.0, env="production")
    assert ws.flush()
    # The quality alert of a classic model watches its ground-truth labels.
    add_yaml(project_dir, OBSERVED.replace("complaint-router", CHURN).replace(
        "metric: quality_score, score: review", "metric: accuracy"))
    ws.rollback(CHURN, "staging")
    ws.check_alerts()
    a = ws.assess(CHURN)

    verdicts = {v.check.id: v for v in a.verdicts}
    assert (a.track, a.stage, a.target) == ("classic", 2, 3)
    assert verdicts["A4"].evidence == "12 predictions recorded in 7 days"
    assert {k: verdicts[k].state for k in ("O3", "O5")} == {"O3": "n/a", "O5": "n/a"}
    assert verdicts["O4"].state == "automated"
    assert verdicts["O4"].evidence == "rule(s) quality evaluated in the last 24 h"
    # Stage 3 needs eval evidence: a classic model's is its scored holdout
    # predictions (`trimtab eval --predictions`), which this one never recorded.
    assert (verdicts["O1"].state, verdicts["O1"].evidence) == ("missing",
                                                               "no eval suite declared")
    assert "--predictions FILE" in verdicts["O1"].fix
    assert (verdicts["O2"].state, verdicts["O2"].evidence) == ("missing", "no eval run yet")
    assert failing(a)[:3] == ["O1", "O2", "O7"]
    assert [v.check.id for v in a.next_steps] == ["O2", "O7", "O1"]
    assert a.next_steps[1].fix.startswith(f"trimtab drift baseline {CHURN} --env production")
