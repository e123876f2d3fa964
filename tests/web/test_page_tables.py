"""What the system page and the portfolio read on every load stays small: the cost
tables name their top groups and sum the rest; the maturity stage is kept between
loads and follows a promote made through the page at once."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx

from tests.helpers.gateway_server import running_app
from tests.web.conftest import SYSTEM
from trimtab.web.server import build


def test_the_cost_by_user_table_names_the_top_20_and_sums_the_rest(served):
    url, ws, _ = served
    for i in range(25):  # user-24 spends most, user-0 least
        ws.record(SYSTEM, {"i": i}, {"ok": True}, 10.0, model="sim-router-1",
                  user=f"user-{i:02d}", cost_micro_usd=1000 * (i + 1))
    assert ws.flush()
    page = httpx.get(f"{url}/systems/{SYSTEM}", timeout=30)
    assert page.status_code == 200
    named = set(re.findall(r"<td>(user-\d\d)</td>", page.text))
    assert named == {f"user-{i:02d}" for i in range(5, 25)}
    # The rest: user-00..04 and the fixture's three agents (12 calls).
    others = re.search(r"<td>\(all others\)</td><td class=\"num\">(\d+)</td>"
                       r"<td class=\"num\">\$([^<]+)</td>", page.text)
    assert others is not None
    assert others.group(1) == str(5 + 12)
    rest = sum(r.cost_usd for r in ws.metrics(system=SYSTEM, by=["user"])
               if r.group["user"] not in named)
    assert rest > Decimal("0.015")  # user-00..04 alone spent $0.001 + ... + $0.005
    assert Decimal(others.group(2)) == rest.quantize(Decimal("0.0001"))


def test_the_maturity_stage_follows_a_promote_made_on_the_page(ws):
    release, _ = ws.release(SYSTEM)
    with running_app(build(ws)) as url, httpx.Client(base_url=url, timeout=30) as browser:

        def stage_shown() -> str:
            page = browser.get("/")
            assert page.status_code == 200
            return re.search(r"#maturity\"><strong>(\d)</strong>", page.text).group(1)

        assert stage_shown() == "0"  # nothing in production yet
        assert stage_shown() == "0"  # kept between loads
        # The cookie is Secure (httpx keeps it off plain http): sent by hand, as in test_api.
        token = browser.get(f"/systems/{SYSTEM}").cookies["trimtab_csrf"]
        for env in ws.project.spec.environments:
            promoted = browser.post(f"/systems/{SYSTEM}/promote", data={
                "csrf_token": token, "release": release.id, "env": env},
                headers={"cookie": f"trimtab_csrf={token}"})
            assert promoted.status_code == 303, promoted.text
        # Production runs a versioned release now: the next load says so, not TTL later.
        assert stage_shown() == "1"
