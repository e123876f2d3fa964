"""Bad client input is a 400 in OpenAI's format before any provider is called, never a
500, and a call the provider answered is always recorded (tests/gateway/test_fuzz.py
searches for more)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.helpers import edit

SYSTEM = "complaint-router"
MODEL = f"trimtab/{SYSTEM}"


def deep(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"k": [value]}
    return value


@pytest.fixture
def gateway(live):
    from tests.helpers.gateway_server import running_gateway

    ws, _ = live
    with running_gateway(ws) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield ws, http


def chat(http: httpx.Client, raw: bytes | dict, **headers) -> httpx.Response:
    body = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    return http.post("/v1/chat/completions", content=body, headers=headers)


def error_of(answer: httpx.Response) -> dict:
    assert answer.status_code == 400, answer.text
    return answer.json()["error"]


@pytest.mark.parametrize("where", ["content", "tools", "metadata", "user"])
def test_a_lone_surrogate_anywhere_is_a_400_and_nothing_is_called(gateway, where):
    ws, http = gateway
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    if where == "content":
        body["messages"][0]["content"] = "broken \ud800 text"
    elif where == "tools":
        body["tools"] = [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "description": "\udfff"}}}]
    elif where == "metadata":
        body["metadata"] = {"\ud83d": "x"}
    else:
        body["user"] = "agent-\ud800"
    error = error_of(chat(http, json.dumps(body, ensure_ascii=True).encode()))
    assert (error["code"], error["type"]) == ("invalid_unicode", "invalid_request_error")
    assert ws.flush() and ws.calls(limit=5) == []


@pytest.mark.parametrize("field", ["tools", "metadata", "x_extra"])
def test_json_nested_900_deep_is_a_400_naming_where(gateway, field):
    ws, http = gateway
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], field: deep(450)}
    error = error_of(chat(http, body))
    assert error["code"] == "nested_too_deeply" and error["param"].startswith(field)
    assert "gateway.limits.max_depth" in error["message"]
    assert ws.flush() and ws.calls(limit=5) == []


def test_raw_bodies_json_encoders_refuse_are_400s(gateway):
    _, http = gateway
    for raw in (b'{"model": "trimtab/complaint-router", "messages": ' + b"[" * 5000
                + b"]" * 5000 + b"}", b'{"model": "trimtab/complaint-router", "messages": [], '
                b'"temperature": NaN}', b'["\\ud800"]'):
        assert error_of(chat(http, raw))["code"] in ("invalid_json", "invalid_unicode")


def test_a_number_past_a_doubles_range_is_refused_not_stored_as_null(gateway):
    """1e999 parses as Infinity, which JSON cannot carry: a 400, as a literal Infinity is."""
    ws, http = gateway
    for literal in (b"1e999", b"-1E+400", b"1" + b"0" * 400 + b".5"):
        record = http.post("/api/v1/records", content=b'{"system": "complaint-router", '
                           b'"latency_ms": 1, "inputs": {"x": [1, ' + literal + b"]}}")
        assert error_of(record)["code"] == "invalid_json", literal
        assert "too large for a 64-bit float" in error_of(record)["message"]
    big = chat(http, b'{"model": "trimtab/complaint-router", "messages": [{"role": "user", '
               b'"content": "hi"}], "x_extra": 1e400}')
    assert error_of(big)["code"] == "invalid_json"
    fine = http.post("/api/v1/records", content=b'{"system": "complaint-router", '
                     b'"latency_ms": 1, "inputs": {"x": 1e308, "y": 1e-999, "e100": "e100"}}')
    assert fine.status_code == 200, fine.text
    assert ws.flush() and [json.loads(c.request) for c in ws.calls(limit=5)] == [
        {"x": 1e308, "y": 0.0, "e100": "e100"}]


def test_tags_are_bounded_in_the_header_as_in_the_body(gateway):
    """X-Trimtab-Tags holds at most gateway.limits.max_items tags, as a body's ``tags``
    does; a tag's key and value at most what the cost rollups keep."""
    ws, http = gateway
    record = {"system": SYSTEM, "latency_ms": 1, "inputs": {"x": 1}}
    many = ",".join(f"t{i}=v" for i in range(10_001))
    hello = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    for answer in (http.post("/api/v1/records", json=record, headers={"X-Trimtab-Tags": many}),
                   chat(http, hello, **{"X-Trimtab-Tags": many})):
        error = error_of(answer)
        assert error["code"] == "array_above_max_length"
        assert error["param"] == "X-Trimtab-Tags" and "max_items" in error["message"]
    long_value = http.post("/api/v1/records", json=record,
                           headers={"X-Trimtab-Tags": "team=" + "x" * 201})
    assert error_of(long_value)["param"] == "X-Trimtab-Tags"
    assert "at most 96 and 200" in error_of(long_value)["message"]
    in_body = http.post("/api/v1/records", json={**record, "tags": {"team": "x" * 2_000_000}})
    assert error_of(in_body)["param"].startswith("tags")
    key_in_body = http.post("/api/v1/records", json={**record, "tags": {"k" * 97: "v"}})
    assert error_of(key_in_body)["param"].startswith("tags")
    fine = http.post("/api/v1/records", json={**record, "tags": {"k" * 96: "v" * 200}},
                     headers={"X-Trimtab-Tags": "team=support, channel=email"})
    assert fine.status_code == 200, fine.text
    assert ws.flush() and [json.loads(c.tags) for c in ws.calls(limit=5)] == [
        {"team": "support", "channel": "email", "k" * 96: "v" * 200}]


