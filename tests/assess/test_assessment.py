"""Golden scenarios: workspaces built through the public API at each stage the
evidence supports today, each with its exact stage, failing checks and first
next step."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import edit

SYSTEM = "complaint-router"
COMPLAINT = {"customer": "ACME GmbH", "product": "K-200", "text": "The charger sparks."}


def promote_in_order(ws, release_id: str) -> None:
    for env in ws.project.spec.environments:
        ws.promote(SYSTEM, release_id, env)


def failing(assessment) -> list[str]:
    return [v.check.id for v in assessment.verdicts if v.counts and not v.passes]


def at_stage_two(ws, project_dir, calls: int = 20):
    """Two releases promoted dev → staging → production and fully logged calls."""
    first, _ = ws.release(SYSTEM)
    promote_in_order(ws, first.id)
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Customer complaint")
    second, _ = ws.release(SYSTEM)
    promote_in_order(ws, second.id)
    router = ws.system(SYSTEM, env="production")
    for _ in range(calls):
        router.run(COMPLAINT, user="agent-7", tags={"channel": "email"})
    assert ws.flush()
    return first, second


def add_yaml(project_dir, text: str) -> None:
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text() + "\n" + textwrap.dedent(text))


def test_a_declared_system_with_nothing_in_production_is_not_yet_at_stage_one(ws):
    ws.sync()
    a = ws.assess(SYSTEM)

    assert (a.stage, a.target, a.track) == (0, 3, "llm")
    assert failing(a) == "M2 A1 A2 A3 A4 A5 O1 O2 O3 O4 O5 O6 O7 O8 G1 G2 G3 G4 G5 G6".split()
    assert a.next_steps[0].check.id == "M2"
    assert "trimtab promote complaint-router RELEASE --env production" in a.next_steps[0].fix


def test_one_release_in_production_is_manual_and_the_next_step_is_a_rollback_path(ws):
    release, _ = ws.release(SYSTEM)
    promote_in_order(ws, release.id)
    a = ws.assess(SYSTEM)

    assert a.stage == 1
    assert failing(a) == "A4 A5 O1 O2 O3 O4 O5 O6 O7 O8 G1 G2 G3 G4 G5 G6".split()
    # Cheapest first: a second release (A5, cost 2) before logging coverage (A4, cost 3).
    assert [v.check.id for v in a.next_steps] == ["A5", "A4"]
    by_id = {v.check.id: v for v in a.verdicts}
    assert by_id["A1"].state == "automated" and "sim-router-1" in by_id["A1"].evidence
    assert by_id["A4"].evidence == "no calls recorded in production in the last 7 days"


def test_a_model_alias_in_production_fails_a1(ws, project_dir):
    edit(project_dir / "trimtab.yaml", "model: sim-router-1", "model: sim-router-latest")
    release, _ = ws.release(SYSTEM)
    promote_in_order(ws, release.id)

    by_id = {v.check.id: v for v in ws.assess(SYSTEM).verdicts}
    assert by_id["A1"].state == "missing"
    assert "'sim-router-latest'" in by_id["A1"].evidence


def test_versioned_promoted_and_logged_is_automated_and_the_next_step_is_latency_alerts(
        ws, project_dir):
    at_stage_two(ws, project_dir)
    a = ws.assess(SYSTEM)

    assert a.stage == 2
    assert failing(a) == "O1 O2 O3 O4 O6 O7 O8 G1 G2 G3 G4 G5 G6".split()
    by_id = {v.check.id: v for v in a.verdicts}
    assert by_id["A4"].state == "automated"
    assert by_id["A4"].evidence.startswith("20 of 20 calls complete (100.0%)")
    assert by_id["O5"].state == "manual"
    # Stage 3's cheapest failing check: the latency and error-rate alert rules.
    assert a.next_steps[0].check.id == "O6"
    assert "latency_p95" in a.next_steps[0].fix
    assert by_id["O1"].state == "missing"
    assert "reached production without an eval run on its digest" in by_id["O1"].evidence
    assert by_id["O3"].evidence == "no review policy declared"
    assert by_id["G6"].evidence == "no independent review recorded in the last 12 months"


def test_observed_evidence_turns_checks_green_but_missing_sources_hold_the_stage(
        ws, project_dir):
    at_stage_two(ws, project_dir)
    add_yaml(project_dir, """
        channels:
          team: {kind: webhook, url: "http://127.0.0.1:9/hook"}
        alerts:
          p95: {system: complaint-router, metric: latency_p95, comparator: ">",
                threshold: 2000, channels: [team]}
          p99: {system: complaint-router, metric: latency_p99, comparator: ">",
                threshold: 4000, channels: [team]}
          errors: {system: complaint-router, metric: error_rate, comparator: ">",
                   threshold: 0.05, channels: [team]}
    """)
    ws.rollback(SYSTEM, "staging")
    edit(project_dir / "trimtab.yaml", "metric: error_rate,", "metric: error_rate, env: staging,")
    o6 = {v.check.id: v for v in ws.assess(SYSTEM).verdicts}["O6"]
    assert o6.evidence == "no rule with a channel watching production for: error_rate"
    edit(project_dir / "trimtab.yaml", "env: staging,", "env: production,")
    a = ws.assess(SYSTEM)

    by_id = {v.check.id: v for v in a.verdicts}
    assert by_id["O6"].state == "manual" and "latency_p99: p99" in by_id["O6"].evidence
    assert by_id["O8"].state == "manual" and "last in staging" in by_id["O8"].evidence
    assert a.stage == 2
    assert "O6" not in [v.check.id for v in a.next_steps]


def add_classic(ws, project_dir) -> None:
    """A classic churn model beside the example, one release promoted through every
    environment."""
    text = (project_dir / "trimtab.yaml").read_text()
    text = text.replace("systems:\n", textwrap.dedent("""\
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
        """), 1)
    (project_dir / "trimtab.yaml").write_text(text)
    (project_dir / "model.pkl").write_bytes(b"\x80\x04 a pickled model")
    release, _ = ws.release("churn-model")
    for env in ws.project.spec.environments:
        ws.promote("churn-model", release.id, env)


def test_a_classic_model_skips_llm_only_checks_as_not_applicable(ws, project_dir):
    add_classic(ws, project_dir)
    a = ws.assess("churn-model")

    states = {v.check.id: v.state for v in a.verdicts}
    assert a.track == "classic"
    assert states["O3"] == "n/a" and states["O5"] == "n/a"
    assert states["A1"] == "automated"  # the model artefact is pinned by its sha256
    assert "O3" not in failing(a) and "O5" not in failing(a)


def test_a_system_above_its_target_is_told_so(ws, project_dir):
    edit(project_dir / "trimtab.yaml", "# target_stage: 3", "target_stage: 1")
    at_stage_two(ws, project_dir, calls=3)
    a = ws.assess(SYSTEM)

    assert (a.stage, a.target) == (2, 1)
    assert failing(a) == "O1 O2 O3 O4 O6 O7 O8 G1 G2 G3 G4 G5 G6".split()
    assert a.next_steps == []
    assert a.notes[0].startswith("Above its target (stage 1, Manual)")


def test_skip_advice_turns_into_add_when_the_project_declares_the_problem(ws, project_dir):
    ws.sync()
    assert {s.component: s.verdict for s in ws.assess(SYSTEM).skips}["feature store"] == "skip"

    add_yaml(project_dir, "scale: {models_sharing_features: 12}\n")
    advice = {s.component: s for s in ws.assess(SYSTEM).skips}
    assert advice["feature store"].verdict == "add"
    assert "12" in advice["feature store"].reason
    assert advice["pipeline orchestrator"].verdict == "skip"


def test_evidence_expires(ws, project_dir):
    at_stage_two(ws, project_dir, calls=3)
    later = datetime.now(UTC) + timedelta(days=8)
    a = ws.assess(SYSTEM, now=later)

    assert a.stage == 1
    assert "A4" in failing(a)


def test_cli_table_json_markdown_and_the_ci_gate(cli, ws, project_dir):
    release, _ = ws.release(SYSTEM)
    promote_in_order(ws, release.id)

    table = cli("assess").output
    assert "complaint-router (llm): stage 1 Manual, target 3 Observed" in table
    assert "next steps" in table and "A5" in table

    [data] = json.loads(cli("assess", SYSTEM, "--format", "json").output)
    assert (data["stage"], data["target"], data["next_steps"][0]["id"]) == (1, 3, "A5")

    text = cli("assess", "--format", "markdown").output
    assert text.startswith("# complaint-router: stage 1 (Manual), target 3 (Observed)")
    assert "| M2 | 1 | manual |" in text

    cli("assess", "--fail-below-target", expect=1)
    assert "use table, json or markdown" in cli("assess", "--format", "xml", expect=2).output
    assert "no system named 'nope'" in cli("assess", "nope", expect=2).output


@pytest.mark.parametrize("bad", ["-1", "'many'"])
def test_a_bad_scale_value_names_the_field(ws, project_dir, bad):
    import trimtab

    add_yaml(project_dir, f"scale: {{models_in_production: {bad}}}\n")
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(project_dir / "trimtab.yaml")
    assert "scale.models_in_production" in str(info.value)


def test_g2_counts_promotions_since_approvals_began_and_needs_a_second_person(
        cli, project_dir, monkeypatch):
    import trimtab
    from tests.helpers.governance import as_user, with_users

    with_users(cli, monkeypatch)
    cli("users", "add", "bob@example.com", "--role", "approver")
    ws = trimtab.connect(project_dir)
    first, _ = ws.release(SYSTEM)
    promote_in_order(ws, first.id)
    g2 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G2"]
    assert (g2.state, g2.evidence) == (
        "missing", "no approval recorded for production; no approval policy for production")

    add_yaml(project_dir, "policies:\n  production:\n    approvals: 1\n")
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Report")
    second, _ = ws.release(SYSTEM)
    for env in ws.project.spec.environments[:-1]:
        ws.promote(SYSTEM, second.id, env)
    as_user(monkeypatch, "operator@example.com")
    request = ws.promote(SYSTEM, second.id, "production")
    g2 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G2"]
    assert g2.state == "missing" and "none applied yet; the policy asks 1" in g2.evidence

    as_user(monkeypatch, "bob@example.com")
    ws.approve(request.id)
    g2 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G2"]
    assert g2.state == "automated" and g2.passes
    assert g2.evidence.startswith("all 1 promotion(s) since ")
    ws.close()


def test_eval_runs_before_production_pass_o1_and_a_production_gate_makes_it_automatic(
        ws, project_dir, monkeypatch):
    first, _ = ws.release(SYSTEM)
    ws.eval(SYSTEM)  # by hand, before the release reached production
    promote_in_order(ws, first.id)
    by_id = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}
    assert by_id["O1"].state == "manual" and not by_id["O1"].passes  # an automation check
    assert "by hand" in by_id["O1"].evidence
    assert by_id["O2"].state == "manual" and by_id["O2"].evidence.startswith(
        "dataset evals/complaint-router.jsonl sha256 ")
    assert by_id["O2"].evidence.endswith("results sliced by channel")
    assert by_id["G1"].evidence == "no eval suite gates production"

    edit(project_dir / "trimtab.yaml", "# gate: {environments: [production]}",
         "gate: {environments: [production]}")
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Customer complaint")
    second, _ = ws.release(SYSTEM)
    monkeypatch.setenv("TRIMTAB_CI_URL", "https://ci.example.com/runs/7")
    ws.eval(SYSTEM)
    promote_in_order(ws, second.id)
    by_id = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}
    assert by_id["O1"].state == "automated"
    assert by_id["O1"].evidence.endswith("the production gate requires it")
    assert by_id["G1"].state == "automated"
    assert "2 promotion(s) checked, 0 override(s) audited" in by_id["G1"].evidence


def work_sample(ws, system: str = SYSTEM) -> int:
    """Review every call of the system's newest sample, as `trimtab review next` does."""
    done = 0
    while (pending := ws.review_next(system)) is not None:
        ws.review(pending.call.id, "pass", score=5)
        done += 1
    return done


