"""`trimtab erase --user`: one person's calls and everything naming them go, the
audit trail records a reference (never the user id) and still verifies."""

import json
from datetime import timedelta

import pytest

import trimtab

SYSTEM = "complaint-router"


def seeded(ws):
    """u-1 has three calls over two systems (one scored and flagged, one reviewed, one
    labelled); u-2 one."""
    mine = [ws.record(SYSTEM, {"text": f"my seal leaks {i}"}, {"team": "packaging"}, 10.0,
                      user="u-1") for i in range(2)]
    mine.append(ws.record("legacy-scorer", {"x": 1}, {"y": 2}, 5.0, user="u-1"))
    theirs = ws.record(SYSTEM, {"text": "spark"}, {"team": "electrical"}, 7.0, user="u-2")
    assert ws.flush()
    ws.score(mine[0], "helpful", 1.0, comment="u-1 wrote their phone number")
    ws.review(mine[1], "fail", comment="mentions u-1's address")
    ws.score(theirs, "helpful", 0.0)
    ws.label(mine[2], "2")  # ground truth for the prediction
    ws.flag(mine[0], reason="u-1 says the answer was rude")
    return mine, theirs


def by_user(ws):
    return {r.group["user"]: r.calls for r in ws.metrics(window=timedelta(hours=2),
                                                          by=["user"])}


def test_erasure_removes_the_person_and_keeps_the_chain(ws):
    mine, theirs = seeded(ws)
    before = by_user(ws)
    assert before["u-1"] == 3

    dry = ws.erase("u-1", request="DSR-2026-041", dry_run=True)
    assert (dry.calls, dry.by_system, dry.dry_run) == (3, {SYSTEM: 2, "legacy-scorer": 1}, True)
    # a review also leaves its review score, and is an item of no sample here
    assert dry.related == {"call_flags": 1, "labels": 1, "reviews": 1, "scores": 2}
    assert len(ws.calls(limit=10)) == 4 and not ws.audit_log(action="calls.erase")

    done = ws.erase("u-1", request="DSR-2026-041", reason="art. 17 request")
    assert (done.calls, done.related, done.held) == \
        (3, {"call_flags": 1, "labels": 1, "reviews": 1, "scores": 2}, 0)
    assert done.rollups >= 2  # hour and day rows of the per-user rollups
    assert {c.id for c in ws.calls(limit=10)} == {theirs}
    for call_id in mine:
        with pytest.raises(trimtab.TrimtabError, match="no call"):
            ws.call(call_id)
    assert ws.scores(theirs) and len(ws.scores(theirs)) == 1
    assert ws.flags(SYSTEM) == []

    after = by_user(ws)  # totals stay; the person is a pseudonym now
    assert "u-1" not in after and after[f"erased-{done.id}"] == 3 and after["u-2"] == 1

    [entry] = ws.audit_log(action="calls.erase")
    payload = json.loads(entry.payload)
    assert (entry.object_id, payload["request"], payload["calls"]) == (done.id, "DSR-2026-041", 3)
    assert payload["by_system"] == {SYSTEM: 2, "legacy-scorer": 1}
    everything = json.dumps([e.to_dict() for e in ws.audit_log()])
    assert "u-1" not in everything  # not the id, not the comments that named the person
    assert ws.verify_audit().ok

    again = ws.erase("u-1", request="DSR-2026-041")  # nothing left; still recorded
    assert again.calls == 0 and len(ws.audit_log(action="calls.erase")) == 2


def test_erasure_can_be_limited_to_systems(ws):
    mine, _ = seeded(ws)
    done = ws.erase("u-1", request="DSR-7", systems=["legacy-scorer"])
    assert done.by_system == {"legacy-scorer": 1}
    assert {c.id for c in ws.calls(system=SYSTEM, limit=10)} >= set(mine[:2])


def test_bad_requests_are_refused(ws):
    seeded(ws)
    with pytest.raises(trimtab.TrimtabError, match="--request is the erasure request"):
        ws.erase("u-1", request=" ")
    with pytest.raises(trimtab.TrimtabError, match="--user must be"):
        ws.erase("", request="DSR-1")
    with pytest.raises(trimtab.TrimtabError, match="say why in --reason"):
        ws.erase("u-1", request="DSR-1", override_hold=True)
    with pytest.raises(trimtab.TrimtabError, match="give one of them"):
        ws.erase("u-1", request="DSR-1", skip_held=True, override_hold=True, reason="x")
    assert len(ws.calls(limit=10)) == 4


