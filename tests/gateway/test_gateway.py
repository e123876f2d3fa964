"""The gateway with the official openai client, on the example `trimtab init` writes.

Every test runs a real uvicorn server on loopback, on SQLite and on PostgreSQL, and
checks the call in the store afterwards: what the client got back is what was recorded.
"""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from openai import OpenAI

from tests.helpers import edit, promote_through
from tests.helpers.gateway_server import running_gateway

SYSTEM = "complaint-router"
MODEL = f"trimtab/{SYSTEM}"
COMPLAINT = {"customer": "ACME GmbH", "product": "K-200",
             "text": "The charger sparks when plugged in. Mail me at jo@example.com"}


def client(url: str, key: str = "unused") -> OpenAI:
    return OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


def call_id_of(completion_id: str) -> str:
    assert completion_id.startswith("chatcmpl-")
    return completion_id.removeprefix("chatcmpl-")


def test_openai_client_calls_a_system_and_the_call_is_recorded(live):
    ws, release = live
    key, secret = ws.create_key("crm-backend", env="production", tags={"team": "support"})
    with running_gateway(ws) as url:
        raw = client(url, secret).chat.completions.with_raw_response.create(
            model=MODEL, user="agent-7",
            messages=[{"role": "user", "content": "The charger sparks when plugged in."}],
            extra_headers={"X-Trimtab-Tags": "channel=email,team=spoofed"})
    answer = raw.parse()
    assert json.loads(answer.choices[0].message.content)["team"] == "electrical"
    assert answer.model == "sim-router-1" and answer.usage.total_tokens > 0
    call_id = call_id_of(answer.id)
    assert raw.headers["x-trimtab-call-id"] == call_id
    assert raw.headers["x-trimtab-release"] == release.id
    assert ws.flush()

    call = ws.call(call_id)
    assert (call.system, call.env, call.release_id, call.source, call.route) == (
        SYSTEM, "production", release.id, "gateway", "primary")
    assert (call.user_id, call.api_key_id) == ("agent-7", key.id)
    # The key's attribution wins over what the client sends.
    assert json.loads(call.tags) == {"channel": "email", "team": "support"}
    assert call.output_tokens == answer.usage.completion_tokens
    # The release's governed system prompt went in front of the client's message.
    stored = json.loads(call.request)
    assert [m["role"] for m in stored["messages"]] == ["system", "user"]
    assert stored["messages"][0]["content"].startswith("You route customer quality complaints")


def test_extra_body_variables_fill_the_release_prompts(live):
    ws, _ = live
    with running_gateway(ws) as url:
        answer = client(url).chat.completions.create(
            model=MODEL, messages=[], extra_body={"variables": COMPLAINT})
        missing = httpx.post(f"{url}/v1/chat/completions", json={
            "model": MODEL, "messages": [], "variables": {"customer": "x"}})
    assert json.loads(answer.choices[0].message.content)["severity"] == "high"
    assert missing.status_code == 400
    assert missing.json()["error"]["param"] == "variables"
    assert "missing variables 'product', 'text'" in missing.json()["error"]["message"]
    ws.flush()
    call = ws.call(call_id_of(answer.id))
    stored = json.loads(call.request)
    assert stored["variables"]["product"] == "K-200"
    assert "jo@example.com" not in call.request  # the example logs `redacted`
    assert [m["role"] for m in stored["messages"]] == ["system", "user"]