OBSERVED = """
    channels:
      team: {kind: webhook, url: "http://127.0.0.1:9/hook"}
    alerts:
      p95: {system: complaint-router, metric: latency_p95, comparator: ">",
            threshold: 20000, channels: [team]}
      p99: {system: complaint-router, metric: latency_p99, comparator: ">",
            threshold: 40000, channels: [team]}
      errors: {system: complaint-router, metric: error_rate, comparator: ">",
               threshold: 0.5, channels: [team]}
      quality: {system: complaint-router, metric: quality_score, score: review,
                window: 7d, comparator: "<", threshold: 0.1, channels: [team]}
      inputs: {system: complaint-router, metric: drift, window: 1d, comparator: ">",
               threshold: 0.99, channels: [team]}
"""


def test_a_system_with_every_stage_three_practice_is_observed_and_at_target(
        ws, project_dir, monkeypatch):
    edit(project_dir / "trimtab.yaml", "# gate: {environments: [production]}",
         "gate: {environments: [production]}")
    edit(project_dir / "trimtab.yaml", "    release:\n",
         "    review: {per_week: 5}\n    release:\n")
    add_yaml(project_dir, OBSERVED)
    monkeypatch.setenv("TRIMTAB_CI_URL", "https://ci.example.com/runs/8")
    first, _ = ws.release(SYSTEM)
    ws.eval(SYSTEM)
    promote_in_order(ws, first.id)
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Customer complaint")
    second, _ = ws.release(SYSTEM)
    ws.eval(SYSTEM)
    promote_in_order(ws, second.id)
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
    sample, _ = ws.review_sample(SYSTEM)
    work_sample(ws)
    ws.check_alerts()

    a = ws.assess(SYSTEM)
    states = {v.check.id: (v.state, v.evidence) for v in a.verdicts}
    assert failing(a) == "G2 G3 G4 G5 G6".split(), states
    assert states["G5"][1] == f"no runbook at runbooks/{SYSTEM}.md"
    assert (a.stage, a.target, a.next_steps) == (3, 3, [])
    assert a.notes == ["At its target stage 3 (Observed): keep the evidence fresh."]
    assert states["O3"][0] == "manual"
    assert "5 review(s) of sampled calls in 30 days" in states["O3"][1]
    assert states["O7"][0] == "automated"


