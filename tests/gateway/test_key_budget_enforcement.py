"""Budgets on gateway keys enforced at the gateway (``key:`` with ``enforce: true``): a key
whose month is spent is answered 429 budget_exceeded (OpenAI's format, naming the budget,
the key and the month, Retry-After to the next month) while other keys pass; a new month
opens it; without ``enforce`` nothing is refused. Served by uvicorn on loopback with the
simulated provider; the spend is read in the background, never per request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
from trimtab.gateway.budget_guard import month_of

MODEL = "trimtab/complaint-router"
HELLO = [{"role": "user", "content": "The plug is loose."}]


def chat(url: str, key: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json={"model": MODEL, "messages": HELLO},
                      headers={"Authorization": f"Bearer {key}"}, timeout=30)


def spent(ws, micro: int, key, when: datetime | None = None) -> None:
    """Spend recorded with ``key`` by another process (another replica)."""
    ws.record("complaint-router", {"q": "x"}, "ok", latency_ms=5, model="sim-a",
              cost_micro_usd=micro, time=when or datetime.now(UTC), api_key_id=key.id)
    assert ws.flush()


def budget(enforce: bool = True, monthly_usd: str = "0.001") -> str:
    return f"""
budgets:
  bot-budget:
    key: support-bot
    monthly_usd: {monthly_usd}
    enforce: {'true' if enforce else 'false'}
"""


def test_a_spent_key_is_refused_while_another_key_passes(live, database_url):
    ws, _ = live
    add_yaml(ws.project_file.parent, budget())
    support, support_secret = ws.create_key("support-bot", env="production")
    _, sales_secret = ws.create_key("sales-bot", env="production")
    other = trimtab.connect(ws.project_file.parent, database_url=database_url)
    try:  # spent through another replica: its writes are not on this engine
        spent(other, 2_000, support)  # $0.002 of $0.001
    finally:
        other.close()
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with running_app(Gateway(ws, key_ttl=3600, budget_ttl=3600)) as url:
        before = datetime.now(UTC)
        refused = chat(url, support_secret)
        after = datetime.now(UTC)
        assert chat(url, sales_secret).status_code == 200  # first use: key hash, route
        with pytest.raises(openai.RateLimitError) as sdk:
            OpenAI(base_url=f"{url}/v1", api_key=support_secret, max_retries=0,
                   timeout=30).chat.completions.create(model=MODEL, messages=HELLO)
        event.listen(ws.store.engine, "before_cursor_execute", seen)
        try:
            for _ in range(10):
                assert chat(url, sales_secret).status_code == 200
                assert chat(url, support_secret).status_code == 429
        finally:
            event.remove(ws.store.engine, "before_cursor_execute", seen)
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("budget_exceeded", "budget_exceeded")
    start, end = month_of(before)
    assert error["message"] == (
        f"budget 'bot-budget' (key support-bot) is spent: $0.002 of $0.001 this month. The "
        f"month is {start:%Y-%m} (UTC); calls resume on {end:%Y-%m-%d} at 00:00 UTC, or when "
        "trimtab.yaml raises `monthly_usd` or sets `enforce: false`.")
    wait = int(refused.headers["retry-after"])
    assert (end - after).total_seconds() <= wait <= (end - before).total_seconds() + 1
    assert refused.headers["x-should-retry"] == "false"
    assert sdk.value.code == "budget_exceeded"
    # Neither the served nor the refused calls read spend from the store.
    assert not [s for s in statements if "rollups" in s or "api_keys" in s], statements


def test_a_rotated_key_keeps_its_spent_month(live):
    """The budget names the key, not one secret: revoking it and creating it again under
    the same name does not reset the month's spend."""
    ws, _ = live
    add_yaml(ws.project_file.parent, budget())
    old, _ = ws.create_key("support-bot", env="production")
    spent(ws, 2_000, old)
    ws.revoke_key(old.id)
    _, secret = ws.create_key("support-bot", env="production")
    with running_app(Gateway(ws, key_ttl=0.3, budget_ttl=0.2)) as url:
        assert chat(url, secret).status_code == 429


