"""Check G6: an independent review within 12 months whose findings are tracked
(none open past its due date), recorded through the CLI and the Python API,
audited and role-checked like the other governance records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

SYSTEM = "complaint-router"
REVIEWER = ["-r", "dana@audit.example.com", "-o", "Internal audit", "-s", "release process"]


def g6(ws, now=None):
    return {v.check.id: v for v in ws.assess(SYSTEM, now=now, save=False).verdicts}["G6"]


def test_g6_passes_on_a_review_this_year_with_no_finding_overdue(ws, cli):
    ws.sync()
    assert (g6(ws).state, g6(ws).evidence) == (
        "missing", "no independent review recorded in the last 12 months")
    assert "trimtab assurance record complaint-router" in g6(ws).fix

    out = cli("assurance", "record", SYSTEM, *REVIEWER, "-F", "runbook names no DPO",
              "-F", "eval cases are English only", "--due", "60d").output
    assert "2 finding(s)" in out
    check = g6(ws)
    assert check.state == "manual" and check.passes
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert check.evidence == (
        f"review by dana@audit.example.com (Internal audit) on {today}, scope: release "
        "process; 2 finding(s), 0 closed, 2 open, none overdue")

    # 61 days on, both findings are open past their due date: listed, not tracked.
    later = datetime.now(UTC) + timedelta(days=61)
    check = g6(ws, later)
    assert check.state == "missing" and not check.passes
    assert "2 finding(s) open past their due date" in check.evidence

    before_closing = datetime.now(UTC)
    [review] = ws.independent_reviews(SYSTEM)
    first, second = review.findings
    assert (first.number, first.text, first.status) == (1, "runbook names no DPO", "open")
    cli("assurance", "close", first.id[:6], "-m", "the runbook names the DPO")
    ws.close_finding(second.id, resolution="German cases added")
    check = g6(ws, later)
    assert check.passes and "2 finding(s), 2 closed, 0 open, none overdue" in check.evidence
    # As of before the closing, the findings were still open: evidence is taken at `now`.
    assert "2 finding(s), 0 closed, 2 open" in g6(ws, before_closing).evidence

    # Evidence expires: a year and more later the review no longer counts.
    check = g6(ws, datetime.now(UTC) + timedelta(days=366))
    assert check.state == "missing"
    assert check.evidence == ("no independent review recorded in the last 12 months; the last "
                              f"was on {today}")

    actions = [e.action for e in ws.audit_log(system=SYSTEM)
               if e.action.startswith("assurance.")]
    assert sorted(actions) == ["assurance.finding.close", "assurance.finding.close",
                               "assurance.review"]
    listed = json.loads(cli("assurance", "findings", SYSTEM, "--all", "--json").output)
    assert [(f["number"], f["status"], f["resolution"]) for f in listed] == [
        (1, "closed", "the runbook names the DPO"), (2, "closed", "German cases added")]
    assert cli("assurance", "findings", SYSTEM).output.strip() == "no open finding"
    [data] = json.loads(cli("assurance", "reviews", "--json").output)
    assert data["reviewer"] == "dana@audit.example.com" and len(data["findings"]) == 2


def test_a_review_without_findings_must_say_so(ws, cli):
    ws.sync()
    out = cli("assurance", "record", SYSTEM, *REVIEWER, expect=2).output
    assert "no --finding given: list each finding, or say --no-findings" in out
    assert ws.independent_reviews() == []

    cli("assurance", "record", SYSTEM, *REVIEWER, "--no-findings")
    check = g6(ws)
    assert check.passes and "0 finding(s), 0 closed, 0 open, none overdue" in check.evidence


@pytest.mark.parametrize("args, message", [
    (["-r", "quality-team@example.com", "-o", "us", "-s", "all", "--no-findings"],
     "quality-team@example.com owns complaint-router: an independent review is made by "
     "someone outside the team"),
    ([*REVIEWER, "-F", "x", "--no-findings"], "--no-findings with findings given"),
    (["-r", " ", "-o", "Internal audit", "-s", "all", "--no-findings"], "--reviewer is empty"),
    ([*REVIEWER, "--no-findings", "--at", "2999-01-01"], "is in the future"),
    ([*REVIEWER, "-F", "x", "--at", "2026-06-01", "--due", "2026-05-01"],
     "--due 2026-05-01 is before the review itself"),
    ([*REVIEWER, "-F", "x", "--due", "soon"], "--due 'soon': not a time"),
])
def test_bad_records_are_refused_with_the_fix(ws, cli, args, message):
    ws.sync()
    assert message in cli("assurance", "record", SYSTEM, *args, expect=2).output
    assert ws.independent_reviews() == []


def test_closing_needs_a_resolution_a_known_finding_and_an_open_one(ws, cli):
    ws.sync()
    review = ws.record_independent_review(SYSTEM, reviewer="dana@audit.example.com",
                                          organisation="Internal audit", scope="all",
                                          findings=["no DPO named"])
    ref = review.findings[0].id
    assert "--resolution is empty" in cli("assurance", "close", ref, "-m", " ", expect=2).output
    assert "no finding matches 'ffff'" in cli("assurance", "close", "ffff", "-m", "x",
                                              expect=2).output
    cli("assurance", "close", ref, "-m", "named")
    assert "was closed on" in cli("assurance", "close", ref, "-m", "again", expect=2).output


def test_recording_and_closing_need_an_approver(cli, project_dir, monkeypatch):
    import trimtab
    from tests.helpers.governance import as_user, with_users
    from trimtab.govern import PermissionDenied

    with_users(cli, monkeypatch)
    ws = trimtab.connect(project_dir)
    ws.sync()
    as_user(monkeypatch, "operator@example.com")
    with pytest.raises(PermissionDenied):
        ws.record_independent_review(SYSTEM, reviewer="dana@audit.example.com",
                                     organisation="Internal audit", scope="all",
                                     findings=["x"])
    as_user(monkeypatch, "approver@example.com")
    review = ws.record_independent_review(SYSTEM, reviewer="dana@audit.example.com",
                                          organisation="Internal audit", scope="all",
                                          findings=["x"])
    as_user(monkeypatch, "operator@example.com")
    with pytest.raises(PermissionDenied):
        ws.close_finding(review.findings[0].id, resolution="fixed")
    assert ws.independent_reviews()[0].findings[0].status == "open"
    as_user(monkeypatch, "approver@example.com")
    assert ws.close_finding(review.findings[0].id, resolution="fixed").closed_by == \
        "approver@example.com"
    ws.close()