def test_g3_needs_signed_checkpoints_to_see_a_cut_off_tail(ws, project_dir):
    ws.sync()
    g3 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G3"]
    assert g3.state == "manual" and not g3.passes
    assert "no signed checkpoint exists" in g3.evidence

    ws.checkpoint_audit()
    g3 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G3"]
    assert g3.state == "automated" and "against 1 signed checkpoint(s)" in g3.evidence


def test_g5_needs_the_runbook_in_the_repository_and_a_drill_this_year(ws, cli, project_dir):
    ws.sync()
    g5 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G5"]
    assert g5.evidence == f"no runbook at runbooks/{SYSTEM}.md"

    assert "wrote" in cli("incident", "runbook", SYSTEM).output
    runbook = (project_dir / "runbooks" / f"{SYSTEM}.md").read_text()
    assert f"trimtab suspend {SYSTEM} --env production" in runbook
    assert "kept the existing" in cli("incident", "runbook", SYSTEM).output
    g5 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G5"]
    assert g5.evidence == (f"runbook runbooks/{SYSTEM}.md, but no drill recorded in the last "
                           "12 months")

    old = (datetime.now(UTC) - timedelta(days=400)).strftime("%Y-%m-%d")
    cli("incident", "drill", SYSTEM, "-s", "provider outage", "-p", "ana,ben", "--at", old)
    assert not {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G5"].passes
    cli("incident", "drill", SYSTEM, "-s", "provider outage", "-p", "ana, ben",
        "-f", "fallback held", "--restore-minutes", "12")
    g5 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G5"]
    assert g5.state == "manual" and g5.passes
    assert "(provider outage, 2 people, restore took 12 min)" in g5.evidence
    listed = json.loads(cli("incident", "drills", SYSTEM, "--json").output)
    assert [d["participants"] for d in listed] == [["ana", "ben"], ["ana", "ben"]]
    assert [e.action for e in ws.audit_log(action="drill.record")] == ["drill.record"] * 2

    tomorrow = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    assert "is in the future" in cli("incident", "drill", SYSTEM, "-s", "x", "-p", "a",
                                     "--at", tomorrow, expect=2).output
    assert "--participants is empty" in cli("incident", "drill", SYSTEM, "-s", "x", "-p", " ,",
                                            expect=2).output


def test_check_fails_ci_below_target_only_when_asked(cli, ws, project_dir):
    """`trimtab check` keeps its meaning (alert rules); --target adds the maturity
    gate, so existing pipelines do not start failing on an upgrade."""
    release, _ = ws.release(SYSTEM)
    promote_in_order(ws, release.id)

    assert "nothing to check" in cli("check").output  # no alert rules: exit 0, as before
    out = cli("check", "--target", expect=1).output
    assert ("complaint-router: stage 1, below its target 3; next: A5 keep the previous "
            "release promoted once in production") in out
    assert "1 system(s) below target" in out
    data = json.loads(cli("check", "--target", "--json", expect=1).output)
    assert data["firing"] == 0
    [below] = data["below_target"]
    assert (below["system"], below["stage"], below["target"]) == (SYSTEM, 1, 3)
    assert below["failing"][:2] == ["A4", "A5"]
    assert "below_target" not in json.loads(cli("check", "--json").output)
    assert ws.assessment_history(SYSTEM)[0].stage == 1  # the gate's assessment is stored

    edit(project_dir / "trimtab.yaml", "# target_stage: 3", "target_stage: 1")
    assert "every system is at or above its target" in cli("check", "--target").output
    assert json.loads(cli("check", "--target", "--json").output)["below_target"] == []

    # A firing alert still fails it, with or without --target.
    add_yaml(project_dir, """
        alerts:
          errors: {system: complaint-router, metric: error_rate, comparator: ">=",
                   threshold: 0, window: 1h, for: 0}
    """)
    ws.record(SYSTEM, {"text": "x"}, None, 5.0, env="production", status="error",
              error="boom")
    assert ws.flush()
    assert "1 firing" in cli("check", expect=1).output
    out = cli("check", "--target", expect=1).output
    assert "1 firing" in out and "every system is at or above its target" in out


def test_o3_counts_only_reviews_of_sampled_calls(ws, project_dir):
    """Reviews of calls a reviewer picked at will do not work the weekly sample."""
    edit(project_dir / "trimtab.yaml", "    release:\n",
         "    review: {per_week: 3}\n    release:\n")
    at_stage_two(ws, project_dir, calls=12)
    sample, _ = ws.review_sample(SYSTEM)
    from trimtab.store import reviews as review_store

    with ws.store.read() as conn:
        sampled = set(review_store.items(conn, sample.id))
    for call in [c for c in ws.calls(system=SYSTEM, limit=12) if c.id not in sampled][:3]:
        ws.review(call.id, "pass", score=5)
    o3 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["O3"]
    assert o3.state == "missing"
    assert o3.evidence.endswith("0 review(s) of sampled calls in 30 days, fewer than 3")

    assert work_sample(ws) == 3
    o3 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["O3"]
    assert o3.state == "manual" and o3.passes
    assert o3.evidence.endswith("3 review(s) of sampled calls in 30 days")


def test_o7_needs_a_recent_drift_check_not_only_an_evaluated_drift_rule(ws, project_dir):
    """The monitor evaluates a drift rule over stored drift checks; it runs none. A
    rule evaluated while no check ever ran proves no schedule."""
    at_stage_two(ws, project_dir, calls=6)
    add_yaml(project_dir, OBSERVED)
    ws.drift_baseline(SYSTEM, window=timedelta(hours=1))
    ws.check_alerts()
    o7 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["O7"]
    assert o7.state == "missing"
    assert o7.evidence.startswith("1 baseline(s), never checked; rule(s) inputs evaluated")
    assert "`trimtab drift complaint-router` on a schedule" in o7.fix

    time.sleep(0.01)
    router = ws.system(SYSTEM, env="production")
    for text in ("The box arrived crushed.", "The hinge squeaks.") * 3:
        router.run({**COMPLAINT, "text": text}, user="agent-7")
    assert ws.flush()
    ws.drift(SYSTEM, current=timedelta(hours=1))
    ws.check_alerts()
    o7 = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["O7"]
    assert o7.state == "automated"
    later = {v.check.id: v for v in ws.assess(SYSTEM, save=False,
                                              now=datetime.now(UTC) + timedelta(days=8)
                                              ).verdicts}["O7"]
    assert later.state != "automated"  # the check a week ago is not a schedule


def test_an_assessment_at_a_past_moment_leaves_out_what_happened_after_it(ws, project_dir):
    """`now` is a cut-off: releases, promotions, calls, eval runs, samples, reviews,
    drift checks and rule evaluations after it are not evidence at that moment."""
    edit(project_dir / "trimtab.yaml", "    release:\n",
         "    review: {per_week: 3}\n    release:\n")
    add_yaml(project_dir, OBSERVED)
    ws.sync()
    before = datetime.now(UTC)
    time.sleep(0.01)
    ws.eval(SYSTEM)
    at_stage_two(ws, project_dir, calls=6)
    ws.review_sample(SYSTEM)
    work_sample(ws)
    ws.drift_baseline(SYSTEM, window=timedelta(hours=1))
    ws.check_alerts()

    then = ws.assess(SYSTEM, now=before, save=False)
    assert then.stage == 0
    by_id = {v.check.id: v for v in then.verdicts}
    assert by_id["M2"].evidence == "no release has been promoted to production"
    assert by_id["A4"].evidence == "no calls recorded in production in the last 7 days"
    assert by_id["O2"].evidence == "no eval run yet"
    assert by_id["O3"].evidence == "no review sample drawn yet"
    assert by_id["O4"].evidence.startswith("rule(s) quality not evaluated in 24 h")
    assert by_id["O7"].evidence == "no drift baseline"
    now = {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}
    assert all(now[c].evidence != by_id[c].evidence for c in ("M2", "A4", "O2", "O3", "O4"))


SMOKE_SUITE = """      smoke:
        dataset: evals/complaint-router.jsonl
        scorers:
          - {type: json}
"""



def gated_with_smoke(ws, project_dir):
    """Production gated by the routing suite, beside an ungating smoke suite; the first
    release evaluated and promoted: G1 passes. Returns a function that promotes one
    new release to production with the gate taken out of trimtab.yaml for that step."""
    yaml = project_dir / "trimtab.yaml"
    edit(yaml, "        # gate: {environments: [production]}   # promote to production only "
         "after a pass", "        gate: {environments: [production]}\n" + SMOKE_SUITE.rstrip())
    first, _ = ws.release(SYSTEM)
    ws.eval(SYSTEM)  # routing and smoke pass
    promote_in_order(ws, first.id)
    assert {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G1"].passes

    def ungated(change: str, before, gate: str = "[production]") -> None:
        edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", change)
        release, _ = ws.release(SYSTEM)
        text = yaml.read_text()
        yaml.write_text(text.replace("gate: {environments: [production]}",
                                     f"gate: {{environments: {gate}}}"))
        before(release)
        yaml.write_text(text.replace("gate: {environments: [production]}",
                                     "gate: {environments: [dev]}"))
        ws.promote(SYSTEM, release.id, "production")
        yaml.write_text(text)
    return ungated


def g1_of(ws):
    return {v.check.id: v for v in ws.assess(SYSTEM, save=False).verdicts}["G1"]


def test_g1_asks_each_promotion_for_a_pass_of_the_gating_suite(ws, project_dir):
    """Any passing run on the release counted: a smoke suite's pass stood for a
    release the gating suite never saw."""
    ungated = gated_with_smoke(ws, project_dir)
    ungated("Complaint (v2)", lambda r: (ws.eval(SYSTEM, release=r.id, suite="smoke"),
                                         ws.promote(SYSTEM, r.id, "dev"),
                                         ws.promote(SYSTEM, r.id, "staging")))
    g1 = g1_of(ws)
    assert not g1.passes
    assert g1.evidence.startswith("1 of 2 promotion(s) reached production without a passing "
                                  "run of routing; 0 override(s) audited")


def test_g1_excuses_only_an_override_into_production_for_that_release(ws, project_dir):
    """Any audited override counted: one forced into staging excused a production
    promotion that nothing had gated."""
    ungated = gated_with_smoke(ws, project_dir)
    ungated("Complaint (v2)", lambda r: (
        ws.promote(SYSTEM, r.id, "dev"),
        ws.promote(SYSTEM, r.id, "staging", "hotfix, evals tomorrow", force=True)),
        gate="[staging, production]")
    assert ws.audit_log(action="gate.override")[-1].system == SYSTEM  # the staging override
    g1 = g1_of(ws)
    assert not g1.passes and g1.evidence.startswith("1 of 2 promotion(s) reached production")
    # Forced into production itself, the release is excused: the override is the record.
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Complaint (v3)")
    third, _ = ws.release(SYSTEM)
    ws.promote(SYSTEM, third.id, "dev")
    ws.promote(SYSTEM, third.id, "staging")
    ws.promote(SYSTEM, third.id, "production", "hotfix, evals tomorrow", force=True)
    assert g1_of(ws).evidence.endswith("1 override(s) audited")
