"""Budgets on gateway keys (``key:`` under ``budgets:``): the rollups' key rows, spend per
key in the cost report against its budget, the budget_used alert per key, and `trimtab
validate` naming a budget whose key the store does not hold, at its file and line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.helpers.alerts import add_yaml, state_of
from trimtab.observe import cost_report

KEY_BUDGETS = """
budgets:
  support-bot:
    key: support-bot
    monthly_usd: 1
    enforce: true
  sales-bot:
    key: sales-bot
    monthly_usd: 5
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def spend(ws, micro: int, when: str, key=None, system="complaint-router"):
    ws.record(system, {"q": "x"}, "ok", latency_ms=10, model="sim-a", cost_micro_usd=micro,
              time=at(when), api_key_id=key.id if key is not None else None)


def line_of(path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


def test_spend_per_key_reads_from_the_key_rollup_rows(ws):
    support, _ = ws.create_key("support-bot", env="production")
    sales, _ = ws.create_key("sales-bot", env="production")
    spend(ws, 300_000, "2026-10-03T10:00:00", support)
    spend(ws, 200_000, "2026-10-03T10:30:00", support, system="ticket-tagger")
    spend(ws, 50_000, "2026-10-04T11:00:00", sales)
    spend(ws, 999_000, "2026-10-04T12:00:00")  # no key: in no key row
    assert ws.flush()
    rows = {r.group["key"]: r for r in ws.metrics(window=timedelta(days=30), by=("key",),
                                                  end=at("2026-10-30T00:00:00"))}
    assert set(rows) == {support.id, sales.id}
    assert (rows[support.id].cost_usd, rows[support.id].calls) == (Decimal("0.5"), 2)
    assert (rows[sales.id].cost_usd, rows[sales.id].calls) == (Decimal("0.05"), 1)


def test_the_report_shows_spend_by_key_against_its_budget(ws, cli, tmp_path):
    add_yaml(ws.project_file.parent, KEY_BUDGETS)
    old, _ = ws.create_key("support-bot", env="production")
    ws.revoke_key(old.id)
    new, _ = ws.create_key("support-bot", env="production")  # rotated: the same budget
    sales, _ = ws.create_key("sales-bot", env="production")
    spend(ws, 700_000, "2026-10-02T09:00:00", old)
    spend(ws, 600_000, "2026-10-12T09:00:00", new)  # $1.30 of $1 over the two keys
    spend(ws, 1_000_000, "2026-10-13T09:00:00", sales)
    spend(ws, 400_000, "2026-10-14T09:00:00")  # no key
    spend(ws, 5_000_000, "2026-11-01T00:00:00", new)  # next month: not counted
    assert ws.flush()
    report = ws.cost_report("2026-10")
    keys = {line.name: line for line in report.section("key")}
    assert {name: line.cost_usd for name, line in keys.items()} == {
        "support-bot": Decimal("1.3"), "sales-bot": Decimal("1"), "(no key)": Decimal("0.4")}
    assert keys["support-bot"].calls == 2
    assert report.sections[:4] == ["system", "model", "user", "key"]
    budgets = {b.name: b for b in report.budgets}
    assert (budgets["support-bot"].scope, budgets["support-bot"].spent_usd) == \
        ("key support-bot", Decimal("1.3"))
    assert budgets["sales-bot"].used == pytest.approx(0.2)
    text = cost_report.markdown(report, None)
    assert ("| support-bot | key support-bot | $1.00 | $1.30 | 130.0% **over budget** | -$0.30 |"
            in text)
    assert "## Spend by gateway key" in text
    assert "| support-bot | $1.30 | $0 | +$1.30 (new) | 2 |" in text
    printed = cli("report", "cost", "--month", "2026-10", "--out", str(tmp_path)).stdout
    assert "budget support-bot (key support-bot): $1.30 of $1.00 (130.0%) - over budget" \
        in printed


def test_a_report_without_keyed_calls_has_no_key_section(ws):
    spend(ws, 100_000, "2026-10-02T09:00:00")
    assert ws.flush()
    assert "key" not in ws.cost_report("2026-10").sections


def test_an_alert_rule_watches_a_key_budget(ws):
    add_yaml(ws.project_file.parent, KEY_BUDGETS + """
alerts:
  bot-budget:
    metric: budget_used
    budget: support-bot
    comparator: ">="
    threshold: 0.8
""")
    key, _ = ws.create_key("support-bot", env="production")
    other, _ = ws.create_key("other-bot", env="production")
    spend(ws, 5_000_000, "2026-09-30T23:00:00", key)  # last month: not counted
    spend(ws, 500_000, "2026-10-03T10:00:00", key)
    spend(ws, 5_000_000, "2026-10-03T11:00:00", other)  # another key: not this budget
    assert ws.flush()
    cycle = ws.check_alerts(now=at("2026-10-20T12:00:00"))
    state = state_of(cycle, "bot-budget", system="key:support-bot")
    assert (state.value, state.state) == (pytest.approx(0.5), "ok")
    spend(ws, 400_000, "2026-10-21T10:00:00", key)
    assert ws.flush()
    cycle = ws.check_alerts(now=at("2026-10-21T12:00:00"))
    state = state_of(cycle, "bot-budget", system="key:support-bot")
    assert state.firing and state.value == pytest.approx(0.9)


def test_validate_names_a_budget_on_a_key_the_store_does_not_hold(ws, cli):
    add_yaml(ws.project_file.parent, KEY_BUDGETS)
    ws.create_key("support-bot", env="production")
    path = ws.project_file
    result = cli("validate", str(path), expect=2)
    lines = [line for line in result.output.splitlines() if "budgets." in line]
    assert len(lines) == 1, result.output
    assert lines[0].strip().startswith(
        f"trimtab.yaml:{line_of(path, '    key: sales-bot')}:10: budgets.sales-bot.key: no "
        "gateway key is named 'sales-bot'."), result.output
    assert "Fix: create it (`trimtab keys create sales-bot --env ENV`)" in result.output
    ws.create_key("sales-bot", env="production")
    assert "error" not in cli("validate", str(path)).output


def test_a_typo_in_a_key_budget_gets_a_suggestion(ws):
    add_yaml(ws.project_file.parent, """
budgets:
  bot:
    key: suport-bot
    monthly_usd: 1
""")
    ws.create_key("support-bot", env="production")
    [problem] = ws.key_budget_problems(ws.project)
    assert "Did you mean 'support-bot'?" in problem and "(known: support-bot)" in problem


def test_a_budget_covers_one_of_system_team_or_key(project_dir):
    import trimtab

    add_yaml(project_dir, """
budgets:
  two:
    key: support-bot
    team: support
    monthly_usd: 1
  blank:
    key: " "
    monthly_usd: 1
""")
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(project_dir / "trimtab.yaml")
    by_field = {p.split(": ")[1]: p for p in info.value.problems}
    assert "exactly one of `system:`" in by_field["budgets.two"]
    assert "`key:` (a gateway key's name)" in by_field["budgets.two"]
    assert "the key name is empty" in by_field["budgets.blank.key"]


def test_without_a_store_here_key_budgets_are_not_checked(project_dir, monkeypatch):
    """A CI checkout has trimtab.yaml but no store: validate warns, it does not fail."""
    import trimtab

    monkeypatch.delenv("TRIMTAB_DATABASE_URL", raising=False)
    add_yaml(project_dir, KEY_BUDGETS)
    ws = trimtab.connect(project_dir)
    assert not (project_dir / ".trimtab" / "trimtab.db").exists()
    assert ws.key_budget_problems(ws.project) is None
    assert not (project_dir / ".trimtab" / "trimtab.db").exists()  # asking made no store


def test_keys_create_sets_a_monthly_budget(ws, cli):
    import json

    printed = cli("keys", "create", "support-bot", "--env", "production", "--monthly-budget",
                  "50", "--enforce-budget").stdout
    assert "budget $50.00 a month, enforced" in printed
    cli("keys", "create", "sales-bot", "--env", "production", "--monthly-budget", "0.25")
    listed = {k["name"]: k for k in json.loads(cli("keys", "list", "--json").stdout)}
    assert (listed["support-bot"]["monthly_budget_usd"],
            listed["support-bot"]["budget_enforced"]) == ("50", True)
    assert (listed["sales-bot"]["monthly_budget_usd"],
            listed["sales-bot"]["budget_enforced"]) == ("0.25", False)
    assert "$50.00 enforced" in cli("keys", "list").stdout
    support = next(k for k in ws.keys() if k.name == "support-bot")
    spend(ws, 10_000_000, "2026-10-03T10:00:00", support)
    assert ws.flush()
    budgets = {b.name: b for b in ws.cost_report("2026-10").budgets}
    assert (budgets["key:support-bot"].scope, budgets["key:support-bot"].used) == \
        ("key support-bot", pytest.approx(0.2))
    assert budgets["key:sales-bot"].spent_usd == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--monthly-budget", "0"], "a budget is USD per month above 0"),
    (["--monthly-budget", "nan"], "a budget is USD per month above 0"),
    (["--monthly-budget", "1e12"], "at most 1,000,000,000"),
    (["--enforce-budget"], "--enforce-budget needs a budget to enforce"),
])
def test_a_bad_key_budget_is_a_clear_error(cli, args, message):
    result = cli("keys", "create", "bot", "--env", "production", *args, expect=2)
    assert message in result.output
    assert "bot" not in cli("keys", "list").stdout


def test_a_declared_key_budget_wins_over_the_keys_own(ws):
    add_yaml(ws.project_file.parent, KEY_BUDGETS)
    ws.create_key("support-bot", env="production", monthly_budget_usd=100)
    spend(ws, 100_000, "2026-10-03T10:00:00")
    assert ws.flush()
    names = [b.name for b in ws.cost_report("2026-10").budgets]
    assert names == ["support-bot", "sales-bot"]  # no key:support-bot beside the declared one
