"""The JSON API's freezes, legal holds, report drafts and timelines, and the incident
page's forms: the same functions and roles as `trimtab incident freeze|unfreeze|
release-hold|report` and `trimtab timeline` (operator freezes, approver lifts, admin
releases a hold or overrides a freeze), with 409 for a state that refuses the change."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.helpers import eventually
from tests.web.conftest import SYSTEM


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_freeze_unfreeze_and_release_a_hold(served):
    url, ws, release = served
    api = httpx.Client(base_url=f"{url}/api/v1", timeout=60)
    incident = ws.open_incident(SYSTEM, severity="low", summary="Slow answers")
    assert api.get("/freezes").json() == [] and api.get("/holds").json() == []

    for later in ("9999-12-31T00:00:00", (incident.aware_at + timedelta(minutes=1)).isoformat()):
        future = api.post(f"/incidents/{incident.id}/freeze", json={"hold_since": later})
        assert future.status_code == 400 and "--hold-since (hold_since)" in \
            future.json()["detail"] and "is after incident" in future.json()["detail"]
    assert api.get("/freezes").json() == [] and api.get("/holds").json() == []
    frozen = api.post(f"/incidents/{incident.id[:6]}/freeze", json={})
    assert frozen.status_code == 200, frozen.text
    body = frozen.json()
    assert body["freeze"]["system"] == SYSTEM and body["freeze"]["lifted_at"] is None
    assert body["freeze"]["pinned"]["production"] == release.id
    assert body["hold"]["active"] and body["hold"]["incident_id"] == incident.id
    again = api.post(f"/incidents/{incident.id}/freeze", json={})
    assert again.status_code == 409 and "already froze" in again.json()["detail"]

    [standing] = api.get("/freezes", params={"incident": incident.id}).json()
    assert standing["id"] == body["freeze"]["id"]
    assert api.get("/freezes", params={"system": "other-system"}).json() == []
    [held] = api.get("/holds").json()
    assert held["calls"] == 13 and held["until"] is None  # every recorded call is kept

    # The freeze is enforced where the change is made: promote and rollback are 409.
    moved = api.post(f"/systems/{SYSTEM}/rollback", json={"env": "production"})
    assert moved.status_code == 409 and "frozen" in moved.json()["detail"]

    for bad in ({}, {"reason": ""}, {"reason": "ok", "force": True}, {"reason": 3}):
        refused = api.post(f"/incidents/{incident.id}/unfreeze", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    assert api.post(f"/incidents/{incident.id}/freeze", json={"hold_since": "soon"}
                    ).status_code == 422
    lifted = api.post(f"/incidents/{incident.id}/unfreeze", json={"reason": "contained"})
    assert lifted.status_code == 200, lifted.text
    [done] = lifted.json()
    assert done["lifted_at"] and done["lift_reason"] == "contained"
    twice = api.post(f"/incidents/{incident.id}/unfreeze", json={"reason": "again"})
    assert twice.status_code == 409
    assert f"incident {incident.id} has no freeze standing" in twice.json()["detail"]
    assert api.get("/freezes").json() == []
    assert len(api.get("/freezes", params={"all": "true"}).json()) == 1
    assert api.get("/holds").json()[0]["active"]  # lifting a freeze keeps the hold

    released = api.post(f"/incidents/{incident.id}/release-hold",
                        json={"reason": "authority closed the case"})
    assert released.status_code == 200 and released.json()[0]["active"] is False
    assert released.json()[0]["release_reason"] == "authority closed the case"
    assert api.post(f"/incidents/{incident.id}/release-hold", json={"reason": "x"}
                    ).status_code == 409
    assert api.get("/holds").json() == []
    assert api.get("/holds", params={"all": "true"}).json()[0]["released_by"]
    assert api.post("/incidents/ffffffff/unfreeze", json={"reason": "x"}).status_code == 404
    actions = [e.action for e in ws.audit_log(system=SYSTEM)]
    assert {"system.freeze", "system.unfreeze", "hold.release"} <= set(actions), actions


def test_freeze_roles_and_the_admin_override(team):
    """Operator freezes, an approver lifts, an admin releases the hold; only an admin
    moves a frozen system, with force and a reason."""
    url, ws, tokens, _ = team
    ws.add_user("otto@example.com", "operator")
    tokens["otto"] = ws.create_token(user="otto@example.com")[1]
    api = httpx.Client(base_url=f"{url}/api/v1", timeout=60)
    incident = ws.open_incident(SYSTEM, severity="low", summary="Wrong team twice")
    eventually(lambda: api.get("/freezes").status_code == 401)  # login is on

    def post(who: str, path: str, **body):
        return api.post(path, json=body, headers=bearer(tokens[who]))

    viewer = post("vera", f"/incidents/{incident.id}/freeze")
    assert viewer.status_code == 403 and "needs operator" in viewer.json()["detail"]
    assert post("otto", f"/incidents/{incident.id}/freeze").status_code == 200
    [standing] = api.get("/freezes", headers=bearer(tokens["vera"])).json()  # viewers read
    assert standing["frozen_by"] == "otto@example.com"

    forced = post("ann", f"/systems/{SYSTEM}/rollback", env="staging", force=True,
                  reason="back out")
    assert forced.status_code == 403 and "needs admin" in forced.json()["detail"]
    plain = post("alice", f"/systems/{SYSTEM}/rollback", env="staging", reason="back out")
    assert plain.status_code == 409 and "frozen" in plain.json()["detail"]
    admin = post("alice", f"/systems/{SYSTEM}/rollback", env="staging", force=True,
                 reason="back out")
    assert admin.status_code == 200, admin.text

    operator = post("otto", f"/incidents/{incident.id}/unfreeze", reason="fixed")
    assert operator.status_code == 403 and "needs approver" in operator.json()["detail"]
    assert post("ann", f"/incidents/{incident.id}/unfreeze", reason="fixed").status_code == 200
    approver = post("ann", f"/incidents/{incident.id}/release-hold", reason="done")
    assert approver.status_code == 403 and "needs admin" in approver.json()["detail"]
    assert ws.holds(system=SYSTEM)[0][0].active
    assert post("alice", f"/incidents/{incident.id}/release-hold", reason="done"
                ).status_code == 200
    assert ws.holds(system=SYSTEM) == []


def test_report_drafts_and_timelines(served):
    url, ws, release = served
    api = httpx.Client(base_url=f"{url}/api/v1", timeout=60)
    incident = ws.open_incident(SYSTEM, severity="critical", summary="Misrouted safety",
                                categories=["nis2-significant"])
    drafted = api.get(f"/incidents/{incident.id}/report/nis2-early-warning")
    assert drafted.status_code == 200, drafted.text
    report = drafted.json()
    assert report["incident"] == incident.id and report["format"] == "nis2-early-warning"
    assert report["markdown"].startswith(f"# {report['title']}")
    assert report["gaps"] and all(f["source"] for f in report["fields"])
    assert {f["field"] for f in report["fields"] if f["missing"]} and \
        "MISSING" in report["markdown"]
    assert api.get(f"/incidents/{incident.id}/report/gdpr-art-99").status_code == 422
    assert api.get("/incidents/ffffffff/report/nis2-final").status_code == 404

    timeline = api.get(f"/incidents/{incident.id}/timeline", params={"samples": 3})
    assert timeline.status_code == 200, timeline.text
    found = timeline.json()
    assert found["system"] == SYSTEM
    assert found["at"].startswith(incident.aware_at.isoformat()[:19])
    production = next(a for a in found["active"] if a["env"] == "production")
    assert production["release"] == release.id
    assert len(found["samples"]) == 3 and found["metrics"]["before"]["calls"] == 13
    at = incident.aware_at.isoformat()
    by_system = api.get(f"/systems/{SYSTEM}/timeline", params={"at": at, "window": "2h"})
    assert by_system.status_code == 200 and by_system.json()["start"] < at
    assert api.get(f"/systems/{SYSTEM}/timeline").status_code == 422  # `at` is required
    too_wide = api.get(f"/systems/{SYSTEM}/timeline", params={"at": at, "window": "40d"})
    assert too_wide.status_code == 400 and "31 days" in too_wide.json()["detail"]
    assert api.get(f"/systems/{SYSTEM}/timeline", params={"at": at, "samples": 21}
                   ).status_code == 422
    edge = api.get(f"/systems/{SYSTEM}/timeline", params={"at": "0001-01-01T00:00:00"})
    assert edge.status_code == 400 and "calendar" in edge.json()["detail"]
    assert api.get("/systems/no-such/timeline", params={"at": at}).status_code == 404


def test_the_incident_page_and_its_forms(team):
    url, ws, tokens, _ = team
    incident = ws.open_incident(SYSTEM, severity="low", summary="Slow answers")
    page = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
    eventually(lambda: page.get("/incidents").status_code == 303)  # login is on
    csrf = page.get("/login").cookies["trimtab_csrf"]

    def post(who: str, path: str, **form):
        return page.post(path, data={"csrf_token": csrf, **form},
                         headers={**bearer(tokens[who]), "cookie": f"trimtab_csrf={csrf}"})

    def get(path: str) -> str:
        answer = page.get(path, headers=bearer(tokens["vera"]))
        assert answer.status_code == 200, (path, answer.text)
        return answer.text

    base = f"/incidents/{incident.id}"
    assert "is frozen" not in get("/") and "Freeze complaint-router" in get(base)
    assert post("vera", f"{base}/freeze").status_code == 403
    no_csrf = page.post(f"{base}/freeze", data={}, headers=bearer(tokens["alice"]))
    assert no_csrf.status_code == 400 and ws.freezes() == []
    done = post("alice", f"{base}/freeze")
    assert done.status_code == 303 and done.headers["location"] == base
    assert f"{SYSTEM}</a> is frozen" in get("/")
    assert "Frozen</strong> since" in get(f"/systems/{SYSTEM}")
    shown = get(base)
    assert "is frozen</strong> by this incident" in shown and "held: never pruned" in shown
    assert f'href="{base}/report/nis2-early-warning"' in shown
    assert "What ran around the moment of awareness" in shown
    assert "MISSING" in get(f"{base}/report/ai-act-serious-incident")

    assert post("ann", f"{base}/unfreeze").status_code == 400  # the reason is required
    assert post("rita", f"{base}/unfreeze", reason="fixed").status_code == 403
    assert post("ann", f"{base}/unfreeze", reason="fixed").status_code == 303
    again = post("ann", f"{base}/unfreeze", reason="fixed")
    assert again.status_code == 409 and "no freeze standing" in again.text
    assert "is frozen" not in get("/")
    assert post("ann", f"{base}/release-hold", reason="done").status_code == 403
    assert post("alice", f"{base}/release-hold", reason="done").status_code == 303
    assert "released" in get(base) and ws.holds() == []