def test_header_and_body_tags_together_are_bounded_as_each_is(live, project_dir):
    """A record's tags from X-Trimtab-Tags and from its body are merged: together they
    hold at most gateway.limits.max_items, or sending both would double the bound. A
    name in both counts once; the key's own tags are the operator's and come on top."""
    from tests.helpers.gateway_server import running_gateway

    ws, _ = live
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write("gateway:\n  limits: {max_items: 5}\n")
    _, secret = ws.create_key("crm", env="production", tags={"team": "qa"})
    header = {"X-Trimtab-Tags": "a=1,b=2,c=3", "Authorization": f"Bearer {secret}"}
    record = {"system": SYSTEM, "latency_ms": 1, "tags": {"d": "4", "e": "5", "f": "6"}}
    with running_gateway(ws) as url, httpx.Client(base_url=url, timeout=60) as http:
        error = error_of(http.post("/api/v1/records", json=[record, record], headers=header))
        overlap = http.post("/api/v1/records", json={**record, "tags": {"a": "x", "d": "4"}},
                            headers=header)
        five = http.post("/api/v1/records", json={**record, "tags": {"d": "4", "e": "5"}},
                         headers=header)
    assert (error["code"], error["param"]) == ("array_above_max_length", "[0].tags")
    assert "6 tags with those of X-Trimtab-Tags; at most 5 (gateway.limits.max_items)" in (
        error["message"])
    assert overlap.status_code == five.status_code == 200, (overlap.text, five.text)
    assert ws.flush() and [json.loads(c.tags) for c in ws.calls(limit=5)] == [
        {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "team": "qa"},
        {"a": "x", "b": "2", "c": "3", "d": "4", "team": "qa"}]


def test_a_body_trickled_in_is_cut_off_at_the_deadline(gateway, monkeypatch):
    """A byte every 0.3 s would hold the connection for ever: 408 once the body has
    taken BODY_SECONDS (30 s; 1 s here), and the connection is closed."""
    import socket
    import time
    from urllib.parse import urlsplit

    from trimtab.gateway import app

    monkeypatch.setattr(app, "BODY_SECONDS", 1.0)
    _, http = gateway
    where = urlsplit(str(http.base_url))
    started = time.monotonic()
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        sock.sendall(f"POST /api/v1/records HTTP/1.1\r\nHost: {where.netloc}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n".encode())
        answer = b""
        for byte in b'{"system": ':
            sock.sendall(bytes([byte]))
            time.sleep(0.3)
            sock.setblocking(False)
            try:
                answer += sock.recv(65536)
                break
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
        while data := sock.recv(65536):  # then the server closes the connection
            answer += data
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"code":"body_timeout"' in answer.replace(b" ", b"")
    assert b"did not arrive within 1 s" in answer
    assert time.monotonic() - started < 5