def test_streaming_with_usage_is_recorded_before_done(live):
    ws, release = live
    with running_gateway(ws) as url:
        stream = client(url).chat.completions.create(
            model=MODEL, stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "The seal leaks after a week."}])
        chunks = list(stream)
        plain = list(client(url).chat.completions.create(
            model=MODEL, stream=True, messages=[{"role": "user", "content": "hinge broke"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text)["team"] == "packaging"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in plain)  # usage only when asked for, as OpenAI does
    assert {c.id for c in chunks} == {chunks[0].id}
    ws.flush()
    call = ws.call(call_id_of(chunks[0].id))
    assert call.status == "ok" and call.source == "gateway" and call.release_id == release.id
    assert call.output_tokens == chunks[-1].usage.completion_tokens
    assert call.ttft_ms is not None and call.ttft_ms > 0
    assert json.loads(call.response)["team"] == "packaging"


def test_models_lists_every_system(live):
    ws, _ = live
    with running_gateway(ws) as url:
        models = client(url).models.list()
        one = client(url).models.retrieve(MODEL)
    assert [m.id for m in models.data] == [MODEL]
    assert one.owned_by == "trimtab"


CLASSIC = """
  churn-model:
    description: Predicts which customers will not renew.
    owner: data-team@example.com
    kind: classic
    tier: 3
    risk: minimal
    release:
      artefacts:
        model: models/churn.joblib
"""


def test_models_leaves_out_classic_models_and_start_names_unreleased_systems(
        ws, project_dir, caplog, monkeypatch):
    """A classic model is recorded, never chatted with; a system with nothing active
    is named at start, not discovered by the first failing call. The start reads the
    deployments once, for that warning and for the metric series that start at zero."""
    (project_dir / "models").mkdir()
    (project_dir / "models" / "churn.joblib").write_bytes(b"a fitted model")
    edit(project_dir / "trimtab.yaml", "systems:\n", "systems:\n" + CLASSIC.lstrip("\n"))
    release, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, release.id, "staging")
    reads, status = [], ws.status
    monkeypatch.setattr(ws, "status",
                        lambda: reads.append(threading.current_thread().name) or status())
    with caplog.at_level("WARNING", logger="trimtab.gateway"):
        with running_gateway(ws) as url:
            models = client(url).models.list()
            with pytest.raises(Exception, match="is not served here"):
                client(url).models.retrieve("trimtab/churn-model")
    assert [m.id for m in models.data] == [MODEL]
    # the start reads them once; the release watcher re-reads them in its own thread
    # (at its first look, then after each change) for the series of later releases
    assert len([name for name in reads if name != "trimtab-active"]) == 1
    notes = [r.getMessage() for r in caplog.records if "no active release" in r.getMessage()]
    assert notes == [f"trimtab: system {SYSTEM!r} has no active release in production: calls "
                     f"to {MODEL} there fail until one is promoted (trimtab release {SYSTEM}, "
                     f"then trimtab promote {SYSTEM} RELEASE --env ENV)"]


def test_a_broken_edit_of_the_project_file_keeps_the_gateway_serving(live, project_dir,
                                                                     monkeypatch, caplog):
    from trimtab import workspace

    ws, _ = live
    monkeypatch.setattr(workspace, "PROJECT_TTL", 0.0)  # look at the file on every request
    path = project_dir / "trimtab.yaml"
    with running_gateway(ws) as url:
        path.write_text(path.read_text() + "\nsystems: [unclosed\n")
        answer = client(url).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "it rattles"}])
        models = client(url).models.list()
    assert answer.choices[0].message.content and [m.id for m in models.data] == [MODEL]
    assert "still using the last good version of trimtab.yaml" in caplog.text


def test_metrics_and_health(live):
    ws, _ = live
    with running_gateway(ws) as url:
        client(url).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "it rattles"}])
        scrape = httpx.get(f"{url}/metrics")
        health = httpx.get(f"{url}/healthz")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    # Deployed releases' series start at zero (dev and staging too): take production's.
    line = next(x for x in scrape.text.splitlines()
                if x.startswith("trimtab_calls_total{") and 'outcome="ok"' in x
                and 'env="production"' in x)
    assert f'system="{SYSTEM}"' in line and 'env="production"' in line
    assert line.endswith(" 1.0")
    assert health.json() == {"status": "ok", "auth": "open",
                             "recording": {"status": "ok", "dropped": 0}}


def test_canary_split_is_sticky_per_user(live, project_dir):
    ws, stable = live
    edit(project_dir / "trimtab.yaml", "model: sim-router-1", "model: sim-router-2")
    candidate, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, candidate.id, "production", canary=50)
    ws.active.invalidate()
    seen: dict[str, set[str]] = {}
    with running_gateway(ws) as url:
        for _ in range(2):
            for i in range(20):
                raw = client(url).chat.completions.with_raw_response.create(
                    model=MODEL, messages=[{"role": "user", "content": "cable is loose"}],
                    extra_headers={"X-Trimtab-User": f"user-{i}"})
                seen.setdefault(f"user-{i}", set()).add(raw.headers["x-trimtab-release"])
                assert raw.headers["x-trimtab-route"] in ("primary", "canary")
    assert all(len(releases) == 1 for releases in seen.values())  # sticky
    served = {r for releases in seen.values() for r in releases}
    assert served == {stable.id, candidate.id}
    ws.flush()
    canary = [c for c in ws.calls(limit=100) if c.route == "canary"]
    assert canary and {c.release_id for c in canary} == {candidate.id}
    assert {c.model for c in canary} == {"sim-router-2"}


def test_shadow_is_called_and_recorded_but_never_answers(live, project_dir):
    ws, stable = live
    edit(project_dir / "trimtab.yaml", "model: sim-router-1", "model: sim-router-2")
    candidate, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, candidate.id, "production", shadow=100)
    ws.active.invalidate()
    with running_gateway(ws) as url:
        answers = [client(url).chat.completions.create(
            model=MODEL, user=f"u{i}", messages=[{"role": "user", "content": "smoke!"}])
            for i in range(4)]
        streamed = list(client(url).chat.completions.create(
            model=MODEL, stream=True, messages=[{"role": "user", "content": "smoke!"}]))
    assert {a.model for a in answers} == {"sim-router-1"}
    assert {c.model for c in streamed} == {"sim-router-1"}
    ws.flush()
    calls = ws.calls(limit=100)
    shadows = [c for c in calls if c.route == "shadow"]
    assert len(shadows) == 5 and {c.release_id for c in shadows} == {candidate.id}
    assert {c.source for c in shadows} == {"gateway"}
    answered = {call_id_of(a.id) for a in answers}
    assert answered.isdisjoint({c.id for c in shadows})
    assert {c.release_id for c in calls if c.id in answered} == {stable.id}


