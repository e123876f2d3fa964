"""The gateway on a full spool disk (a small tmpfs, for real): a system whose target
stage is 4 fails its calls with 503 recording_unavailable rather than answer them
unrecorded; other calls are answered and each drop is counted, in /metrics, and
/healthz says degraded until the disk has room again."""

from __future__ import annotations

import re

import httpx

from tests.helpers import edit, promote_through
from tests.helpers.gateway_server import running_gateway
from tests.helpers.http_receiver import Receiver
from tests.helpers.small_disk import fill, small_disk

SYSTEM = "complaint-router"


def chat(url: str, model: str) -> httpx.Response:
    """A call whose record is bigger than a page: no slack left in the spool's last
    page can hold it once the disk is full."""
    return httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
        "model": model, "messages": [{"role": "user", "content": "The hinge broke. " * 300}]})


def dropped(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return float(re.search(r"^trimtab_recorder_dropped_total (\S+)$", text, re.M)[1])


def test_a_full_disk_fails_stage_4_calls_and_counts_the_other_drops(ws, project_dir):
    edit(project_dir / "trimtab.yaml", "customer_facing: false", "customer_facing: true")
    receiver = Receiver()
    with open(project_dir / "trimtab.yaml", "a") as f:
        f.write(f"channels:\n  ops:\n    kind: webhook\n    url: {receiver.url}/hook\n")
    ws.recent_project(fresh=True)
    release, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, release.id, "production")
    with small_disk(project_dir / ".trimtab" / "spool", "512k") as spool, \
            running_gateway(ws) as url:
        assert chat(url, f"trimtab/{SYSTEM}").status_code == 200
        filler = fill(spool)
        # Stage 4 (customer-facing): refused, the first after its answer could not be
        # spooled, the next before the provider is even called.
        for _ in range(2):
            refused = chat(url, f"trimtab/{SYSTEM}")
            assert refused.status_code == 503, refused.text
            error = refused.json()["error"]
            assert (error["code"], error["type"]) == ("recording_unavailable", "server_error")
            assert refused.headers["retry-after"] == "5"
        streamed = httpx.post(f"{url}/v1/chat/completions", timeout=30, json={
            "model": f"trimtab/{SYSTEM}", "stream": True,
            "messages": [{"role": "user", "content": "The hinge broke."}]})
        assert streamed.status_code == 503
        assert streamed.json()["error"]["code"] == "recording_unavailable"
        # A passthrough model is best effort: answered, its record dropped and counted.
        answered = [chat(url, "simulated/any") for _ in range(3)]
        assert {a.status_code for a in answered} == {200}
        assert dropped(url) == 4  # the refused call whose answer came back, and these three
        health = httpx.get(f"{url}/healthz").json()
        assert health["status"] == "degraded" and health["recording"]["dropped"] == 4
        assert "No space left on device" in health["recording"]["reason"]
        # The built-in rule fires, from the counts reported to the store (the spool failed).
        assert ws.recorder.report_drops()
        firing = {(s.rule, s.system, s.value) for s in ws.check_alerts().statuses
                  if s.firing}
        assert firing == {("recording-dropped", "passthrough", 3.0),
                          ("recording-dropped", SYSTEM, 1.0)}
        assert receiver.wait_for(2), "the built-in alert notified no channel"
        events = {(e["rule"], e["system"], e["severity"]) for e in receiver.delivered}
        assert events == {("recording-dropped", "passthrough", "critical"),
                          ("recording-dropped", SYSTEM, "critical")}

        filler.unlink()
        back = chat(url, f"trimtab/{SYSTEM}")
        assert back.status_code == 200
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    receiver.close()
    ws.flush()
    stored = {c.id for c in ws.calls(limit=50)}
    assert back.json()["id"].removeprefix("chatcmpl-") in stored
    assert not {a.json()["id"].removeprefix("chatcmpl-") for a in answered} & stored