def test_spend_closes_a_key_within_the_refresh_while_the_gateway_idles(live):
    ws, _ = live
    add_yaml(ws.project_file.parent, budget(monthly_usd="0.01"))
    support, secret = ws.create_key("support-bot", env="production")
    gateway = Gateway(ws, key_ttl=0.3, budget_ttl=0.1)
    with running_app(gateway) as url:
        assert chat(url, secret).status_code == 200
        spent(ws, 10_000, support)  # another replica spends the last cent
        # No request meanwhile: the background refresh alone sees it.
        eventually(lambda: "support-bot" in gateway.budgets.keys)
        answer = chat(url, secret)
        assert answer.status_code == 429
        assert "budget 'bot-budget' (key support-bot) is spent" in \
            answer.json()["error"]["message"]


def test_a_new_month_opens_a_spent_key(live):
    ws, _ = live
    add_yaml(ws.project_file.parent, budget())
    support, secret = ws.create_key("support-bot", env="production")
    this_month, _ = month_of(datetime.now(UTC))
    last_moment = this_month - timedelta(seconds=1)  # the end of last month
    spent(ws, 2_000, support, when=this_month - timedelta(hours=2))
    now = [last_moment]
    gateway = Gateway(ws, key_ttl=3600, budget_ttl=3600)
    gateway.budgets.clock = lambda: now[0]
    with running_app(gateway) as url:
        refused = chat(url, secret)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) == 1  # one second to the new month
        assert f"The month is {last_moment:%Y-%m} (UTC)" in refused.json()["error"]["message"]
        now[0] = this_month  # midnight UTC on the first: open before any refresh
        assert chat(url, secret).status_code == 200
        gateway.budgets.refresh()  # and the new month's spend has no verdict
        assert gateway.budgets.keys == {}
        assert chat(url, secret).status_code == 200


def test_without_enforce_a_spent_key_is_served(live):
    ws, _ = live
    add_yaml(ws.project_file.parent, budget(enforce=False))
    support, secret = ws.create_key("support-bot", env="production")
    spent(ws, 2_000, support)
    gateway = Gateway(ws, key_ttl=0.3, budget_ttl=0.1)
    with running_app(gateway) as url:
        assert chat(url, secret).status_code == 200
        gateway.budgets.refresh()
        assert chat(url, secret).status_code == 200
    assert gateway.budgets.keys == {}
    [line] = ws.cost_report(f"{datetime.now(UTC):%Y-%m}").budgets
    assert line.used >= 2.0 and not line.enforce  # spent twice over, watched, served


def test_a_key_created_with_an_enforced_budget_is_refused_once_spent(live):
    """`trimtab keys create NAME --monthly-budget USD --enforce-budget`: LiteLLM's max_budget
    on the key itself; without --enforce-budget the budget is only watched."""
    ws, _ = live
    crm, crm_secret = ws.create_key("crm", env="production", monthly_budget_usd=0.001,
                                    enforce_budget=True)
    watched, watched_secret = ws.create_key("watched", env="production",
                                            monthly_budget_usd=0.001)
    spent(ws, 2_000, crm)
    spent(ws, 2_000, watched)
    with running_app(Gateway(ws, key_ttl=0.3, budget_ttl=0.2)) as url:
        refused = chat(url, crm_secret)
        assert chat(url, watched_secret).status_code == 200
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["message"].startswith(
        "budget 'key:crm' (key crm) is spent: $0.002 of $0.001 this month.")
    lines = {b.name: b for b in ws.cost_report(f"{datetime.now(UTC):%Y-%m}").budgets}
    assert lines["key:crm"].enforce and not lines["key:watched"].enforce
    assert lines["key:watched"].used >= 2.0
