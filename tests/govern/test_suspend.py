"""The kill switch: a suspended system answers its safe fallback everywhere, recorded
as `suspended`, audited, and reaches another process within a second."""

import json
import signal
import time

import httpx
import pytest

import trimtab
from tests.helpers import edit, promote_through
from tests.helpers.governance import as_user, with_users
from tests.helpers.processes import start

SYSTEM = "complaint-router"
VARS = {"customer": "ACME", "product": "pump", "text": "The seal leaks."}
BODY = {"model": f"trimtab/{SYSTEM}", "messages": [{"role": "user", "content": "It leaks."}]}


def declare(project_dir, safe: str) -> None:
    edit(project_dir / "trimtab.yaml", "    logging: redacted",
         f"    logging: redacted\n    when_suspended: {{{safe}}}")


@pytest.mark.parametrize(("safe", "finish"), [
    ('reply: "We are looking into it; a person will answer within a day."', "stop"),
    ('refusal: "This assistant is paused."', "content_filter"),
])
def test_sdk_calls_get_the_safe_answer_recorded_as_suspended(live, project_dir, safe, finish):
    ws, release = live
    declare(project_dir, safe)
    client = ws.system(SYSTEM, "production")
    normal = client.run(VARS)
    assert normal.provider == "simulated"
    held = ws.suspend(SYSTEM, "production", reason="wrong routing of safety complaints")
    answer = client.run(VARS)  # this process: at once
    assert answer.text == held.message and answer.finish_reason == finish
    assert answer.provider == "trimtab" and answer.release_id == release.id
    assert ws.flush()
    call = ws.call(answer.call_id)
    assert call.status == "suspended" and call.model == "suspended"
    assert [s.env for s in ws.suspensions()] == ["production"]
    ws.resume(SYSTEM, "production", reason="fixed")
    assert client.run(VARS).provider == "simulated"
    actions = [e.action for e in ws.audit_log(system=SYSTEM)][-2:]
    assert actions == ["system.suspend", "system.resume"]


def test_an_error_fallback_raises_what_the_application_catches(live, project_dir):
    ws, _ = live
    declare(project_dir, 'error: "complaint routing is stopped"')
    ws.suspend(SYSTEM, "production", reason="incident 42")
    with pytest.raises(trimtab.SystemSuspended, match="complaint routing is stopped"):
        ws.system(SYSTEM, "production").run(VARS)
    assert ws.flush()
    [call] = [c for c in ws.calls(system=SYSTEM) if c.status == "suspended"]
    assert call.error_kind == "suspended"


def test_without_a_declared_answer_calls_fail_naming_the_fix(live):
    ws, _ = live
    ws.suspend(SYSTEM, "production", reason="incident")
    with pytest.raises(trimtab.SystemSuspended, match="when_suspended"):
        ws.system(SYSTEM, "production").run(VARS)


def test_streams_get_the_safe_answer_too(live, project_dir):
    import asyncio

    ws, _ = live
    declare(project_dir, 'reply: "paused"')
    ws.suspend(SYSTEM, "production", reason="incident")

    async def chunks():
        return [c async for c in ws.system(SYSTEM, "production").astream(VARS)]

    got = asyncio.run(chunks())
    assert "".join(c.content or "" for c in got) == "paused"


def test_a_gateway_in_another_process_answers_the_fallback_within_a_second(
        project_dir, database_url):
    declare(project_dir, 'reply: "We are on it."')
    edit(project_dir / "trimtab.yaml", "latency: {median_ms: 40, p95_ms: 120}",
         "latency: {median_ms: 2, p95_ms: 5}")
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        release, _ = ws.release(SYSTEM)
        promote_through(ws, SYSTEM, release.id, "production")
    gateway, url = start(project_dir, database_url, "gateway")
    try:
        assert httpx.post(f"{url}/v1/chat/completions", json=BODY,
                          timeout=10).json()["model"] != "suspended"
        with trimtab.connect(project_dir, database_url=database_url) as ws:
            ws.suspend(SYSTEM, "production", reason="incident")
        time.sleep(1.0)  # idle: the change signal alone must carry it
        answer = httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["choices"][0]["message"]["content"] == "We are on it."
        with trimtab.connect(project_dir, database_url=database_url) as ws:
            ws.resume(SYSTEM, "production", reason="fixed")
        time.sleep(1.0)
        answer = httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=10)
        assert answer.json()["choices"][0]["message"]["content"] != "We are on it."
    finally:
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.communicate(timeout=30)
        except Exception:  # noqa: BLE001
            gateway.kill()
            gateway.wait(10)


def test_gateway_error_fallback_is_a_503(project_dir, database_url):
    declare(project_dir, 'error: "stopped"')
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        release, _ = ws.release(SYSTEM)
        promote_through(ws, SYSTEM, release.id, "production")
        ws.suspend(SYSTEM, "production", reason="incident")
    gateway, url = start(project_dir, database_url, "gateway")
    try:
        answer = httpx.post(f"{url}/v1/chat/completions", json=BODY, timeout=10)
        assert answer.status_code == 503 and "stopped" in answer.text
        assert answer.json()["error"]["code"] == "system_suspended"
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.communicate(timeout=30)


def test_cli_and_roles(cli, monkeypatch, project_dir):
    declare(project_dir, 'refusal: "paused"')
    edit(project_dir / "trimtab.yaml", "risk: limited", "risk: high")
    cli("release", SYSTEM)
    with_users(cli, monkeypatch)
    as_user(monkeypatch, "reviewer@example.com")
    assert "needs operator" in cli("suspend", SYSTEM, "--env", "production", "--reason", "x",
                                   expect=2).output
    as_user(monkeypatch, "operator@example.com")
    out = cli("suspend", SYSTEM, "--env", "production", "--reason", "incident 7").stdout
    assert "suspended" in out and "refusal" in out
    assert "already suspended" in cli("suspend", SYSTEM, "--env", "production", "--reason",
                                      "x", expect=2).output
    rows = json.loads(cli("suspended", "--json").stdout)
    assert [(r["system"], r["env"], r["reason"]) for r in rows] == [
        (SYSTEM, "production", "incident 7")]
    # high risk: resuming needs an approver
    assert "needs approver" in cli("resume", SYSTEM, "--env", "production", "--reason", "ok",
                                   expect=2).output
    as_user(monkeypatch, "approver@example.com")
    assert "resumed" in cli("resume", SYSTEM, "--env", "production", "--reason", "ok").stdout
    assert "nothing is suspended" in cli("suspended").stdout
    assert "not suspended" in cli("resume", SYSTEM, "--env", "production", "--reason", "ok",
                                  expect=2).output


def test_when_suspended_needs_exactly_one_answer(cli, project_dir):
    declare(project_dir, 'reply: "a", error: "b"')
    result = cli("validate", expect=2)
    assert "when_suspended" in result.output and "exactly one" in result.output