def test_erase_command_and_the_checkpointed_chain(cli, project_dir, database_url):
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        seeded(ws)
    cli("audit", "checkpoint")
    dry = cli("erase", "--user", "u-1", "--request", "DSR-9", "--dry-run").output
    assert "dry run: nothing erased; would erase 3 calls" in dry
    out = cli("erase", "--user", "u-1", "--request", "DSR-9").output
    assert "erased 3 calls (2 complaint-router, 1 legacy-scorer)" in out
    assert "for request DSR-9 is in the audit trail" in out
    verified = cli("audit", "verify").output
    assert "ok" in verified and "match 1 signed checkpoints" in verified
    listed = json.loads(cli("erase", "-u", "u-2", "--request", "DSR-10", "--json").output)
    assert listed["calls"] == 1 and listed["dry_run"] is False
    missing = cli("erase", "--user", "u-1", expect=2).output
    assert "--request" in missing


def test_an_override_erases_held_calls_and_the_entry_says_so(ws):
    """GDPR Art. 17(3)(e): a legal hold wins, unless an admin overrides it with a reason."""
    mine, _ = seeded(ws)
    ws.open_incident(SYSTEM, severity="critical", summary="outage")  # holds the router's calls
    with pytest.raises(trimtab.TrimtabError, match="2 of this user's calls are under a legal"):
        ws.erase("u-1", request="DSR-3")
    assert len(ws.calls(limit=10)) == 4  # nothing erased
    dry = ws.erase("u-1", request="DSR-3", dry_run=True)
    assert (dry.calls, dry.held) == (1, 2)  # a dry run shows what the hold keeps
    done = ws.erase("u-1", request="DSR-3", override_hold=True, reason="court order 12/26")
    assert (done.calls, done.held, done.hold_overridden) == (3, 0, 2)
    assert not {c.id for c in ws.calls(limit=10)} & set(mine)
    [entry] = ws.audit_log(action="calls.erase")
    payload = json.loads(entry.payload)
    assert (payload["hold_overridden"], payload["reason"]) == (2, "court order 12/26")
    assert ws.verify_audit().ok


def test_erasure_renames_the_person_wherever_a_record_names_them(ws, cli):
    """The person's id as a name (their reviews, scores and flags of other people's calls,
    an independent review, a finding they closed, a drift baseline they made, a category
    a baseline's profile counted) becomes the pseudonym; the audit chain still verifies."""
    from sqlalchemy import select

    from trimtab.actor import acting_as
    from trimtab.observe.drift.profiles import DatasetProfile
    from trimtab.store.schema import metadata

    ws.sync()
    mine, theirs = seeded(ws)
    for i in range(6):  # u-1's own calls name them: a value the drift profile counts
        ws.record(SYSTEM, {"text": f"my invoice {i}"}, {"team": "u-1" if i % 2 else "billing"},
                  6.0, user="u-1" if i % 2 else "u-3")
    assert ws.flush()
    with acting_as("u-1"):
        ws.review(theirs, "pass", comment="fine")
        ws.flag(theirs, reason="check the routing")
        review = ws.record_independent_review(SYSTEM, reviewer="u-1", organisation="Audit",
                                              scope="all", findings=["no DPO named"])
        ws.close_finding(review.findings[0].id, resolution="named")
        ws.drift_baseline(SYSTEM, window=timedelta(hours=1))
    places = {"reviews.reviewer": 1, "scores.actor": 1, "call_flags.actor": 1,
              "assurance_reviews.reviewer": 1, "assurance_reviews.actor": 1,
              "assurance_findings.closed_by": 1, "drift_baselines.created_by": 1,
              "drift_baselines.profile": 1}

    dry = ws.erase("u-1", request="DSR-12", dry_run=True)
    assert dry.names == places
    assert ws.independent_reviews()[0].reviewer == "u-1"  # a dry run renames nothing

    out = cli("erase", "--user", "u-1", "--request", "DSR-12").output
    assert "pseudonym in 1 reviews.reviewer, 1 scores.actor" in out
    [entry] = ws.audit_log(action="calls.erase")
    pseudonym = json.loads(entry.payload)["pseudonym"]
    assert json.loads(entry.payload)["names_pseudonymised"] == places
    assert ws.independent_reviews()[0].reviewer == pseudonym
    assert ws.independent_reviews()[0].findings[0].closed_by == pseudonym
    [baseline] = ws.drift_baselines(SYSTEM)
    assert baseline.created_by == pseudonym
    profile = DatasetProfile.from_dict(json.loads(baseline.profile))  # still loads
    assert profile.columns["output.team"].counts == {
        pseudonym: 3, "billing": 3, "packaging": 2, "electrical": 1}  # seeded's too
    with ws.store.read() as conn:  # nowhere but the audit trail and records of changes
        kept = {"audit", "audit_head", "deployments", "releases", "systems"}
        for table in metadata.sorted_tables:
            if table.name not in kept:
                rows = conn.execute(select(table)).all()
                assert "u-1" not in repr([tuple(map(str, row)) for row in rows]), table.name
    assert ws.verify_audit().ok
