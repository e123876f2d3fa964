"""What the system page and the review pages say, read over HTTP from the real app:
when each environment got its release, the newest deployments, links that resolve,
and a review form that keeps what was typed when it is refused."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.helpers import promote_through
from tests.helpers.gateway_server import running_app
from tests.web.conftest import SYSTEM
from trimtab.web.server import build


def _rows(page: str, section: str) -> list[str]:
    """The body rows of the first table after ``section`` (an h2's text)."""
    body = page.split(f"<h2>{section}</h2>", 1)[1].split("<tbody>", 1)[1].split("</tbody>")[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def test_the_system_page_says_when_each_release_went_live_and_the_newest_deployments(
        served, project_dir):
    url, ws, first = served
    (project_dir / "prompts" / f"{SYSTEM}.system.md").write_text("Route politely.\n")
    with pytest.MonkeyPatch.context() as clock:  # made three days before it goes live
        made = datetime.now(UTC) - timedelta(days=3)
        clock.setattr("trimtab.store.releases.utcnow", lambda: made)
        second, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, second.id, "production")
    for i in range(10):  # 20 deployments in dev, then one in staging: 27 in all
        ws.promote(SYSTEM, first.id, "dev", f"back {i}")
        ws.promote(SYSTEM, second.id, "dev", f"try {i}")
    ws.promote(SYSTEM, first.id, "staging", "newest")
    page = httpx.get(f"{url}/systems/{SYSTEM}", timeout=30).text
    production = next(r for r in _rows(page, "Environments") if "<td>production</td>" in r)
    since = re.findall(r'<td class="small">(.*?)</td>', production, re.S)[0]
    assert re.search(r">\d+s ago<", since), since  # promoted now, not "3d ago"
    assert "promote" in since and "UTC" in since  # the deployment, with its time, on hover
    history = _rows(page, "Deployment history")
    assert len(history) == 20
    assert "<td>staging</td>" in history[0] and first.id[:12] in history[0]  # newest first
    assert not any("<td>production</td>" in row for row in history)  # the oldest fell off


def test_the_review_queue_links_only_to_system_pages_that_exist(ws):
    """A system declared in trimtab.yaml but never released has no system page (404)."""
    with running_app(build(ws)) as url:
        page = httpx.get(f"{url}/reviews", timeout=30)
        assert page.status_code == 200 and SYSTEM in page.text
        assert f'href="/systems/{SYSTEM}"' not in page.text
        assert f"trimtab release {SYSTEM}" in page.text
        for link in re.findall(r'href="(/[^"]*)"', page.text):
            assert httpx.get(url + html.unescape(link), timeout=30).status_code == 200, link
        ws.release(SYSTEM)
        assert f'href="/systems/{SYSTEM}"' in httpx.get(f"{url}/reviews", timeout=30).text


def test_a_refused_review_is_said_on_the_form_with_what_was_typed(served):
    url, ws, _ = served
    ws.review_sample(SYSTEM)
    with httpx.Client(base_url=url, timeout=30) as browser:
        form = browser.get(f"/reviews/{SYSTEM}")
        token = form.cookies["trimtab_csrf"]  # Secure: httpx keeps it off plain http
        call = re.search(r'name="call" value="([0-9a-f]+)"', form.text).group(1)
        label = "x" * 120
        sent = browser.post(f"/reviews/{SYSTEM}", headers={"cookie": f"trimtab_csrf={token}"},
                            data={"csrf_token": token, "call": call, "verdict": "fail",
                                  "score": "2", "labels": f"tone, {label}",
                                  "comment": "sent to <billing>"})
    assert sent.status_code == 400
    problem = re.search(r'id="review-problem">(.*?)</p>', sent.text, re.S)
    assert problem and "Labels:" in problem.group(1) and "120 characters" in problem.group(1)
    assert "--label" not in problem.group(1)  # the form's words, not the CLI's
    assert f'name="call" value="{call}"' in sent.text  # the same call, to fix and send again
    assert re.search(r'value="fail" required checked', sent.text)
    assert re.search(r'name="score" value="2" checked', sent.text)
    assert f'value="tone, {label}"' in sent.text
    assert ">sent to &lt;billing&gt;</textarea>" in sent.text
    assert ws.review_next(SYSTEM).call.id == call  # nothing was saved


def test_the_portfolio_says_when_a_cost_is_unknown_instead_of_zero(ws):
    """A classic model's predictions (or a model with no price) have no cost: the
    portfolio showed $0.0000 for them, as if they were free."""
    ws.release(SYSTEM)
    ws.record(SYSTEM, {"tenure": 3}, "churn", 2.0, model="in-house-xgb")
    assert ws.flush()
    with running_app(build(ws)) as url:
        page = httpx.get(url, timeout=30).text
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if SYSTEM in r)
    assert row.count('title="1 call(s) without a known price">?</span>') == 2  # 24 h, month
    assert "$0.0000" not in row
    ws.record(SYSTEM, {"text": "hi"}, "ok", 5.0, model="gpt-4o-mini", cost_micro_usd=200)
    assert ws.flush()
    with running_app(build(ws)) as url:
        page = httpx.get(url, timeout=30).text
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if SYSTEM in r)
    assert row.count("$0.0002") == 2 and row.count(" +?</span>") == 2  # priced, and the rest