# --- POST /api/v1/records ----------------------------------------------------------


def test_records_api_keeps_calls_made_elsewhere(live):
    ws, release = live
    one = {"system": SYSTEM, "inputs": {"text": "hinge"}, "output": {"team": "mechanical"},
           "latency_ms": 12.5, "model": "churn-xgb-3", "user": "u1", "tags": {"app": "java"},
           "input_tokens": 10, "output_tokens": 3, "cost_micro_usd": 42,
           "response_id": "resp-1", "finish_reasons": ["stop", "length"],
           "params": {"temperature": 0}}
    many = [{"system": SYSTEM, "inputs": [1, 2], "output": 0.7, "latency_ms": 3,
             "env": "staging", "status": "error", "error": "timeout",
             "time": "2026-01-02T03:04:05+00:00", "id": "0" * 31 + "1"},
            {"system": SYSTEM, "inputs": None, "output": None, "latency_ms": 0}]
    with running_gateway(ws) as url:
        single = httpx.post(f"{url}/api/v1/records", json=one,
                            headers={"X-Trimtab-User": "ignored-when-body-has-one"})
        batch = httpx.post(f"{url}/api/v1/records", json=many)
        again = httpx.post(f"{url}/api/v1/records", json=many[:1])  # a retried batch
    assert single.status_code == 200 and len(single.json()["ids"]) == 1
    assert batch.json()["ids"][0] == "0" * 31 + "1" and len(batch.json()["ids"]) == 2
    assert again.status_code == 200
    assert ws.flush()
    kept = ws.call(single.json()["ids"][0])
    assert (kept.system, kept.env, kept.source, kept.release_id) == (
        SYSTEM, "production", "record", release.id)
    assert (kept.model, kept.user_id, kept.cost_micro_usd, kept.latency_ms) == (
        "churn-xgb-3", "u1", 42, 12.5)
    assert json.loads(kept.tags) == {"app": "java"}
    assert (kept.response_id, json.loads(kept.finish_reasons), json.loads(kept.params)) == (
        "resp-1", ["stop", "length"], {"temperature": 0})
    failed = ws.call("0" * 31 + "1")
    assert (failed.env, failed.status, failed.error) == ("staging", "error", "timeout")
    assert failed.time.year == 2026 and failed.time.month == 1
    assert len(ws.calls(limit=100)) == 3  # the retried record was not doubled


@pytest.mark.parametrize("body, param, status", [
    ({"inputs": 1, "output": 2, "latency_ms": 1}, "system", 400),
    ({"system": SYSTEM, "latency_ms": "fast"}, "latency_ms", 400),
    ({"system": SYSTEM, "latency_ms": -1}, "latency_ms", 400),
    ({"system": SYSTEM, "latency_ms": 1, "status": "meh"}, "status", 400),
    ({"system": SYSTEM, "latency_ms": 1, "colour": "red"}, "colour", 400),
    ({"system": SYSTEM, "latency_ms": 1, "tags": {"a": 1}}, "tags.a", 400),
    ({"system": SYSTEM, "latency_ms": 1, "time": "yesterday"}, "time", 400),
    ({"system": SYSTEM, "latency_ms": 1, "time": "2026-01-01T00:00:00"}, "time", 400),
    ({"system": SYSTEM, "latency_ms": 1, "id": "not-hex"}, "id", 400),
    ({"system": SYSTEM, "latency_ms": 1, "env": "prod"}, "env", 400),
    ({"system": SYSTEM, "latency_ms": 1, "finish_reasons": "stop"}, "finish_reasons", 400),
    ({"system": SYSTEM, "latency_ms": 1, "response_id": ""}, "response_id", 400),
    ({"system": SYSTEM, "latency_ms": 1, "params": [1]}, "params", 400),
    ({"system": "complaint-routr", "latency_ms": 1}, "system", 404),
    ([{"system": SYSTEM, "latency_ms": 1}, {"system": SYSTEM}], "[1].latency_ms", 400),
    ([{"system": SYSTEM, "latency_ms": 1}, "nope"], "[1]", 400),
    ([], None, 400),
    ("a string", None, 400),
])
def test_records_api_names_the_bad_field_and_keeps_nothing(live, body, param, status):
    ws, _ = live
    with running_gateway(ws) as url:
        answer = httpx.post(f"{url}/api/v1/records", json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["param"] == param and error["message"]
    assert ws.flush()
    assert ws.calls() == []
