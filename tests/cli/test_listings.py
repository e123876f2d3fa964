"""Every listing reads whole in an 80-column terminal, in a pipe and in a CI log.

A release id, a system name, a cost or a latency cut to `si…` is useless, so
each listing is rendered both ways over a store with real data and fails on
`…` anywhere; the values that identify things must appear in full. Which
commands print a listing is found by reading the CLI's code, so a new one
cannot slip past: it fails here until it joins LISTINGS.
"""

from __future__ import annotations

import inspect
import json
import re
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import trimtab
from tests.helpers import edit, promote_through
from tests.helpers.alerts import add_yaml, record
from trimtab.cli import app, output

SYSTEM = "complaint-router"
#: A second system whose name alone takes most of an 80-column line.
LONG = "warranty-claims-triage-for-the-eu-retail-channel"
LONG_SYSTEM = f"""
  {LONG}:
    description: Sorts warranty claims of the EU retail channel.
    owner: warranty-operations-of-the-retail-channel@example.com
    tier: 1
    risk: high
    logging: redacted
    customer_facing: true
    release:
      provider: simulated
      model: sim-router-1
      prompts:
        system: prompts/complaint-router.system.md
        user: prompts/complaint-router.user.md
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")

RULE = """
alerts:
  router-errors-in-production-over-the-last-quarter-hour:
    description: Complaints are not being routed.
    system: complaint-router
    env: production
    metric: error_rate
    comparator: ">"
    threshold: 0.1
    window: 15m
    for: 0
