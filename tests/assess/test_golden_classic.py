"""Golden scenarios for a classic model at stages 3 and 4: its offline evaluation
(holdout predictions scored with `trimtab eval --predictions`) is the eval
evidence that O1, O2 and G1 read, so the classic track reaches every stage."""

from __future__ import annotations

import time
from datetime import timedelta

import trimtab
from tests.assess.test_assessment import OBSERVED, add_yaml, failing
from tests.helpers import edit
from tests.helpers.governance import as_user, with_users
from tests.quality.test_predictions import CHURN, classic_with_suite, predictions_file


def observed_classic(ws, project_dir, tmp_path, approve=None):
    """Every stage-1 to stage-3 practice of a classic model: two retrained releases,
    each scored on the holdout set before it is promoted through the gate, its
    predictions recorded, alerts on latency, errors, label accuracy and drift, a
    drift baseline and check, and a rollback rehearsed in staging."""
    predictions = predictions_file(tmp_path)

    def ship(model: bytes) -> None:
        (project_dir / "model.pkl").write_bytes(model)
        release, _ = ws.release(CHURN)
        ws.eval(CHURN, release=release.id, predictions=predictions)
        for env in ws.project.spec.environments[:-1]:
            ws.promote(CHURN, release.id, env)
        request = ws.promote(CHURN, release.id, ws.project.spec.environments[-1])
        if approve is not None:
            approve(request)

    ship(b"\x80\x04 a pickled model")
    ship(b"\x80\x04 a retrained model")
    add_yaml(project_dir, OBSERVED.replace("complaint-router", CHURN).replace(
        "metric: quality_score, score: review", "metric: accuracy"))

    def traffic() -> None:
        for i in range(12):
            ws.record(CHURN, {"tenure": i % 4, "plan": "basic"}, {"churn": i % 2 == 0}, 3.0,
                      env="production")
        assert ws.flush()

    traffic()
    ws.drift_baseline(CHURN, window=timedelta(hours=1))
    time.sleep(0.01)
    traffic()
    ws.drift(CHURN, current=timedelta(hours=1))
    ws.rollback(CHURN, "staging")  # the rollback drill, in staging
    ws.check_alerts()


def test_a_classic_model_scored_on_its_holdout_set_before_each_release_is_observed(
        ws, project_dir, tmp_path):
    classic_with_suite(project_dir)
    observed_classic(ws, project_dir, tmp_path)
    a = ws.assess(CHURN)

    verdicts = {v.check.id: v for v in a.verdicts}
    assert (a.track, a.stage, a.target) == ("classic", 3, 3), \
        {k: (v.state, v.evidence) for k, v in verdicts.items()}
    assert failing(a) == ["G2", "G3", "G4", "G5", "G6"]
    assert verdicts["O1"].state == "automated"
    assert verdicts["O1"].evidence.endswith("before it reached production; the production "
                                            "gate requires it")
    assert verdicts["O2"].state == "manual"
    assert verdicts["O2"].evidence.startswith("dataset evals/churn-holdout.jsonl sha256 ")
    assert verdicts["O2"].evidence.endswith("; results sliced by region")
    assert verdicts["G1"].state == "automated"
    assert verdicts["G1"].evidence == ("production requires holdout; 2 promotion(s) checked, "
                                       "0 override(s) audited")
    assert a.next_steps == []
    assert a.notes == ["At its target stage 3 (Observed): keep the evidence fresh."]


def test_a_classic_model_without_a_holdout_run_is_told_to_score_its_predictions(
        ws, project_dir, tmp_path):
    classic_with_suite(project_dir)
    edit(project_dir / "trimtab.yaml", "gate: {environments: [production]}", "gate: {}")
    (project_dir / "model.pkl").write_bytes(b"\x80\x04 a pickled model")
    release, _ = ws.release(CHURN)
    for env in ws.project.spec.environments:
        ws.promote(CHURN, release.id, env)
    a = ws.assess(CHURN)

    verdicts = {v.check.id: v for v in a.verdicts}
    assert (verdicts["O1"].state, verdicts["O1"].evidence) == (
        "missing", f"release {release.id[:12]} reached production without an eval run on its "
        "digest")
    assert f"trimtab eval {CHURN} --predictions FILE" in verdicts["O1"].fix
    assert (verdicts["O2"].state, verdicts["O2"].evidence) == ("missing", "no eval run yet")
    assert verdicts["G1"].evidence == "no eval suite gates production"


def test_a_classic_model_with_every_practice_is_governed(cli, project_dir, monkeypatch,
                                                         tmp_path):
    classic_with_suite(project_dir)
    edit(project_dir / "trimtab.yaml", "    kind: classic\n",
         "    kind: classic\n    target_stage: 4\n")
    add_yaml(project_dir, "policies:\n  production:\n    approvals: 1\n")
    with_users(cli, monkeypatch)
    ws = trimtab.connect(project_dir)
    as_user(monkeypatch, "operator@example.com")

    def approve(request) -> None:
        as_user(monkeypatch, "approver@example.com")
        ws.approve(request.id)
        as_user(monkeypatch, "operator@example.com")

    observed_classic(ws, project_dir, tmp_path, approve)
    ws.write_runbook(CHURN)
    ws.record_drill(CHURN, scenario="model file lost", participants=["ana", "ben"],
                    findings="the previous release restored", restore_minutes=6)
    as_user(monkeypatch, "approver@example.com")
    ws.record_independent_review(CHURN, reviewer="dana@audit.example.com",
                                 organisation="Internal audit", scope="holdout evaluation",
                                 findings=["holdout set is one quarter old"])
    as_user(monkeypatch, "operator@example.com")
    ws.checkpoint_audit()
    ws.documents(CHURN, out=tmp_path / "docs")
    a = ws.assess(CHURN)

    states = {v.check.id: (v.state, v.evidence) for v in a.verdicts}
    assert (a.track, a.stage, a.target) == ("classic", 4, 4), states
    assert failing(a) == []
    assert a.next_steps == []
    assert states["G1"] == ("automated", "production requires holdout; 2 promotion(s) "
                                         "checked, 0 override(s) audited")
    assert states["G2"][1].startswith("all 2 promotion(s) since ")

    # A retrained model whose holdout accuracy falls under the threshold fails the
    # gate's suite, so `trimtab promote` would refuse it in production.
    (project_dir / "model.pkl").write_bytes(b"\x80\x04 a worse model")
    worse, _ = ws.release(CHURN)
    report = ws.eval(CHURN, release=worse.id,
                     predictions=predictions_file(tmp_path, wrong=("c1", "c3"), name="w.jsonl"))
    assert not report.passed
    assert report.runs[0].reasons == ["classification: accuracy 0.500 is below its "
                                      "threshold 0.75"]
    ws.close()