def test_400000_messages_are_refused_on_their_count(gateway):
    _, http = gateway
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}] * 400_000}
    error = error_of(chat(http, body))
    assert (error["code"], error["param"]) == ("array_above_max_length", "messages")
    assert "400000 messages" in error["message"] and "at most 2048" in error["message"]


def test_a_huge_array_and_a_huge_string_are_refused(gateway):
    _, http = gateway
    hello = [{"role": "user", "content": "hi"}]
    error = error_of(chat(http, {"model": MODEL, "messages": hello, "stop": ["x"] * 10_001}))
    assert (error["code"], error["param"]) == ("array_above_max_length", "stop")
    error = error_of(chat(http, {"model": MODEL, "messages": [
        {"role": "user", "content": "x" * (10 * 2**20 + 1)}]}))
    assert (error["code"], error["param"]) == ("string_above_max_length", "messages[0].content")


def test_the_limits_are_settings_in_the_project_file(gateway, project_dir):
    ws, http = gateway
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write("gateway:\n  limits: {max_messages: 2, max_depth: 8}\n")
    ws.recent_project(fresh=True)
    three = [{"role": "user", "content": "hi"}] * 3
    assert "at most 2 " in error_of(chat(http, {"model": MODEL, "messages": three}))["message"]
    error = error_of(chat(http, {"model": MODEL, "messages": three[:1], "metadata": deep(4)}))
    assert error["code"] == "nested_too_deeply"


def test_user_and_model_past_what_the_store_holds_are_400s(gateway):
    _, http = gateway
    hello = [{"role": "user", "content": "hi"}]
    assert error_of(chat(http, {"model": MODEL, "messages": hello, "user": "u" * 201}))
    assert error_of(chat(http, {"model": MODEL, "messages": hello},
                         **{"X-Trimtab-User": "u" * 201}))["param"] == "X-Trimtab-User"
    assert error_of(chat(http, {"model": "simulated/" + "m" * 200, "messages": hello}))


@pytest.mark.parametrize("field, value", [
    ("input_tokens", 2**31), ("cost_micro_usd", 10**12 + 1), ("user", "u" * 201),
    ("model", "m" * 201), ("time", "9999-12-31T23:59:59-14:00"),
    ("time", "0001-01-01T00:00:00+14:00"), ("latency_ms", 1e9), ("inputs", deep(100))])
def test_a_record_the_store_cannot_hold_is_a_400(gateway, field, value):
    ws, http = gateway
    record = {"system": SYSTEM, "latency_ms": 1.0, field: value}
    answer = http.post("/api/v1/records", content=json.dumps(record).encode())
    assert answer.status_code == 400, answer.text
    assert ws.flush() and ws.calls(limit=5) == []


def test_an_answered_call_whose_texts_cannot_be_stored_is_recorded_without_them(live):
    """The SDK has no body limits: a prompt nested past what redaction walks still gives a
    recorded call, with its outcome and a note, not an answer nobody recorded."""
    ws, _ = live
    result = ws.system(SYSTEM).run(messages=[{"role": "user", "content": "hi",
                                              "extra": deep(2000)}])
    assert ws.flush()
    call = ws.call(result.call_id)
    assert call.status == "ok" and call.request is None
    assert "request and answer not stored: RecursionError" in call.error


def test_a_lone_surrogate_from_the_sdk_is_stored_escaped(live):
    ws, _ = live
    result = ws.system(SYSTEM).run(messages=[{"role": "user", "content": "bad \ud800 text"}],
                                   user="agent-\udc80")
    assert ws.flush()
    call = ws.call(result.call_id)
    assert call.status == "ok" and call.user_id == "agent-\\udc80"
    assert "\\ud800" in json.dumps(call.request)


def test_the_project_file_rejects_nonsense_limits(project_dir, cli):
    edit(project_dir / "trimtab.yaml", "systems:", "gateway:\n  limits: {max_depth: 1}\n"
         "systems:")
    result = cli("validate", expect=None)
    assert result.exit_code != 0 and "max_depth" in result.output