"""

#: Every listing command, with the arguments that make it list something.
LISTINGS = [
    ["systems"],
    ["releases", SYSTEM],
    ["status"],
    ["status", SYSTEM],
    ["history", SYSTEM],
    ["metrics"],
    ["metrics", SYSTEM, "--by", "release", "--by", "env", "--by", "model"],
    ["calls"],
    ["keys", "list"],
    ["audit", "log"],
    ["alerts", "list"],
    ["alerts", "history"],
    ["drift", "baselines", SYSTEM],
    ["drift", "history", SYSTEM],
    ["prune", "--dry-run", "--older-than", "1d"],
    ["check"],
    ["drift", "check", SYSTEM, "--current", "1h", "--no-save"],
    ["users", "list"],
    ["tokens", "list"],
    ["plugins"],
    ["suspended"],
    ["approvals", "--all"],
    ["incidents", "--all"],
    ["incident", "drills"],
    ["labels", SYSTEM],
    ["export", "verify", "evidence"],
    ["assurance", "reviews"],
    ["assurance", "findings", "--all"],
    ["quality", "releases", SYSTEM],
    ["quality", "weekly", SYSTEM],
    ["review", "flags", SYSTEM],
    ["incident", "holds", "--all"],
    ["timeline", SYSTEM, "--at", "0m", "--window", "6h"],
    ["assess"],
    ["assess", LONG, "--history"],
    ["assess", "--portfolio"],
    ["eval", SYSTEM, "--release", "{release}"],
    ["evals", SYSTEM],
    ["evals", SYSTEM, "--run", "{run}"],
    ["review", "sample", SYSTEM],
    ["docs", LONG, "--kind", "model-card", "--out", "{out}"],
    ["incident", "open", LONG, "--severity", "critical", "-c", "personal-data-breach",
     "-m", "claims of one customer shown to another"],
]
#: The command each entry runs, for the test that every listing is here.
COMMANDS = {
    "systems", "releases", "status", "history", "metrics", "calls", "keys list", "audit log",
    "alerts list", "alerts history", "drift baselines", "drift history", "prune", "check",
    "drift check", "users list", "tokens list", "plugins", "suspended", "approvals", "incidents",
    "incident drills", "labels", "export verify", "assurance reviews",
    "assurance findings", "quality releases", "quality weekly", "review flags",
    "incident holds", "timeline", "assess", "eval", "evals", "review sample", "docs",
    "incident open",
}
#: Prints a table, but builds a whole demo workspace first: tests/demo covers it.
NOT_HERE = {"demo"}


@pytest.fixture
def busy(cli, project_dir):
    """A store with a release in every environment, priced calls, a key, an alert
    that fired and a drift baseline and result: something in every listing."""
    add_yaml(project_dir, RULE)
    edit(project_dir / "trimtab.yaml", "systems:\n", "systems:" + LONG_SYSTEM)
    ws = trimtab.connect(project_dir)
    long_release, _ = ws.release(LONG)
    promote_through(ws, LONG, long_release.id, "production")
    release, _ = ws.release(SYSTEM, note="first release, with a note long enough to wrap")
    promote_through(ws, SYSTEM, release.id, "production", reason="evals green on 200 cases")
    now = datetime.now(UTC)
    labelled = record(ws, 30, at=now - timedelta(hours=2), latency=800.0, cost=40)
    ws.label({labelled[0]: "seals", labelled[1]: "paint-and-coatings-of-the-outer-lid"})
    ws.flag(labelled[2], reason="the customer says the routing team never answered")
    ws.flag(labelled[2], reason="the customer says the routing team never answered")
    record(ws, 40, errors=8, at=now, latency=1234.5, cost=42)
    record(ws, 5, at=now, latency=98765.4, cost=123456789, system=LONG)
    ws.create_key("crm-backend-for-the-support-team", env="production",
                  tags={"team": "support", "cost-centre": "cc-4711"})
    ws.drift_baseline(SYSTEM, since=now - timedelta(hours=3), until=now - timedelta(hours=1))
    ws.add_user("alice@example.com", "admin")  # the one running these commands
    ws.add_user("release-manager-for-the-support-team@example.com", "approver")
    ws.create_token(user="release-manager-for-the-support-team@example.com",
                    name="ci-pipeline-of-the-complaint-router")
    ws.suspend(SYSTEM, "dev", reason="held while the incident is open")
    ws.record_drill(SYSTEM, scenario="the provider answers 401 for every call for an hour",
                    participants=["alice@example.com", "oncall-of-the-quality-team@example.com"],
                    findings="fallback held; the pager rota was out of date", restore_minutes=7)
    review = ws.record_independent_review(
        SYSTEM, reviewer="dana.reviewer-from-internal-audit@example.com",
        organisation="Internal audit, group risk and compliance office",
        scope="release process, eval gate and human oversight of routing",
        findings=["the runbook names no data protection contact for breach reports",
                  "eval cases cover German and English only"])
    ws.close_finding(review.findings[1].id, resolution="French cases added in release 2")
    (project_dir / "prompts" / f"{SYSTEM}.user.md").write_text("v2: {{text}}\n")
    second, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, second.id, "staging")
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("policies:\n  production:\n    approvals: 1\n")
    ws.promote(SYSTEM, second.id, "production", reason="needs an approver")
    ws.export_evidence(SYSTEM, since=now - timedelta(days=1), out=project_dir.parent / "evidence")
    ws.open_incident(SYSTEM, severity="high", summary="safety complaints routed to billing",
                     categories=["ai-act-serious", "nis2-significant"])  # freezes, holds
    ws.assess(LONG)
    ws.assess(LONG)
    run = ws.eval(SYSTEM, release=release.id).runs[0].stored
    ws.close()
    cli("check", expect=1)
    cli("drift", "check", SYSTEM, "--current", "1h")
    return types.SimpleNamespace(release=release, long_release=long_release, run=run,
                                 out=project_dir.parent / "documents")


def listings(busy) -> list[list[str]]:
    """LISTINGS with the ids only the store knows filled in."""
    ids = {"release": busy.release.short_id, "run": busy.run.short_id, "out": str(busy.out)}
    return [[arg.format(**ids) for arg in args] for args in LISTINGS]


def render(cli, monkeypatch, args, *, terminal: bool) -> str:
    """``trimtab ARGS`` in an 80-column terminal (colours off, so the text can be
    read back), or in a pipe, which Rich also takes to be 80 columns wide."""
    monkeypatch.setattr(output.console, "width", 80)
    monkeypatch.setattr(output.console, "_force_terminal", terminal)
    if terminal:
        monkeypatch.setattr(output.console, "_color_system", None)
    return ANSI.sub("", cli(*args, expect=None).stdout)


@pytest.mark.parametrize("terminal", [True, False], ids=["80-columns", "pipe"])
def test_no_listing_cuts_a_value(busy, cli, monkeypatch, terminal):
    release = busy.release
    for args in listings(busy):
        text = render(cli, monkeypatch, args, terminal=terminal)
        assert "…" not in text, (args, text)
        if terminal:
            table = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
            assert all(len(line) <= 80 for line in table), (args, text)
        if args[0] in ("releases", "status", "history"):
            assert release.short_id in text, (args, text)
        if args[0] in ("status", "history", "metrics", "calls"):
            assert SYSTEM in text or args[1:2] == [SYSTEM], (args, text)
    calls = render(cli, monkeypatch, ["calls"], terminal=terminal)
    assert "$0.000042" in calls and "1,234" in calls
    metrics = render(cli, monkeypatch, ["metrics"], terminal=terminal)
    assert "$0.0029" in metrics and "11.4%" in metrics  # 30 calls at $0.00004, 40 at $0.000042
    keys = render(cli, monkeypatch, ["keys", "list"], terminal=terminal)
    assert "crm-backend-for-the-support-team" in keys
    rules = render(cli, monkeypatch, ["alerts", "list"], terminal=terminal)
    assert "router-errors-in-production-over-the-last-quarter-hour" in rules
    metrics = render(cli, monkeypatch, ["metrics"], terminal=terminal)
    assert LONG in metrics and "$617.28" in metrics  # 5 calls at $123.456789
    calls = render(cli, monkeypatch, ["calls", "--system", LONG], terminal=terminal)
    assert "98,765" in calls and "$123.46" in calls
    evals = render(cli, monkeypatch, ["evals", SYSTEM], terminal=terminal)
    assert busy.run.short_id in evals and release.short_id in evals
    assessed = render(cli, monkeypatch, ["assess", LONG], terminal=terminal)
    assert "warranty-operations-of-the-retail-channel@example.com" in assessed  # not folded
    portfolio = render(cli, monkeypatch, ["assess", "--portfolio"], terminal=terminal)
    assert LONG in portfolio and SYSTEM in portfolio
    sample = render(cli, monkeypatch, ["review", "sample", SYSTEM], terminal=terminal)
    assert release.short_id in sample
    reviewed = render(cli, monkeypatch, ["review", "next", SYSTEM, "--verdict", "pass"],
                      terminal=terminal)
    assert re.search(r"call [0-9a-f]{32} · release [0-9a-f]{12} · \S+ · \d+ left", reviewed)


def test_a_pipe_gets_every_column_one_line_per_row(busy, cli, monkeypatch):
    text = render(cli, monkeypatch, ["history", SYSTEM], terminal=False)
    header, *rows = text.splitlines()
    assert header.split() == ["#", "env", "release", "how", "when", "by", "reason"]
    assert len(rows) == 5 and all("alice@example.com" in row for row in rows)
    assert rows[2].endswith("evals green on 200 cases")


def test_a_pipe_never_breaks_a_line(busy, cli, monkeypatch):
    """A CI log is grepped: a sentence that names a seed or a command stays on one line."""
    text = render(cli, monkeypatch, ["review", "sample", SYSTEM], terminal=False)
    assert re.search(r"\(seed \d+, sample [0-9a-f]{12}\)", text.splitlines()[0]), text
    text = render(cli, monkeypatch, ["assess", LONG], terminal=False)
    assert f"`trimtab rollback {LONG} --env production`" in text


@pytest.mark.parametrize("terminal", [True, False], ids=["80-columns", "pipe"])
def test_a_prompt_diff_keeps_its_long_lines_whole(cli, project_dir, monkeypatch, terminal):
    ws = trimtab.connect(project_dir)
    old, _ = ws.release(SYSTEM)
    line = ("Complaint from {{customer}} about {{product}}; when it mentions a burn or smoke, "
            "route it to electrical and escalate-to-the-duty-manager-within-the-hour: {{text}}")
    (project_dir / "prompts" / f"{SYSTEM}.user.md").write_text(line + "\n")
    new, _ = ws.release(SYSTEM)
    ws.close()
    text = render(cli, monkeypatch, ["diff", old.short_id, new.short_id], terminal=terminal)
    assert set(line.split()[1:]) <= set(text.split()), text
    if not terminal:
        assert f"+{line}" in text.splitlines()


def test_a_narrow_terminal_names_the_columns_it_left_out(busy, cli, monkeypatch):
    text = render(cli, monkeypatch, ["status"], terminal=True)
    assert "not shown at 80 columns:" in text and "--json" in text


def test_every_listing_has_json(busy, cli):
    for args in listings(busy):
        data = json.loads(cli(*args, "--json", expect=None).stdout)
        assert isinstance(data, list | dict), args


def prints_a_listing(function, seen=None) -> bool:
    """Whether ``function`` calls print_listing, itself or through the CLI's own
    helpers (``_print``, ``print_report``, ...), read from its source."""
    seen = set() if seen is None else seen
    function = inspect.unwrap(function)
    if function in seen:
        return False
    seen.add(function)
    source = inspect.getsource(function)
    if "print_listing(" in source:
        return True
    called = set(re.findall(r"(?<![.\w])([A-Za-z_]\w*)\(", source))  # not ws.holds(...)
    helpers = [function.__globals__.get(name) for name in called]
    return any(prints_a_listing(helper, seen) for helper in helpers
               if isinstance(helper, types.FunctionType)
               and helper.__module__.startswith("trimtab.cli.")
               and helper.__module__ != "trimtab.cli.output")


def commands_that_print_a_listing() -> set[str]:
    from typer.main import get_command

    found = set()

    def walk(group, prefix):
        for name, command in group.commands.items():
            if command.callback and prints_a_listing(command.callback):
                found.add(" ".join(prefix + [name]))
            if hasattr(command, "commands"):
                walk(command, prefix + [name])

    walk(get_command(app), [])
    return found


def test_every_command_that_prints_a_listing_is_in_this_test():
    """A new listing command must join LISTINGS, and so the checks above."""
    found = commands_that_print_a_listing()
    assert {"status", "assess", "eval", "incident open", "demo"} <= found  # through helpers
    assert found - NOT_HERE == COMMANDS
    ran = {" ".join(args[:2]) if " ".join(args[:2]) in COMMANDS else args[0]
           for args in LISTINGS}
    assert ran == COMMANDS


def test_only_the_shared_renderer_builds_a_table():
    """A Rich Table built elsewhere would cut values to `…` at 80 columns and in a
    pipe; print_listing (trimtab/cli/output.py) never does."""
    cli_folder = Path(output.__file__).parent
    builders = [path.name for path in sorted(cli_folder.glob("*.py"))
                if path.name != "output.py" and re.search(r"\bTable\b", path.read_text())]
    assert builders == []
