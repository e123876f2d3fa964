"""The JSON API under /api/v1: what the CLI shows, over HTTP, with clear 4xx on bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import HTTPException

from tests.helpers import edit, eventually, promote_through
from tests.web.conftest import SYSTEM
from trimtab.store import calls as call_store
from trimtab.store.keys import ApiKey
from trimtab.web.security import Caller


def test_systems_releases_and_deployments(served):
    url, ws, release = served
    api = httpx.Client(base_url=f"{url}/api/v1")
    systems = api.get("/systems").json()
    assert [s["name"] for s in systems] == [SYSTEM]
    detail = api.get(f"/systems/{SYSTEM}").json()
    assert detail["environments"] == ws.project.environments
    assert detail["active"]["production"]["id"] == release.id
    assert detail["active"]["staging"]["id"] == release.id  # on its way to production
    assert [r["id"] for r in api.get(f"/systems/{SYSTEM}/releases").json()] == [release.id]
    shown = api.get(f"/releases/{release.id[:10]}").json()
    assert shown["id"] == release.id and shown["spec"] == release.spec
    stable = api.get("/deployments").json()["stable"]
    assert [(d["system"], d["env"], d["release_id"]) for d in stable] == \
        [(SYSTEM, env, release.id) for env in ("dev", "production", "staging")]
    history = api.get(f"/systems/{SYSTEM}/history", params={"env": "production"}).json()
    assert [d["action"] for d in history] == ["promote"]


def test_promote_diff_and_rollback_are_audited_as_the_caller(served, project_dir):
    url, ws, first = served
    edit(project_dir / "prompts" / f"{SYSTEM}.system.md", "You", "Please, you")
    second, _ = ws.release(SYSTEM, note="politer")
    api = httpx.Client(base_url=f"{url}/api/v1")

    diff = api.get(f"/releases/{first.id[:12]}/diff/{second.id[:12]}").json()
    assert diff["old"]["id"] == first.id and diff["new"]["id"] == second.id
    assert "+Please, you" in "".join(diff["prompts"].values())

    promote_through(ws, SYSTEM, second.id, "staging")
    promoted = api.post(f"/systems/{SYSTEM}/promote", json={
        "release": second.id[:12], "env": "production", "reason": "politer prompt"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["changed"] is True
    assert ws.active_release(SYSTEM, "production").id == second.id
    again = api.post(f"/systems/{SYSTEM}/promote",
                     json={"release": second.id, "env": "production"})
    assert again.json() == {"changed": False, "deployment": None}

    back = api.post(f"/systems/{SYSTEM}/rollback", json={"env": "production", "reason": "x"})
    assert back.status_code == 200, back.text
    assert back.json()["deployment"]["release_id"] == first.id
    entries = api.get("/audit", params={"action": "deployment.rollback"}).json()
    # Local mode (no keys): changes are made as the person running the server.
    assert entries[-1]["actor"] == "alice@example.com"
    assert api.get("/audit/verify").json()["ok"] is True


def test_calls_filters_and_detail(served):
    url, ws, release = served
    api = httpx.Client(base_url=f"{url}/api/v1")
    everything = api.get("/calls", params={"limit": 100}).json()
    assert len(everything) == 13
    assert len(api.get("/calls", params={"limit": 5}).json()) == 5
    [failed] = api.get("/calls", params={"status": "error"}).json()
    assert failed["status"] == "error" and failed["latency_ms"] == 12.5
    assert len(api.get("/calls", params={"release": release.id[:8]}).json()) == 13
    assert api.get("/calls", params={"release": "ffff0000"}).json() == []
    assert len(api.get("/calls", params={"model": "sim-router-1", "system": SYSTEM,
                                         "env": "production"}).json()) == 13
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert api.get("/calls", params={"since": future}).json() == []
    assert len(api.get("/calls", params={"until": future}).json()) == 13
    one = api.get(f"/calls/{everything[0]['id'][:16]}").json()
    assert one["id"] == everything[0]["id"] and "request" in one and "attempts" in one

    flagged = api.post(f"/calls/{one['id'][:16]}/flag", json={"reason": "wrong team"})
    assert flagged.status_code == 200, flagged.text
    assert flagged.json()["new"] is True and flagged.json()["source"] == "user"
    again = api.post(f"/calls/{one['id']}/flag", json={})
    assert again.json()["new"] is False and again.json()["reason"] == "wrong team"
    assert [f.call_id for f in ws.flags(SYSTEM)] == [one["id"]]
    assert api.post("/calls/ffff0000/flag", json={}).status_code == 404
    assert api.post(f"/calls/{one['id']}/flag", json={"why": "x"}).status_code == 422


def test_calls_full_text_search_is_bounded(served):
    url, ws, _ = served
    api = httpx.Client(base_url=f"{url}/api/v1")
    assert len(api.get("/calls", params={"q": "charger sparks"}).json()) == 12
    assert len(api.get("/calls", params={"q": "CHARGER SPARKS"}).json()) == 12
    [failed] = api.get("/calls", params={"q": "upstream 503"}).json()  # the error text
    assert failed["status"] == "error"
    assert api.get("/calls", params={"q": "sparks", "status": "error"}).json() == []
    assert api.get("/calls", params={"q": "100%_"}).json() == []  # LIKE's wildcards escaped
    assert len(api.get("/calls", params={"q": "ACME", "limit": 3}).json()) == 3
    assert api.get("/calls", params={"q": "a\nb"}).status_code == 422  # one line
    assert api.get("/calls", params={"q": "x" * 201}).status_code == 422
    newest = [c.id for c in ws.calls(limit=4)]
    with ws.store.read() as conn:  # only the newest `scan` calls are searched
        found = call_store.query(conn, text="e", scan=4, limit=100)
    assert found and {c.id for c in found} <= set(newest)


def test_quality_per_release_and_per_week(served, project_dir):
    url, ws, release = served
    api = httpx.Client(base_url=f"{url}/api/v1")
    assert api.get(f"/systems/{SYSTEM}/quality/releases").json() == []
    edit(project_dir / "trimtab.yaml", "    evals:\n",
         "    scoring:\n      sample: 100%\n      settle: \"0\"\n      scorers:\n"
         "        - {type: json}\n    evals:\n")
    eventually(lambda: ws.project.system(SYSTEM).scoring is not None)
    [tick] = ws.score_sample(SYSTEM, now=datetime.now(UTC) + timedelta(seconds=5))
    assert tick.scored == 12  # the failed call is not drawn: it has no answer
    [row] = api.get(f"/systems/{SYSTEM}/quality/releases", params={"window": "1h"}).json()
    assert row == {"release_id": release.id, "name": "json", "scores": 12, "mean": 1.0,
                   "passed": 12, "judged": 12}
    weekly = api.get(f"/systems/{SYSTEM}/quality/weekly", params={"weeks": 2}).json()
    assert [w["source"] for w in weekly["weeks"]] == [None, "scorers"]
    assert weekly["weeks"][-1]["score"] == 1.0 and weekly["weeks"][-1]["scorers"]["calls"] == 12
    assert api.get(f"/systems/{SYSTEM}/quality/weekly", params={"weeks": 0}).status_code == 422
    assert api.get("/systems/nope/quality/weekly").status_code == 404


def test_metrics_series_alerts_and_drift(served):
    url, *_ = served
    api = httpx.Client(base_url=f"{url}/api/v1")
    [row] = api.get("/metrics", params={"window": "1h", "by": "system"}).json()
    assert row["system"] == SYSTEM and row["calls"] == 13 and row["errors"] == 1
    assert row["p95_ms"] > 0 and float(row["cost_usd"]) > 0
    by_user = api.get("/metrics", params=[("by", "user"), ("by", "system")]).json()
    assert {r["user"] for r in by_user} == {"agent-0", "agent-1", "agent-2"}
    series = api.get("/metrics/series", params={"window": "1h", "system": SYSTEM}).json()
    assert series["step_seconds"] == 60
    assert sum(p["calls"] for p in series["points"]) == 13
    # A series has at most 200 points of at most a day: 200 days, where /metrics takes 400.
    assert api.get("/metrics/series", params={"window": "200d"}).json()["step_seconds"] == 86400
    too_long = api.get("/metrics/series", params={"window": "201d"})
    assert too_long.status_code == 400 and "200 days or fewer" in too_long.json()["detail"]
    assert api.get("/metrics", params={"window": "400d"}).status_code == 200
    assert "a series up to 200 days" in (Path(__file__).parents[2] / "docs" / "web.md"
                                         ).read_text()
    assert api.get("/alerts/states").json() == []
    assert api.get("/alerts/events").json() == []
    assert api.get(f"/systems/{SYSTEM}/drift").json() == []


def test_bad_input_is_a_clear_4xx(served):
    url, *_ = served
    api = httpx.Client(base_url=f"{url}/api/v1")
    missing = api.get("/systems/no-such-system")
    assert missing.status_code == 404 and "unknown system 'no-such-system'" in \
        missing.json()["detail"]
    assert api.get("/releases/ffffffffffff").status_code == 404
    assert api.get("/releases/not-hex").status_code == 422
    assert api.get("/calls", params={"limit": 5000}).status_code == 422
    assert api.get("/calls", params={"status": "maybe"}).status_code == 422
    assert api.get("/metrics", params={"window": "forever"}).status_code == 422
    too_long = api.get("/metrics", params={"window": "9999d"})
    assert too_long.status_code == 400 and "longer than 400 days" in too_long.json()["detail"]
    assert api.get("/metrics", params={"by": "tag"}).status_code == 400  # needs ?tag=KEY
    assert api.get("/calls", params={"since": "0001-01-01T00:00:00+05:00"}).status_code == 400
    unknown_env = api.post(f"/systems/{SYSTEM}/rollback", json={"env": "moon"})
    assert unknown_env.status_code == 400 and "unknown environment 'moon'" in unknown_env.text
    assert api.post(f"/systems/{SYSTEM}/rollback", json={"env": "production",
                                                         "surprise": 1}).status_code == 422
    form = api.post(f"/systems/{SYSTEM}/rollback", data={"env": "production"})
    assert form.status_code == 422  # the API takes JSON only
    assert api.get("/no-such-endpoint").status_code == 404


def test_keys_turn_login_on(served):
    url, ws, release = served
    key, secret = ws.create_key("deployer", env="production")
    api = httpx.Client(base_url=f"{url}/api/v1")
    # The key ring re-reads the keys every 2 s: from then on, every request needs one.
    anonymous = eventually(lambda: (r := api.get("/systems")).status_code == 401 and r)
    assert "Bearer" in anonymous.json()["detail"]
    assert api.get("/systems", headers={"Authorization": "Bearer nope"}).status_code == 401
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.get("/systems", headers=bearer).status_code == 200
    newer = new_release(ws)
    done = api.post(f"/systems/{SYSTEM}/promote", headers=bearer,
                    json={"release": newer.id, "env": "dev"})
    assert done.status_code == 200 and done.json()["deployment"]["actor"] == "key:deployer"
    assert ws.audit_log(action="deployment.promote")[-1].actor == "key:deployer"

    ws.revoke_key(key.id)
    refused = eventually(lambda: (r := api.get("/systems", headers=bearer)).status_code == 401
                         and r)
    assert "revoked" in refused.json()["detail"]


def test_a_key_limited_to_some_systems_changes_only_those(served):
    url, ws, release = served
    _, secret = ws.create_key("router-ci", env="production", systems=[SYSTEM])
    own = httpx.post(f"{url}/api/v1/systems/{SYSTEM}/promote",
                     headers={"Authorization": f"Bearer {secret}"},
                     json={"release": new_release(ws).id, "env": "dev"})
    assert own.status_code == 200, own.text
    elsewhere = ApiKey("k1", "billing-ci", "production", ["billing"], {},
                       datetime.now(UTC), "alice@example.com", None)
    with pytest.raises(HTTPException) as refused:
        Caller(elsewhere, "token").may_change(SYSTEM)
    assert refused.value.status_code == 403 and "billing-ci" in refused.value.detail


def test_security_headers_on_the_web_app_and_none_on_the_gateway(served):
    url, *_ = served
    page = httpx.get(f"{url}/api/v1/systems")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    # The gateway's routes never pass through the web app or its middleware.
    models = httpx.get(f"{url}/v1/models")
    assert models.status_code == 200 and "content-security-policy" not in models.headers
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    assert httpx.get(f"{url}/readyz").json() == {"status": "ready"}
    assert "trimtab_calls_total" in httpx.get(f"{url}/metrics").text


def test_cross_origin_changes_are_refused(served):
    url, *_ = served
    evil = httpx.post(f"{url}/api/v1/systems/{SYSTEM}/rollback", json={"env": "production"},
                      headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and "cross-origin" in evil.text
    fetched = httpx.post(f"{url}/api/v1/systems/{SYSTEM}/rollback",
                         json={"env": "production"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetched.status_code == 403


def test_local_mode_answers_loopback_names_only(served):
    url, *_ = served
    rebound = httpx.get(f"{url}/api/v1/systems", headers={"Host": "evil.example"})
    assert rebound.status_code == 403 and "local mode" in rebound.json()["detail"]
    port = url.rsplit(":", 1)[1]
    assert httpx.get(f"http://localhost:{port}/api/v1/systems").status_code == 200


def test_openapi_document_and_docs(served):
    url, *_ = served
    document = httpx.get(f"{url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    paths = document["paths"]
    for path in ("/api/v1/systems", "/api/v1/calls", "/api/v1/calls/{ref}",
                 "/api/v1/systems/{system}/promote", "/api/v1/audit/verify",
                 "/api/v1/metrics/series", "/api/v1/alerts/events", "/readyz"):
        assert path in paths, path
    assert not any(p.startswith("/systems") or p == "/" for p in paths)  # pages stay out
    docs = httpx.get(f"{url}/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui-bundle.js" in docs.text
    assert "<script>" not in docs.text  # no inline script: the CSP allows none


def test_users_tokens_and_roles(served):
    url, ws, release = served
    ws.add_user("alice@example.com", "admin")  # the first user ends single-user mode
    ws.add_user("vera@example.com", "viewer")
    ws.add_user("otto@example.com", "operator")
    _, viewer = ws.create_token(user="vera@example.com")
    _, operator = ws.create_token(user="otto@example.com")
    api = httpx.Client(base_url=f"{url}/api/v1")
    eventually(lambda: api.get("/systems").status_code == 401)
    assert api.get("/systems", headers={"Authorization": "Bearer ttu-x-y"}).status_code == 401

    as_viewer = {"Authorization": f"Bearer {viewer}"}
    assert api.get("/systems", headers=as_viewer).status_code == 200
    newer = new_release(ws)
    refused = api.post(f"/systems/{SYSTEM}/promote", headers=as_viewer,
                       json={"release": newer.id, "env": "dev"})
    assert refused.status_code == 403 and "needs operator" in refused.json()["detail"]
    assert ws.audit_log(action="access.denied")[-1].actor == "vera@example.com"

    done = api.post(f"/systems/{SYSTEM}/promote", headers={"Authorization": f"Bearer {operator}"},
                    json={"release": newer.id, "env": "dev"})
    assert done.status_code == 200, done.text
    assert done.json()["deployment"]["actor"] == "otto@example.com"


def test_a_browser_signs_in_with_a_token(served):
    url, ws, _ = served
    ws.add_user("alice@example.com", "admin")
    _, token = ws.create_token()
    # Cookies by hand: they are Secure, which browsers honour on loopback and httpx does not.
    browser = httpx.Client(base_url=url, follow_redirects=False)
    eventually(lambda: browser.get("/").status_code == 303)
    login = browser.get("/login", params={"next": "/audit"})
    assert login.status_code == 200
    csrf = login.cookies["trimtab_csrf"]
    jar = {"cookie": f"trimtab_csrf={csrf}"}
    refused = browser.post("/login", data={"key": token, "next": "/audit"}, headers=jar)
    assert refused.status_code == 400 and "csrf_token" in refused.text  # no CSRF field
    forged = browser.post("/login", data={"key": token, "csrf_token": "x" * 43}, headers=jar)
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    signed_in = browser.post("/login", data={"key": token, "next": "/audit",
                                             "csrf_token": csrf}, headers=jar)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/audit"
    cookie = signed_in.headers["set-cookie"]
    assert all(flag in cookie.lower() for flag in ("httponly", "samesite=strict", "secure"))
    session = cookie.split(";", 1)[0]
    jar = {"cookie": f"trimtab_csrf={csrf}; {session}"}
    page = browser.get("/audit", headers=jar)
    assert page.status_code == 200 and "alice@example.com" in page.text
    # The session cookie alone changes nothing: the API also wants the CSRF header.
    rollback = f"/api/v1/systems/{SYSTEM}/rollback"
    blocked = browser.post(rollback, json={"env": "production"}, headers=jar)
    assert blocked.status_code == 403 and "CSRF" in blocked.json()["detail"]
    allowed = browser.post(rollback, json={"env": "production"},
                           headers={**jar, "x-csrf-token": csrf})
    assert allowed.status_code == 400 and "no earlier release" in allowed.text  # it got in
    evil = browser.post("/login", data={"key": token, "next": "//evil.example",
                                        "csrf_token": csrf}, headers=jar)
    assert evil.headers["location"] == "/"  # never an open redirect


def test_a_signed_out_session_cookie_is_refused_on_reuse(served):
    url, ws, _ = served
    ws.add_user("alice@example.com", "admin")
    _, token = ws.create_token()
    browser = httpx.Client(base_url=url, follow_redirects=False)
    eventually(lambda: browser.get("/").status_code == 303)
    csrf = browser.get("/login").cookies["trimtab_csrf"]
    signed_in = browser.post("/login", data={"key": token, "csrf_token": csrf},
                             headers={"cookie": f"trimtab_csrf={csrf}"})
    session = signed_in.headers["set-cookie"].split(";", 1)[0]
    jar = {"cookie": f"trimtab_csrf={csrf}; {session}"}
    assert browser.get("/audit", headers=jar).status_code == 200
    assert browser.get("/api/v1/systems", headers=jar).status_code == 200
    out = browser.post("/logout", data={"csrf_token": csrf}, headers=jar)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    # The old cookie, replayed (a copy kept by someone else): refused on the server.
    again = browser.get("/audit", headers=jar)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")
    assert browser.get("/api/v1/systems", headers=jar).status_code == 401
    # The token itself still works, and a new sign-in makes a new session.
    assert browser.get("/api/v1/systems",
                       headers={"Authorization": f"Bearer {token}"}).status_code == 200
    tampered = session[:-3] + ("AAA" if not session.endswith("AAA") else "BBB")
    assert browser.get("/audit", headers={"cookie": tampered}).status_code == 303


def test_any_bearer_text_is_refused_when_users_exist_and_no_key_does(served):
    """Users turn login on while the key ring is open (no key): a made-up bearer must
    not become a caller acting as the person running the server."""
    url, ws, _ = served
    ws.add_user("alice@example.com", "admin")
    api = httpx.Client(base_url=f"{url}/api/v1")
    eventually(lambda: api.get("/systems").status_code == 401)
    made_up = {"Authorization": "Bearer not-a-key"}
    assert api.get("/systems", headers=made_up).status_code == 401
    refused = api.post(f"/systems/{SYSTEM}/rollback", json={"env": "production"},
                       headers=made_up)
    assert refused.status_code == 401 and "neither a live API token" in refused.text
    browser = httpx.Client(base_url=url, follow_redirects=False)
    csrf = browser.get("/login").cookies["trimtab_csrf"]
    login = browser.post("/login", data={"key": "not-a-key", "csrf_token": csrf},
                         headers={"cookie": f"trimtab_csrf={csrf}"})
    assert login.status_code == 401 and "set-cookie" not in login.headers


def test_a_gateway_key_only_reads_once_users_exist(served):
    """Intended: once people are users, every change is made by a person with a role
    (audited by name); a gateway key (a service credential) keeps reading."""
    url, ws, _ = served
    _, secret = ws.create_key("deployer", env="production")
    ws.add_user("alice@example.com", "admin")
    api = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {secret}"})
    newer = new_release(ws)
    # The key ring re-reads the keys every 2 s.
    eventually(lambda: api.get("/systems").status_code == 200)
    for path, body in [(f"/systems/{SYSTEM}/promote", {"release": newer.id, "env": "dev"}),
                       (f"/systems/{SYSTEM}/rollback", {"env": "production"})]:
        refused = api.post(path, json=body)
        assert refused.status_code == 403, refused.text
        assert "may read but not change" in refused.json()["detail"]
    assert ws.active_release(SYSTEM, "dev").id != newer.id
    assert api.get("/calls", params={"limit": 1}).status_code == 200


def test_pages_answer_bad_input_with_a_4xx_page(served):
    url, *_ = served
    for path, status in [
        ("/systems/no-such-system", 404),
        ("/systems/Not%20A%20Name", 400),  # a page answers bad input with a 400 page
        (f"/systems/{SYSTEM}?window=forever", 400),
        (f"/systems/{SYSTEM}?window=9999w", 400),
        ("/calls?since=yesterday", 400),
        ("/calls?since=0001-01-01T00:00:00%2B05:00", 400),
        ("/calls?status=maybe", 400),
        ("/calls?limit=0", 400),
        ("/calls/ffffffffffff", 404),
        ("/no/such/page", 404),
        ("/reviews/no-such-system", 404),
        ("/reviews/Not%20A%20Name", 400),
        ("/approvals?done=zz", 400),
        ("/approvals?done=ffffffff", 404),
        ("/incidents?all=maybe", 400),
    ]:
        answer = httpx.get(url + path)
        assert answer.status_code == status, (path, answer.status_code, answer.text[-300:])
        assert answer.headers["content-type"].startswith("text/html")
        assert "content-security-policy" in answer.headers


def new_release(ws):
    """A release not yet active anywhere, so promoting it to dev is a change."""
    prompt = ws.project_file.parent / "prompts" / f"{SYSTEM}.user.md"
    prompt.write_text(prompt.read_text() + "\nThank you.\n")
    return ws.release(SYSTEM)[0]
