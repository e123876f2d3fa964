"""The JSON API's reviews, approvals, incidents, evals, assessment and documents: the
same rules as the CLI (the role each change needs, one review per reviewer and call,
no self-approval), as the authenticated caller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.helpers import eventually
from tests.web.conftest import SYSTEM


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_review_a_sampled_call_once_per_reviewer(served):
    url, ws, _ = served
    api = httpx.Client(base_url=f"{url}/api/v1")
    assert api.get(f"/systems/{SYSTEM}/reviews/next").status_code == 400  # no sample yet
    last = api.post(f"/systems/{SYSTEM}/reviews/sample", json={"week": "9999-W52", "size": 1})
    assert last.status_code == 400 and "--week '9999-W52': ends after the year 9999" in \
        last.json()["detail"]
    drawn = api.post(f"/systems/{SYSTEM}/reviews/sample", json={}).json()
    assert drawn["new"] is True and drawn["size"] == 12  # the 12 answered calls
    assert api.post(f"/systems/{SYSTEM}/reviews/sample", json={}).json()["new"] is False
    nxt = api.get(f"/systems/{SYSTEM}/reviews/next").json()
    assert nxt["done"] is False and nxt["left"] == 12 and nxt["call"]["system"] == SYSTEM
    call = nxt["call"]["id"]
    given = api.post(f"/calls/{call}/reviews", json={
        "verdict": "fail", "score": 2, "labels": ["wrong-team"], "comment": "misrouted"})
    assert given.status_code == 200, given.text
    review = given.json()
    assert review["reviewer"] == "alice@example.com" and review["labels"] == ["wrong-team"]
    assert review["sample_id"] == drawn["id"]
    again = api.post(f"/calls/{call}/reviews", json={"verdict": "pass"})
    assert again.status_code == 400 and "already" in again.json()["detail"]
    assert api.post(f"/calls/{call}/reviews", json={"verdict": "maybe"}).status_code == 422
    assert api.post(f"/calls/{call}/reviews", json={"verdict": "pass", "score": 6}
                    ).status_code == 422
    progress = api.get(f"/systems/{SYSTEM}/reviews/progress", params={"weeks": 2}).json()
    assert (progress["reviewed"], progress["mine"], progress["size"]) == (1, 1, 12)
    assert progress["weeks"][-1] == {"week": drawn["week"], "calls": 1, "passed": 0,
                                     "pass_rate": 0.0}
    assert progress["calls"] == 1 and progress["passed"] == 0
    assert api.get(f"/systems/{SYSTEM}/reviews/next").json()["left"] == 11
    assert ws.audit_log(action="review.add")[-1].actor == "alice@example.com"


def test_reviews_need_the_reviewer_role(team):
    url, ws, tokens, _ = team
    api = httpx.Client(base_url=f"{url}/api/v1")
    eventually(lambda: api.get("/systems").status_code == 401)
    sample = api.post(f"/systems/{SYSTEM}/reviews/sample", json={},
                      headers=bearer(tokens["rita"]))
    assert sample.status_code == 200, sample.text
    call = api.get(f"/systems/{SYSTEM}/reviews/next", headers=bearer(tokens["rita"])
                   ).json()["call"]["id"]
    refused = api.post(f"/calls/{call}/reviews", json={"verdict": "pass"},
                       headers=bearer(tokens["vera"]))
    assert refused.status_code == 403 and "needs reviewer" in refused.json()["detail"]
    done = api.post(f"/calls/{call}/reviews", json={"verdict": "pass"},
                    headers=bearer(tokens["rita"]))
    assert done.status_code == 200 and done.json()["reviewer"] == "rita@example.com"
    # Another reviewer judges the same call independently.
    ann = api.post(f"/calls/{call}/reviews", json={"verdict": "pass"},
                   headers=bearer(tokens["ann"]))
    assert ann.status_code == 200 and ann.json()["reviewer"] == "ann@example.com"


def test_approve_needs_an_approver_other_than_the_requester(team):
    url, ws, tokens, request = team
    api = httpx.Client(base_url=f"{url}/api/v1")
    eventually(lambda: api.get("/systems").status_code == 401)
    [listed] = api.get("/approvals", headers=bearer(tokens["vera"])).json()
    assert listed["id"] == request.id and listed["state"] == "pending"
    assert listed["requested_by"] == "alice@example.com"
    path = f"/approvals/{request.id}/approve"
    viewer = api.post(path, json={}, headers=bearer(tokens["vera"]))
    assert viewer.status_code == 403 and "needs approver" in viewer.json()["detail"]
    own = api.post(path, json={}, headers=bearer(tokens["alice"]))
    assert own.status_code == 400 and "requester cannot approve" in own.json()["detail"]
    other = api.post(path, json={"release": "ffff0000"}, headers=bearer(tokens["ann"]))
    assert other.status_code == 400 and "exactly the release requested" in other.text
    done = api.post(path, json={"release": request.release_id[:12], "comment": "evals ok"},
                    headers=bearer(tokens["ann"]))
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["request"]["state"] == "applied" and body["request"]["votes"][0][
        "approver"] == "ann@example.com"
    assert body["deployment"]["release_id"] == request.release_id
    assert body["deployment"]["actor"] == "alice@example.com"  # as the requester
    assert ws.active_release(SYSTEM, "production").id == request.release_id
    assert api.get("/approvals", headers=bearer(tokens["ann"])).json() == []
    closed = api.get("/approvals", params={"all": "true"}, headers=bearer(tokens["ann"]))
    assert [r["state"] for r in closed.json()] == ["applied"]
    late = api.post(f"/approvals/{request.id}/reject", json={"reason": "too late"},
                    headers=bearer(tokens["ann"]))
    assert late.status_code == 400 and "already approved and applied" in late.text


def test_reject_needs_a_reason(team):
    url, ws, tokens, request = team
    api = httpx.Client(base_url=f"{url}/api/v1", headers=bearer(tokens["ann"]))
    path = f"/approvals/{request.id[:6]}/reject"
    blank = api.post(path, json={"reason": " "})
    assert blank.status_code == 400 and "needs --reason" in blank.json()["detail"]
    done = api.post(path, json={"reason": "p95 regressed in staging"})
    assert done.status_code == 200 and done.json()["state"] == "rejected"
    assert api.get(f"/approvals/{request.id}").json()["votes"][0]["reason"] == \
        "p95 regressed in staging"
    assert api.get("/approvals/ffffffff").status_code == 404


def test_incidents_with_deadlines_and_notes(served):
    url, ws, _ = served
    opened = ws.open_incident(SYSTEM, severity="high", summary="Misrouted safety complaint",
                              categories=["ai-act-serious"])
    api = httpx.Client(base_url=f"{url}/api/v1")
    [found] = api.get("/incidents").json()
    assert found["id"] == opened.id and found["severity"] == "high"
    assert found["deadlines"] and not found["deadlines"][0]["overdue"]
    noted = api.post(f"/incidents/{opened.id}/notes", json={"text": "customer called back"})
    assert noted.status_code == 200, noted.text
    assert noted.json()["notes"][-1]["text"] == "customer called back"
    assert api.get(f"/incidents/{opened.id[:6]}").json()["notes"][-1]["actor"] == \
        "alice@example.com"
    assert api.post(f"/incidents/{opened.id}/notes", json={"text": ""}).status_code == 422
    assert api.get("/incidents/ffffffff").status_code == 404
    late = ws.open_incident(SYSTEM, severity="critical", summary="Found late",
                            categories=["ai-act-serious"],
                            aware_at=datetime.now(UTC) - timedelta(days=20))
    [deadline] = api.get(f"/incidents/{late.id}").json()["deadlines"]
    assert deadline["overdue"] is True  # 15 days from awareness
    page = httpx.get(f"{url}/incidents").text
    assert "overdue by 5d" in page and "due in 14d" in page and "customer called back" in page
    for serious in (late, opened):  # each froze the system; an incident closes unfrozen
        ws.unfreeze_incident(serious.id, reason="contained")
    ws.close_incident(late.id, root_cause="late", actions="faster triage")
    ws.close_incident(opened.id, root_cause="prompt", actions="new prompt")
    assert api.get("/incidents").json() == []
    closed = api.get("/incidents", params={"all": "true"}).json()
    assert len(closed) == 2 and all(i["closed_at"] and i["deadlines"] == [] for i in closed)


def test_evals_assessment_and_documents(served, project_dir):
    url, ws, release = served
    api = httpx.Client(base_url=f"{url}/api/v1")
    ws.eval(SYSTEM)
    [run, *_] = api.get(f"/systems/{SYSTEM}/evals").json()
    assert run["release_id"] == release.id and run["cases"] > 0
    detail = api.get(f"/evals/{run['id'][:10]}").json()
    assert len(detail["results"]) == run["cases"] and detail["gates"] == run["gates"]
    assessment = api.get(f"/systems/{SYSTEM}/assessment").json()
    assert assessment["system"] == SYSTEM and 0 <= assessment["stage"] <= 4
    failing = [c for c in assessment["checks"] if not c["passes"] and c["state"] != "n/a"]
    assert failing and all(c["fix"] for c in failing)
    assert api.get(f"/systems/{SYSTEM}/documents").json() == []
    ws.documents(SYSTEM, kinds=["model-card"])
    [doc] = api.get(f"/systems/{SYSTEM}/documents").json()
    assert doc["kind"] == "model-card" and len(doc["sha256"]) == 64
    assert api.get("/systems/no-such/documents").status_code == 404


def test_the_pages_forms_check_roles_and_csrf(team):
    """The review, approval and incident forms go through the same rules as the API."""
    url, ws, tokens, request = team
    ws.review_sample(SYSTEM)
    call = ws.review_next(SYSTEM).call.id
    incident = ws.open_incident(SYSTEM, severity="low", summary="Slow answers")
    page = httpx.Client(base_url=url, follow_redirects=False)
    eventually(lambda: page.get("/approvals").status_code == 303)  # login is on
    csrf = page.get("/login").cookies["trimtab_csrf"]

    def post(who: str, path: str, **form):
        return page.post(path, data={"csrf_token": csrf, **form},
                         headers={**bearer(tokens[who]), "cookie": f"trimtab_csrf={csrf}"})

    review = {"call": call, "verdict": "fail", "score": "2", "labels": "tone, wrong-team"}
    refused = post("vera", f"/reviews/{SYSTEM}", **review)
    assert refused.status_code == 403 and "needs reviewer" in refused.text
    done = post("rita", f"/reviews/{SYSTEM}", **review)
    assert done.status_code == 303 and done.headers["location"] == \
        f"/reviews/{SYSTEM}?saved={call}"
    twice = post("rita", f"/reviews/{SYSTEM}", **review)
    assert twice.status_code == 400 and "already reviewed" in twice.text
    no_csrf = page.post(f"/reviews/{SYSTEM}", data=review, headers=bearer(tokens["ann"]))
    assert no_csrf.status_code == 400  # the form's csrf_token field is required

    approve = f"/approvals/{request.id}/approve"
    assert post("rita", approve, release=request.release_id).status_code == 403
    own = post("alice", approve, release=request.release_id)
    assert own.status_code == 400 and "requester cannot approve" in own.text
    assert ws.approval(request.id).state == "pending"
    reject = post("ann", f"/approvals/{request.id}/reject", reason="not yet")
    assert reject.status_code == 303 and ws.approval(request.id).state == "rejected"

    note = f"/incidents/{incident.id}/notes"
    assert post("rita", note, text="looking").status_code == 403  # needs operator
    assert post("alice", note, text="looking").status_code == 303
    assert ws.incident(incident.id).notes[-1].actor == "alice@example.com"


def test_the_review_form_checks_the_system_of_the_call_it_names(served, project_dir):
    """A key limited to one system reviews only that system's calls, whatever review
    form (``/reviews/SYSTEM``) the call id is posted to."""
    url, ws, _ = served
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write("  support-drafter:\n    description: Drafts replies.\n    owner: s@example.com\n"
                "    tier: 1\n    risk: minimal\n    release: {provider: simulated, "
                "model: sim-drafter-1}\n")
    elsewhere = ws.record("support-drafter", {"text": "hi"}, "Dear customer", 5.0)
    own = ws.record(SYSTEM, {"text": "sparks"}, {"team": "electrical"}, 5.0)
    assert ws.flush()
    _, limited = ws.create_key("router-ci", env="production", systems=[SYSTEM])
    _, everything = ws.create_key("ops", env="production")
    page = httpx.Client(base_url=url, follow_redirects=False)
    eventually(lambda: page.get("/reviews").status_code == 303)  # keys turn login on
    csrf = page.get("/login").cookies["trimtab_csrf"]

    def post(secret: str, call: str):
        return page.post(f"/reviews/{SYSTEM}",
                         data={"csrf_token": csrf, "call": call, "verdict": "fail"},
                         headers={**bearer(secret), "cookie": f"trimtab_csrf={csrf}"})

    refused = post(limited, elsewhere)
    assert refused.status_code == 403 and "not allowed to change system" in refused.text
    mismatched = post(everything, elsewhere)
    assert mismatched.status_code == 400
    assert "call of support-drafter, not complaint-router" in mismatched.text
    assert ws.audit_log(action="review.add") == []
    done = post(limited, own)
    assert done.status_code == 303, done.text
    [added] = ws.audit_log(action="review.add")
    assert added.actor == "key:router-ci" and added.system == SYSTEM
