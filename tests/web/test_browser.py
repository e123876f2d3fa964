"""The dashboard in a real browser: Debian's chromium driven by Playwright.

Every page loads with no console error (a CSP violation is one), no failed
request and no 4xx/5xx; a chart draws the calls recorded; HTMX swaps a new
window in; an anonymous browser is sent to the login page once keys exist, and
a key signs it in. Screenshots land in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.helpers import eventually, promote_through
from tests.web.conftest import SYSTEM

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing. Fix: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


class Watched:
    """A page whose every console error, page error and failed request is kept."""

    def __init__(self, browser: Browser):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        page = self.page
        page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(
            f"failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"{r.status}: {r.url}"))
        # Nothing from another origin: every asset is served by trimtab itself.
        page.on("request", lambda r: r.url.startswith(("http://127.0.0.1:", "data:"))
                or self.problems.append(f"another origin: {r.url}"))

    def open(self, url: str, shot: str | None = None) -> Page:
        self.problems.clear()
        self.page.goto(url, wait_until="load")
        if shot:
            ARTIFACTS.mkdir(exist_ok=True)
            self.page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
        return self.page


@pytest.fixture
def watched(browser) -> Iterator[Watched]:
    watched = Watched(browser)
    yield watched
    watched.context.close()


def test_every_page_loads_clean(served, watched, database_url, project_dir):
    url, ws, _ = served
    call = ws.calls(limit=1)[0]
    store = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    # Something on every page: a review sample with a review, an eval run, a document,
    # an incident with a note, a promotion waiting for approval.
    sample, _ = ws.review_sample(SYSTEM)
    ws.review(ws.review_next(SYSTEM).call.id, "pass", score=4, labels=["tone"])
    ws.eval(SYSTEM)
    ws.documents(SYSTEM, kinds=["model-card"])
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("policies:\n  staging:\n    approvals: 1\n")
    (project_dir / "prompts" / f"{SYSTEM}.system.md").write_text("Route politely.\n")
    second, _ = ws.release(SYSTEM)
    ws.promote(SYSTEM, second.id, "dev")
    assert ws.promote(SYSTEM, second.id, "staging").state == "pending"
    # A serious incident freezes the system, so it comes after the promotions.
    incident = ws.open_incident(SYSTEM, severity="high", summary="Misrouted safety complaint",
                                categories=["ai-act-serious"])
    ws.note_incident(incident.id, "customer called back")
    for path, shot, heading in [
        ("/", "portfolio", "Portfolio"),
        (f"/systems/{SYSTEM}", "system", SYSTEM),
        ("/calls", "calls", "Calls"),
        (f"/calls/{call.id}", "call", "Call"),
        ("/audit", "audit", "Audit log"),
        ("/reviews", "reviews", "Review queue"),
        (f"/reviews/{SYSTEM}", "review", f"Review {SYSTEM}"),
        ("/approvals", "approvals", "Approvals"),
        ("/approvals?all=true", "approvals-all", "Approvals"),
        ("/incidents", "incidents", "Incidents"),
        ("/incidents?all=true", "incidents-all", "Incidents"),
    ]:
        page = watched.open(url + path, f"{shot}-{store}")
        assert watched.problems == [], (path, watched.problems)
        assert heading in page.locator("h1").inner_text()
    row = watched.open(f"{url}/").locator("tbody tr", has_text=SYSTEM).inner_text()
    assert "1/12" in row and "of 3" in row  # review progress; stage of its target
    page = watched.open(f"{url}/systems/{SYSTEM}")
    assert "stage" in page.locator("#maturity h2").inner_text()
    assert page.locator("#maturity .fix code").count() > 0  # a fixing command per failed check
    assert page.locator("#evals tbody tr").count() == 1
    assert page.locator("#documents tbody tr").count() == 1
    assert "1/" in page.locator("#review").inner_text()
    assert page.locator("#cost h3", has_text="By tag channel").count() == 1
    page = watched.open(f"{url}/incidents")
    assert "customer called back" in page.locator("ol.timeline").inner_text()
    assert "due in" in page.locator("table.deadlines").inner_text()
    page = watched.open(url + "/docs", f"api-docs-{store}")
    # Swagger UI drew it. The server builds the OpenAPI document on its first request
    # (about 1 s of CPU for 44 operations), which a loaded shared machine stretches.
    page.wait_for_selector(".opblock-summary-path", timeout=60_000)
    assert watched.problems == [], watched.problems


def test_the_charts_draw_the_calls_and_htmx_swaps_the_window(served, watched):
    url, *_ = served
    page = watched.open(f"{url}/systems/{SYSTEM}?window=1h")
    assert page.locator(".uplot canvas").count() == 4  # latency, errors, volume, cost
    drawn = page.evaluate("JSON.parse(document.getElementById('chart-data').textContent)")
    assert drawn["total"] == 13 and max(drawn["calls"]) > 0
    assert any(v is not None for v in drawn["p95"])
    page.locator("nav.windows a", has_text="24h").click()
    page.wait_for_url(re.compile(r"window=24h"))  # (wait_for_function would eval: the CSP
    # refuses that)
    page.wait_for_selector("#charts h2:has-text('Last 24h')")
    assert page.locator(".uplot canvas").count() == 4
    assert watched.problems == [], watched.problems


def test_call_explorer_filters_in_place(served, watched):
    url, *_ = served
    page = watched.open(f"{url}/calls")
    assert page.locator("#results tbody tr").count() == 13
    page.select_option("select[name=status]", "error")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"status=error"))
    eventually(lambda: page.locator("#results tbody tr").count() == 1)
    page.locator("#results tbody a").first.click()
    page.wait_for_selector("h1:has-text('Call')")
    assert "upstream 503" in page.locator("pre.problem").inner_text()
    page = watched.open(f"{url}/calls")
    page.fill("input[name=q]", "upstream 503")
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r"q=upstream"))
    eventually(lambda: page.locator("#results tbody tr").count() == 1)
    assert "Filtered the newest 20,000 calls" in page.locator("#results").inner_text()
    assert watched.problems == [], watched.problems


def test_an_anonymous_browser_is_refused_once_keys_exist(served, watched):
    url, ws, _ = served
    _, secret = ws.create_key("team-lead", env="production")
    page = watched.page
    # The key ring re-reads the keys every 2 s; then the dashboard wants a login.
    eventually(lambda: "/login" in (page.goto(f"{url}/audit") and page.url), timeout=10)
    assert page.locator("h1").inner_text() == "Sign in"
    assert page.evaluate(f"fetch('{url}/api/v1/systems').then(r => r.status)") == 401

    page.fill("input[name=key]", "not-a-key")
    page.click("button[type=submit]")
    assert "invalid API key" in page.locator(".problem").inner_text()

    watched.problems.clear()
    page.fill("input[name=key]", secret)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/audit$"))
    assert page.locator("h1").inner_text() == "Audit log"
    assert "team-lead" in page.locator("header .who").inner_text()
    cookie = next(c for c in watched.context.cookies() if c["name"] == "trimtab_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert watched.problems == [], watched.problems

    page.click("text=Sign out")
    page.wait_for_url(re.compile(r"/login"))
    page.goto(f"{url}/")
    assert "/login" in page.url


def test_a_release_diff_and_a_rollback_from_the_page(served, watched, project_dir):
    url, ws, first = served
    (project_dir / "prompts" / f"{SYSTEM}.system.md").write_text("Route politely.\n")
    second, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, second.id, "production")
    page = watched.open(f"{url}/systems/{SYSTEM}")
    page.locator("a", has_text="diff").click()
    page.wait_for_selector("pre.diff .add")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "release-diff.png"), full_page=True)
    assert "Route politely." in page.locator("pre.diff .add").all_inner_texts()[-1]
    assert watched.problems == [], watched.problems
    page = watched.open(f"{url}/systems/{SYSTEM}")
    row = page.locator("tr", has_text="production")
    row.locator("input[name=reason]").fill("too polite")
    row.locator("button", has_text="Roll back").click()
    page.wait_for_load_state("networkidle")
    assert ws.active_release(SYSTEM, "production").id == first.id
    entry = ws.audit_log(action="deployment.rollback")[-1]
    assert entry.actor == "alice@example.com" and "too polite" in entry.payload
    assert watched.problems == [], watched.problems


def sign_in(watched: Watched, url: str, token: str, target: str) -> Page:
    """Sign the browser in with an API token (login turns on within 2 s of the first user)."""
    page = watched.page
    eventually(lambda: "/login" in (page.goto(f"{url}{target}") and page.url), timeout=10)
    page.fill("input[name=key]", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(target) + "$"))
    watched.problems.clear()
    return page


def test_a_reviewer_completes_a_review_with_the_keyboard_only(team, watched):
    url, ws, tokens, _ = team
    ws.review_sample(SYSTEM)
    page = sign_in(watched, url, tokens["rita"], f"/reviews/{SYSTEM}")
    first = page.locator("input[name=call]").get_attribute("value")
    assert "12 left" in page.locator("#review-progress").inner_text()
    keys = page.keyboard
    keys.press("f")
    keys.press("2")
    keys.press("l")
    keys.type("wrong-team, tone")
    keys.press("Escape")
    keys.press("c")
    keys.type("sent to billing")
    keys.press("Control+Enter")
    page.wait_for_url(re.compile(r"saved="))
    assert "11 left" in page.locator("#review-progress").inner_text()
    second = page.locator("input[name=call]").get_attribute("value")
    assert second != first
    keys.press("p")
    keys.press("Enter")
    page.wait_for_url(re.compile(f"saved={second}"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)
    reviews = {r.call_id: r for r in _reviews(ws)}
    assert reviews[first].reviewer == "rita@example.com" and reviews[first].verdict == "fail"
    assert reviews[first].score == 2 and reviews[first].comment == "sent to billing"
    assert reviews[first].to_dict()["labels"] == ["wrong-team", "tone"]
    assert reviews[second].verdict == "pass" and reviews[second].score is None
    assert watched.problems == [], watched.problems


def _reviews(ws):
    from trimtab.store import reviews as review_store

    with ws.store.read() as conn:
        return review_store.for_system(conn, SYSTEM)


def test_an_approver_approves_a_pending_promotion_and_it_applies(team, watched):
    url, ws, tokens, request = team
    page = sign_in(watched, url, tokens["ann"], "/approvals")
    card = page.locator(f"#request-{request.id}")
    assert "alice@example.com" in card.inner_text() and "0/1" in card.inner_text()
    card.locator("input[name=comment]").fill("eval report reviewed")
    card.locator("button", has_text="Approve").click()
    page.wait_for_url(re.compile(f"done={request.id}"))
    assert "Approved and applied" in page.locator(".verdict").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "approvals.png"), full_page=True)
    assert ws.active_release(SYSTEM, "production").id == request.release_id
    done = ws.approval(request.id)
    assert done.state == "applied" and done.approvals == ["ann@example.com"]
    assert done.votes[0].reason == "eval report reviewed"
    assert watched.problems == [], watched.problems


def test_a_frozen_system_shows_its_banner_and_the_incident_its_hold(served, watched):
    """A serious incident freezes its system: the portfolio and the system page say so,
    the incident page shows the freeze, the hold and the timeline, and its report
    draft opens from it; an approver lifts the freeze with the page's form."""
    url, ws, release = served
    incident = ws.open_incident(SYSTEM, severity="critical", summary="Misrouted safety",
                                categories=["ai-act-serious"])
    page = watched.open(f"{url}/", "frozen-portfolio")
    banner = page.locator(f".banner.frozen[data-frozen='{SYSTEM}']")
    assert banner.is_visible() and f"{SYSTEM} is frozen" in banner.inner_text()
    assert incident.id in banner.inner_text()
    assert watched.problems == [], watched.problems
    page = watched.open(f"{url}/systems/{SYSTEM}", "frozen-system")
    banner = page.locator(".banner.frozen")
    assert banner.is_visible() and release.id[:12] in banner.inner_text()
    banner.locator("a", has_text=incident.id).click()
    page.wait_for_url(re.compile(f"/incidents/{incident.id}$"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "frozen-incident.png"), full_page=True)
    assert "held: never pruned" in page.locator("table.holds").inner_text()
    events = page.locator("#reconstruction table.events").inner_text()
    assert "incident.open" in events and "system.freeze" in events  # the timeline's changes
    page.locator("a", has_text="ai-act-serious-incident").click()
    page.wait_for_selector("table.report")
    assert page.locator("tr.gap").count() > 0
    assert watched.problems == [], watched.problems
    page = watched.open(f"{url}/incidents/{incident.id}")
    page.fill("input[name=reason][aria-label='Reason to lift the freeze']", "contained")
    page.locator("button", has_text="Lift freeze").click()
    page.wait_for_selector("text=Freeze complaint-router")
    assert page.locator(".banner.frozen").count() == 0 and ws.freezes() == []
    page.locator("button", has_text="Freeze complaint-router").click()  # frozen again
    page.wait_for_selector("text=Lift freeze")
    assert [f.incident_id for f in ws.freezes()] == [incident.id]
    page.fill("input[name=reason][aria-label='Reason to release the legal hold']", "closed")
    page.locator("button", has_text="Release hold").click()
    page.wait_for_selector("table.holds >> text=released")
    assert page.locator("button", has_text="Release hold").count() == 0
    assert not any(h.active for h, _ in ws.holds(include_released=True))
    assert watched.problems == [], watched.problems


def test_pages_fit_a_phone_without_scrolling_sideways(served, watched):
    """At 390 px the page never scrolls sideways (every page was 630-1170 px wide: the
    header's links did not wrap, the charts and columns kept 480-520 px minimums, tables
    pushed the page): the header wraps, a wide table scrolls in its own box."""
    url, ws, _ = served
    watched.page.set_viewport_size({"width": 390, "height": 800})
    call = ws.calls(limit=1)[0]
    for path in ("/", f"/systems/{SYSTEM}", "/calls", f"/calls/{call.id}", "/audit",
                 "/reviews", "/incidents"):
        page = watched.open(url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        audit = page.locator("header nav a", has_text="Audit").bounding_box()
        assert audit and audit["x"] + audit["width"] <= 390, (path, audit)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "incidents-phone.png"), full_page=True)
    assert watched.problems == [], watched.problems
