"""The call detail shows the answer's id, finish reasons and the sampling params sent: in
the JSON API (typed in its OpenAPI schema) and on the dashboard's call page."""

from __future__ import annotations

import httpx


def test_the_api_and_the_dashboard_show_a_calls_answer_fields(served):
    url, ws, _ = served
    [newest, *_] = ws.calls(system="complaint-router", status="ok", limit=1)

    detail = httpx.get(timeout=30, url=f"{url}/api/v1/calls/{newest.id}").json()
    assert detail["response_id"] == newest.response_id and detail["response_id"]
    assert detail["finish_reasons"] == ["stop"]
    assert detail["params"] == {"temperature": 0, "max_tokens": 200}
    schema = httpx.get(timeout=30, url=f"{url}/openapi.json").json()["components"]["schemas"]
    fields = schema["CallDetail"]["properties"]
    assert {"response_id", "finish_reasons", "params"} <= set(fields)

    page = httpx.get(timeout=30, url=f"{url}/calls/{newest.id}").text
    assert newest.response_id in page
    assert '<span class="badge">stop</span>' in page
    assert '<span class="badge">max_tokens=200</span>' in page


def test_a_call_without_them_says_so_on_its_page(served):
    url, ws, _ = served
    [failed] = ws.calls(status="error")
    page = httpx.get(timeout=30, url=f"{url}/calls/{failed.id}").text
    assert "no id" in page
    detail = httpx.get(timeout=30, url=f"{url}/api/v1/calls/{failed.id}").json()
    assert detail["finish_reasons"] is None
