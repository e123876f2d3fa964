"""`trimtab serve` as an operator runs it: one process, one port, everything on it;
SIGTERM finishes what is in flight and drains the recorder into the store."""

from __future__ import annotations

import signal

import httpx

import trimtab
from tests.helpers import promote_through
from tests.helpers.processes import start
from tests.web.conftest import SYSTEM


def test_serve_is_one_process_with_gateway_dashboard_api_and_health(project_dir, database_url):
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        release, _ = ws.release(SYSTEM)
        promote_through(ws, SYSTEM, release.id, "production")
    serve, url = start(project_dir, database_url, "serve", "--interval", "1m")
    try:
        answer = httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
            "model": f"trimtab/{SYSTEM}", "messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200, answer.text
        assert httpx.get(f"{url}/readyz").json() == {"status": "ready"}
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and SYSTEM in page.text
        assert httpx.get(f"{url}/api/v1/systems").json()[0]["name"] == SYSTEM
        assert httpx.get(f"{url}/openapi.json").json()["openapi"].startswith("3.1")
        assert "trimtab_calls_total" in httpx.get(f"{url}/metrics").text
    finally:
        serve.send_signal(signal.SIGTERM)
        output = serve.communicate(timeout=30)[0].decode()
    # uvicorn re-raises the signal once its graceful shutdown is done.
    assert serve.returncode in (0, -signal.SIGTERM), output
    assert "dashboard: http://127.0.0.1:" in output and "alert monitor: every 60s" in output
    # The clean stop drained the spool: the call is in the store, no segment is left.
    assert list((project_dir / ".trimtab" / "spool").glob("*.jsonl")) == []
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        assert answer.json()["id"].removeprefix("chatcmpl-") in {c.id for c in ws.calls()}
