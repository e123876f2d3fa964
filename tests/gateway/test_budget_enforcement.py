"""Budgets enforced at the gateway (``enforce: true``): once a team's or a system's monthly
budget is spent, its calls are answered 429 budget_exceeded in OpenAI's error format,
before any provider is called; spend is read from rollups in the background."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import openai
import pytest
from openai import OpenAI
from sqlalchemy import event

import trimtab
from tests.helpers import eventually
from tests.helpers.alerts import add_yaml
from tests.helpers.gateway_server import running_app
from trimtab.gateway import Gateway

MODEL = "trimtab/complaint-router"
HELLO = [{"role": "user", "content": "The plug is loose."}]


def chat(url: str, key: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json={"model": MODEL, "messages": HELLO},
                      headers={"Authorization": f"Bearer {key}"}, timeout=30)


def spent(ws, micro: int, team: str | None = None) -> None:
    """Spend recorded this month by another process (another replica, the SDK)."""
    ws.record("complaint-router", {"q": "x"}, "ok", latency_ms=5, model="sim-a",
              tags={"team": team} if team else None, cost_micro_usd=micro,
              time=datetime.now(UTC))
    assert ws.flush()


def key_calls(ws, key) -> int:
    ws.flush()
    return sum(1 for call in ws.calls(limit=1000) if call.api_key_id == key.id)


def test_a_spent_team_budget_answers_429_without_calling_the_provider(live):
    ws, _ = live
    add_yaml(ws.project_file.parent, """
budgets:
  support-team:
    team: support
    monthly_usd: 0.001
    enforce: true
  router:
    system: complaint-router
    monthly_usd: 0.0001
""")  # router is spent too, but only watched (no enforce): its calls go on
    support, support_secret = ws.create_key("support-bot", env="production",
                                            tags={"team": "support"})
    sales, sales_secret = ws.create_key("sales-bot", env="production", tags={"team": "sales"})
    spent(ws, 2_000, team="support")  # $0.002 of $0.001
    with running_app(Gateway(ws, key_ttl=0.3, budget_ttl=0.2)) as url:
        refused = chat(url, support_secret)
        served = chat(url, sales_secret)
        with pytest.raises(openai.RateLimitError) as sdk:
            OpenAI(base_url=f"{url}/v1", api_key=support_secret, max_retries=0,
                   timeout=30).chat.completions.create(model=MODEL, messages=HELLO)
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("budget_exceeded", "budget_exceeded")
    assert error["message"].startswith(
        "budget 'support-team' (team support) is spent: $0.002 of $0.001 this month.")
    assert refused.headers["x-should-retry"] == "false"
    assert sdk.value.code == "budget_exceeded"
    assert served.status_code == 200, served.text
    # Refused before the provider: no call of the support key was made or recorded.
    assert key_calls(ws, support) == 0 and key_calls(ws, sales) == 1


def test_spend_reaching_a_system_budget_closes_it_within_the_refresh(live):
    ws, _ = live
    add_yaml(ws.project_file.parent, """
budgets:
  router:
    system: complaint-router
    monthly_usd: 0.01
    enforce: true
""")
    _, secret = ws.create_key("crm", env="production")
    with running_app(Gateway(ws, key_ttl=0.3, budget_ttl=0.1)) as url:
        assert chat(url, secret).status_code == 200
        spent(ws, 10_000)  # another replica spends the last cent
        answer = eventually(lambda: (a := chat(url, secret)).status_code == 429 and a)
        assert "budget 'router' (system complaint-router) is spent" in \
            answer.json()["error"]["message"]


def test_the_request_path_reads_no_spend_from_the_store(live, database_url):
    """Served and refused calls alike look the budget up in memory: no rollup query per
    request (the spend is re-read in the background, here once an hour)."""
    ws, _ = live
    add_yaml(ws.project_file.parent, """
budgets:
  support-team:
    team: support
    monthly_usd: 0.001
    enforce: true
""")
    other = trimtab.connect(ws.project_file.parent, database_url=database_url)
    try:  # spend recorded by another process: its writes are not on this engine
        spent(other, 2_000, team="support")
    finally:
        other.close()
    _, support = ws.create_key("support-bot", env="production", tags={"team": "support"})
    _, sales = ws.create_key("sales-bot", env="production", tags={"team": "sales"})
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with running_app(Gateway(ws, key_ttl=3600, budget_ttl=3600)) as url:
        assert chat(url, sales).status_code == 200  # first use: key hash, route
        assert chat(url, support).status_code == 429
        event.listen(ws.store.engine, "before_cursor_execute", seen)
        try:
            for _ in range(10):
                assert chat(url, sales).status_code == 200
                assert chat(url, support).status_code == 429
        finally:
            event.remove(ws.store.engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "rollups" in s], statements
