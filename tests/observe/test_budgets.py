"""Monthly budgets in trimtab.yaml: validation with file/line, spend against each budget in
the cost report, and the budget_used alert metric."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

import trimtab
from tests.helpers.alerts import add_yaml, state_of
from trimtab.observe import cost_report

BUDGETS = """
budgets:
  router:
    description: The complaint router's model spend.
    system: complaint-router
    monthly_usd: 2
  support-team:
    team: support
    monthly_usd: 0.5
    enforce: true
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def problems_of(path):
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(path)
    return info.value.problems


def line_of(path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


def spend(ws, micro: int, when: str, team: str | None = None, system="complaint-router"):
    ws.record(system, {"q": "x"}, "ok", latency_ms=10, model="sim-a",
              tags={"team": team} if team else None, cost_micro_usd=micro, time=at(when))


def test_budgets_load(project_dir):
    add_yaml(project_dir, BUDGETS)
    spec = trimtab.load_project(project_dir / "trimtab.yaml").spec
    assert spec.budgets["router"].scope == "system complaint-router"
    assert spec.budgets["support-team"].scope == "team support"
    assert spec.budgets["support-team"].enforce and not spec.budgets["router"].enforce


def test_bad_budgets_name_file_line_and_fix(project_dir):
    add_yaml(project_dir, """
        budgets:
          both:
            system: complaint-router
            team: support
            monthly_usd: 5
          typo:
            system: complaint-routr
            monthly_usd: 5
          free:
            team: support
            monthly_usd: 0
          words:
            team: support
            monthly_usd: "100 dollars"
        alerts:
          spent:
            metric: budget_used
            budget: suport-team
            comparator: ">"
            threshold: 0.8
          nobudget:
            metric: budget_used
            comparator: ">"
            threshold: 0
    """)
    path = project_dir / "trimtab.yaml"
    problems = problems_of(path)
    by_field = {p.split(": ")[1]: p for p in problems}
    assert "a budget covers exactly one of `system:`" in by_field["budgets.both"]
    typo = by_field["budgets.typo.system"]
    assert typo.startswith(f"trimtab.yaml:{line_of(path, '    system: complaint-routr')}:")
    assert "Did you mean 'complaint-router'?" in typo
    assert by_field["budgets.free.monthly_usd"].startswith(
        f"trimtab.yaml:{line_of(path, '    monthly_usd: 0')}:")
    assert "budgets.words.monthly_usd" in by_field
    assert "unknown budget 'suport-team'" in by_field["alerts.spent.budget"]
    assert "add `budget:`" in by_field["alerts.nobudget.metric"]
    assert "0.8 for 80%" in by_field["alerts.nobudget.threshold"]


def test_the_report_shows_spend_against_each_budget(ws, cli, tmp_path):
    add_yaml(ws.project_file.parent, BUDGETS)
    spend(ws, 1_500_000, "2026-10-03T10:00:00", team="support")  # $1.50, over the team's $0.50
    spend(ws, 250_000, "2026-10-04T10:00:00", team="sales")
    spend(ws, 100_000, "2026-10-05T10:00:00", team="support", system="ticket-tagger")
    spend(ws, 9_000_000, "2026-11-01T00:00:00", team="support")  # next month: not counted
    assert ws.flush()
    report = ws.cost_report("2026-10")
    budgets = {b.name: b for b in report.budgets}
    assert budgets["router"].spent_usd == Decimal("1.75")
    assert budgets["router"].used == pytest.approx(0.875)
    assert budgets["support-team"].spent_usd == Decimal("1.6")
    assert budgets["support-team"].used == pytest.approx(3.2)
    text = cost_report.markdown(report, None)
    assert "| router | system complaint-router | $2.00 | $1.75 | 87.5% | $0.25 |" in text
    assert ("| support-team | team support | $0.50 | $1.60 | 320.0% **over budget** | -$1.10 |"
            in text)
    printed = cli("report", "cost", "--month", "2026-10", "--out", str(tmp_path)).stdout
    assert "budget router (system complaint-router): $1.75 of $2.00 (87.5%)" in printed
    assert "budget support-team (team support): $1.60 of $0.50 (320.0%) - over budget" in printed
    data = json.loads(cli("report", "cost", "--month", "2026-10", "--out", str(tmp_path),
                          "--json").stdout)
    assert {b["name"]: b["spent_usd"] for b in data["budgets"]} == \
        {"router": "1.75", "support-team": "1.6"}


def test_an_alert_rule_watches_a_budget(ws):
    add_yaml(ws.project_file.parent, BUDGETS + """
alerts:
  router-budget:
    metric: budget_used
    budget: router
    comparator: ">"
    threshold: 0.8
  team-budget:
    metric: budget_used
    budget: support-team
    comparator: ">="
    threshold: 1
""")
    spend(ws, 1_000_000, "2026-09-30T23:00:00", team="support")  # last month: not counted
    spend(ws, 1_500_000, "2026-10-03T10:00:00")  # router $1.50 of $2: 75%
    spend(ws, 400_000, "2026-10-04T10:00:00", team="support", system="ticket-tagger")
    assert ws.flush()
    cycle = ws.check_alerts(now=at("2026-10-20T12:00:00"))
    router = state_of(cycle, "router-budget")
    assert (router.value, router.state) == (pytest.approx(0.75), "ok")
    assert "$1.50 of $2.00 this month (system complaint-router, 1 calls)" in router.detail
    team = state_of(cycle, "team-budget", system="team:support")
    assert (team.value, team.state) == (pytest.approx(0.8), "ok")
    spend(ws, 200_000, "2026-10-21T10:00:00", team="support")  # router 85%, team 120%
    assert ws.flush()
    cycle = ws.check_alerts(now=at("2026-10-21T12:00:00"))
    assert state_of(cycle, "router-budget").firing
    team = state_of(cycle, "team-budget", system="team:support")
    assert team.firing and team.value == pytest.approx(1.2)
    assert team.event.document["summary"].startswith(
        "team:support: budget_used 120.0% of the budget >= 100.0% of the budget")
    # A new month starts from zero: both resolve.
    cycle = ws.check_alerts(now=at("2026-11-02T12:00:00"))
    assert state_of(cycle, "router-budget").state in ("resolved", "no_data")
    assert state_of(cycle, "router-budget").value == 0.0
