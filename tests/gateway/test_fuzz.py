"""Property-based fuzz of the gateway's two write endpoints: bad client input never yields
a 5xx, and every answered call (a 200) is in the store.

Bodies mix the well-formed with what clients and attackers send: lone surrogates
(``"\\ud800"``), nesting hundreds or thousands deep, huge arrays, odd numbers (2**70,
1e400, NaN, -0.0), wrong types anywhere and strings past the limits. Derandomised and
bounded (150 examples per endpoint and store), so CI runs the same quick examples each
time; each store is both SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trimtab
from tests.helpers import edit, promote_through
from tests.helpers.gateway_server import running_gateway

SYSTEM = "complaint-router"
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

# --- values -----------------------------------------------------------------------------

SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udc80b", "\ud83d", "ok \ud800\udc00"])
TEXT = st.one_of(st.text(max_size=40), SURROGATES, st.sampled_from(["", "x" * 300]))
NUMBERS = st.one_of(st.integers(-2**80, 2**80), st.floats(allow_nan=False, allow_infinity=False),
                    st.sampled_from([0, -0.0, 2**63, 2**64 + 1, 1e308, 5e-324]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
ANY = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)


def deep(depth: int, leaf: object = 1) -> object:
    """Arrays and objects ``depth`` deep (built by hand: no recursion to run out of)."""
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


DEEP = st.sampled_from([5, 63, 65, 200, 900]).map(deep)
HUGE = st.sampled_from([3000, 10_001, 40_000]).map(lambda n: [1] * n)
FIELD_VALUE = st.one_of(ANY, DEEP, HUGE)

# --- bodies -----------------------------------------------------------------------------

MESSAGE = st.fixed_dictionaries(
    {"role": st.one_of(st.sampled_from(["user", "system", "assistant", "tool"]), ANY)},
    optional={"content": st.one_of(TEXT, st.lists(st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image_url"]), "text": TEXT}), max_size=2), ANY, DEEP),
        "name": ANY, "tool_calls": st.one_of(st.lists(ANY, max_size=2), DEEP),
        "tool_call_id": ANY})
MESSAGES = st.one_of(st.lists(MESSAGE, max_size=3), st.sampled_from([2049, 50_000]).map(
    lambda n: [{"role": "user", "content": "hi"}] * n), ANY)
#: Well-typed bodies with odd values, so that many calls are answered (and must be recorded).
VALID_CHAT = st.fixed_dictionaries(
    {"model": st.sampled_from([f"trimtab/{SYSTEM}", "simulated/sim-1"]),
     "messages": st.lists(st.fixed_dictionaries({"role": st.just("user"), "content": TEXT}),
                          min_size=1, max_size=3)},
    optional={"stream": st.booleans(), "temperature": st.floats(0, 2), "user": TEXT,
              "seed": st.integers(-2**80, 2**80), "metadata": st.dictionaries(TEXT, TEXT),
              "tools": st.lists(st.fixed_dictionaries({
                  "type": st.just("function"),
                  "function": st.fixed_dictionaries({"name": TEXT}, optional={
                      "parameters": st.one_of(DEEP, st.dictionaries(TEXT, ANY)).filter(
                          lambda v: isinstance(v, dict))})}), max_size=2),
              "x-unknown": FIELD_VALUE})
WILD_CHAT = st.fixed_dictionaries(
    {"model": st.one_of(st.sampled_from([f"trimtab/{SYSTEM}", "simulated/sim-1"]), ANY),
     "messages": MESSAGES},
    optional={"stream": st.one_of(st.booleans(), ANY), "temperature": st.one_of(NUMBERS, ANY),
              "max_tokens": st.one_of(NUMBERS, ANY), "user": TEXT, "seed": NUMBERS,
              "metadata": FIELD_VALUE, "tools": FIELD_VALUE, "variables": FIELD_VALUE,
              "stop": ANY, "response_format": ANY, "x-unknown": FIELD_VALUE})
CHAT = st.one_of(VALID_CHAT, WILD_CHAT)
RECORD = st.fixed_dictionaries(
    {"system": st.one_of(st.just(SYSTEM), ANY), "latency_ms": st.one_of(NUMBERS, ANY)},
    optional={"inputs": FIELD_VALUE, "output": FIELD_VALUE, "model": TEXT, "user": TEXT,
              "tags": st.one_of(st.dictionaries(TEXT, TEXT, max_size=3), ANY),
              "input_tokens": NUMBERS, "cost_micro_usd": NUMBERS, "http_status": NUMBERS,
              "ttft_ms": NUMBERS, "status": st.one_of(st.just("error"), ANY),
              "error": TEXT, "time": st.sampled_from([
                  "2025-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00",
                  "0001-01-01T00:00:00+14:00", "2025-01-01T00:00:00"]),
              "id": st.one_of(st.uuids().map(lambda u: u.hex), TEXT)})
#: Well-typed records with odd values, so that many are kept (and must be stored).
VALID_RECORD = st.fixed_dictionaries(
    {"system": st.just(SYSTEM), "latency_ms": st.floats(0, 1e8)},
    optional={"inputs": st.one_of(ANY, DEEP), "output": ANY, "user": st.text(max_size=200),
              "tags": st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=3),
              "input_tokens": st.integers(0, 2**31 - 1), "status": st.just("error"),
              "cost_micro_usd": st.integers(0, 2**63 - 1), "error": st.text()})
RECORDS = st.one_of(VALID_RECORD, st.lists(VALID_RECORD, min_size=1, max_size=3), RECORD,
                    st.lists(RECORD, max_size=3), ANY)
#: Raw bodies JSON encoders will not write: NaN, 1e400, nesting past any recursion limit.
RAW = st.sampled_from([
    b'{"model": "trimtab/complaint-router", "messages": [], "temperature": NaN}',
    b'{"system": "complaint-router", "latency_ms": 1e400}',
    b'{"system": "complaint-router", "latency_ms": Infinity}',
    b'{"model": "trimtab/complaint-router", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b"[" * 100_000 + b"]" * 100_000, b'"\\ud800"', b"\xff\xfe", b"", b"null", b"[]",
])


def encoded(body: object) -> bytes:
    """As a client would send it: surrogates as \\u escapes (ensure_ascii), NaN as NaN."""
    return json.dumps(body, ensure_ascii=True).encode()


# --- the test ---------------------------------------------------------------------------


@pytest.fixture
def gateway(project_dir, database_url):
    # No simulated latency: the fuzz is about the gateway, not waiting.
    edit(project_dir / "trimtab.yaml", "latency: {median_ms: 40, p95_ms: 120}",
         "latency: {median_ms: 0}")
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        release, _ = ws.release(SYSTEM)
        promote_through(ws, SYSTEM, release.id, "production")
        with running_gateway(ws) as url, httpx.Client(base_url=url, timeout=60) as client:
            answered: list[str] = []
            yield client, answered
            assert ws.flush()
            stored = {call.id for call in ws.calls(limit=100_000)}
    assert len(answered) >= 10, "the fuzz hardly reached an answered call: widen it"
    missing = [call_id for call_id in answered if call_id not in stored]
    assert not missing, f"{len(missing)} answered calls were never recorded: {missing[:5]}"


def post(client: httpx.Client, path: str, raw: bytes) -> httpx.Response:
    answer = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert answer.status_code < 500, (raw[:300], answer.status_code, answer.text[:500])
    if answer.status_code == 200 or answer.status_code >= 400:
        if "text/event-stream" not in answer.headers.get("content-type", ""):
            answer.json()  # every answer, error or not, is JSON a client can read
    return answer


def fuzz(gateway, path: str, bodies: st.SearchStrategy[bytes], answered_ids) -> None:
    """Post each body; ``answered_ids(answer)`` names the calls a 200 acknowledged."""
    client, answered = gateway

    @FUZZ
    @given(body=bodies)
    def run(body: bytes) -> None:
        answer = post(client, path, body)
        if answer.status_code == 200:
            answered.extend(answered_ids(answer))

    run()


def test_chat_completions_never_fail_with_5xx_and_record_every_answer(gateway):
    fuzz(gateway, "/v1/chat/completions", st.one_of(CHAT.map(encoded), RAW),
         lambda answer: [answer.headers["x-trimtab-call-id"]])


def test_records_never_fail_with_5xx_and_keep_every_acknowledged_record(gateway):
    fuzz(gateway, "/api/v1/records", st.one_of(RECORDS.map(encoded), RAW),
         lambda answer: answer.json()["ids"])
