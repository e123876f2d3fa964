"""An open gateway (no key yet) on a laptop: what a web page the user visits can
and cannot make it do, through a real uvicorn server on loopback. Cross-site
"simple" requests need no CORS preflight, and DNS rebinding makes a page
same-origin with 127.0.0.1; both are refused while no key exists."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers.gateway_server import running_app
from trimtab.gateway import Gateway
from trimtab.gateway.origin import host_allowed, host_name, local_hosts

SYSTEM = "complaint-router"
CHAT = {"model": f"trimtab/{SYSTEM}", "messages": [{"role": "user", "content": "It sparks."}]}
FROM_A_PAGE = {"origin": "https://evil.example", "sec-fetch-site": "cross-site",
               "content-type": "text/plain"}


def laptop_gateway(ws) -> Gateway:
    """The gateway as `trimtab gateway` / `trimtab serve` start it on 127.0.0.1."""
    return Gateway(ws, key_ttl=0.3, hosts=local_hosts("127.0.0.1"))


def test_a_web_page_cannot_post_to_an_open_gateway(live):
    ws, _ = live
    call_id = ws.record(SYSTEM, {"text": "spark"}, {"team": "electrical"}, 5.0)
    assert ws.flush()
    bodies = {
        "/v1/chat/completions": CHAT,
        "/api/v1/records": {"system": SYSTEM, "latency_ms": 1},
        "/api/v1/labels": {"labels": [{"ref": call_id, "label": "mechanical"}]},
    }
    with running_app(laptop_gateway(ws)) as url:
        refused = {path: httpx.post(url + path, content=httpx.Request(
            "POST", url, json=body).content, headers=FROM_A_PAGE) for path, body in bodies.items()}
        # the same requests from a program (no Origin, no Sec-Fetch-Site) are served
        served = {path: httpx.post(url + path, json=body) for path, body in bodies.items()}
    for path, answer in refused.items():
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["error"]["code"] == "cross_origin"
    for path, answer in served.items():
        assert answer.status_code == 200, (path, answer.text)
    assert ws.label_of(call_id).value == "mechanical"  # once: by the program, not the page
    assert ws.label_of(call_id).revision == 1


def test_dns_rebinding_cannot_reach_an_open_gateway_bound_to_loopback(live):
    ws, _ = live
    with running_app(laptop_gateway(ws)) as url:
        port = url.rsplit(":", 1)[1]
        rebound = [httpx.get(f"{url}/v1/models", headers={"host": f"evil.example:{port}"}),
                   httpx.post(f"{url}/v1/chat/completions", json=CHAT,
                              headers={"host": "evil.example"}),
                   httpx.get(f"{url}/metrics", headers={"host": f"localhost:{port}@evil"})]
        local = [httpx.get(f"{url}/v1/models", headers={"host": f"localhost:{port}"}),
                 httpx.get(f"{url}/v1/models")]
        health = httpx.get(f"{url}/healthz", headers={"host": "evil.example"})
    for answer in rebound:
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "host_not_allowed"
        assert "create a key" in answer.json()["error"]["message"]
    assert [a.status_code for a in local] == [200, 200]
    assert health.status_code == 200  # a load balancer's probe names the host it likes


def test_with_a_key_the_key_decides_not_the_host_or_origin(live):
    """A key cannot be sent by a page without a CORS preflight, which the gateway
    never grants: once keys exist the origin checks have nothing left to guard."""
    ws, _ = live
    _, secret = ws.create_key("app", env="production")
    with running_app(laptop_gateway(ws)) as url:
        answer = httpx.get(f"{url}/v1/models", headers={
            "host": "gateway.internal.example", "authorization": f"Bearer {secret}"})
    assert answer.status_code == 200, answer.text


def test_bound_to_every_address_any_host_name_is_served(live):
    ws, _ = live
    gateway = Gateway(ws, key_ttl=0.3, hosts=local_hosts("0.0.0.0"))
    with running_app(gateway) as url:
        answer = httpx.get(f"{url}/v1/models", headers={"host": "gateway.internal.example"})
    assert answer.status_code == 200, answer.text


def test_an_open_gateway_stores_no_labels_once_users_exist(live):
    """Labels are a reviewer's change: with users defined, an open gateway has no one
    to store them as, so it needs a key (chat and records stay open until one exists)."""
    ws, _ = live
    call_id = ws.record(SYSTEM, {"text": "spark"}, {"team": "electrical"}, 5.0)
    assert ws.flush()
    ws.add_user("alice@corp.example", "admin")
    with running_app(laptop_gateway(ws)) as url:
        anonymous = httpx.post(f"{url}/api/v1/labels",
                               json={"labels": [{"ref": call_id, "label": "mechanical"}]})
        chat = httpx.post(f"{url}/v1/chat/completions", json=CHAT)
    assert anonymous.status_code == 401
    assert "trimtab keys create" in anonymous.json()["error"]["message"]
    assert ws.label_of(call_id) is None
    assert chat.status_code == 200, chat.text


@pytest.mark.parametrize(("header", "name"), [
    ("localhost", "localhost"), ("LOCALHOST:4000", "localhost"), ("127.0.0.1:80", "127.0.0.1"),
    ("[::1]:4000", "[::1]"), ("[::1]", "[::1]"), ("localhost:4000@evil.example", None),
    ("localhost:99999999", None), ("local host", None), ("", None), ("a/b", None),
    ("[0:0:0:0:0:0:0:1]:80", "[::1]"), ("[2001:DB8::5]:4000", "[2001:db8::5]"),
    ("[not-an-address]", None)])
def test_host_names_are_read_strictly(header, name):
    assert host_name(header) == name


def test_only_loopback_names_and_the_served_address_are_local():
    hosts = local_hosts("192.168.1.20")
    assert all(host_allowed(hosts, h) for h in ("localhost:1", "127.0.0.1", "192.168.1.20:4000"))
    assert not any(host_allowed(hosts, h) for h in ("evil.example", None, "192.168.1.21"))
    assert local_hosts("::") is None and host_allowed(None, "anything.example")
    # bound to an IPv6 address, it answers to that address as a Host header writes it
    assert host_allowed(local_hosts("2001:db8::5"), "[2001:db8::5]:4000")
    assert host_allowed(local_hosts("2001:0db8:0:0:0:0:0:5"), "[2001:db8::5]")
    assert not host_allowed(local_hosts("2001:db8::5"), "[2001:db8::6]:4000")
