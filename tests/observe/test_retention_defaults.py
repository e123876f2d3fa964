"""Retention by risk: a declared system without retention_days gets its risk's
default (high-risk: at least 180 days, EU AI Act Arts. 19 and 26(6)), and a
high-risk system set below that is an error naming the field."""

import json
from datetime import UTC, datetime, timedelta

import trimtab
from tests.helpers import edit

SYSTEM = "complaint-router"


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def record(ws, system: str, *ages: float) -> list[str]:
    ids = [ws.record(system, {"n": i}, {"ok": True}, latency_ms=5.0, env="production",
                     time=days_ago(age)) for i, age in enumerate(ages)]
    assert ws.flush()
    return ids


def stored(ws, system: str) -> set[str]:
    return {c.id for c in ws.calls(system=system, limit=1000)}


def make_high_risk(project_dir, extra: str = "") -> None:
    edit(project_dir / "trimtab.yaml", "    risk: limited", "    risk: high" + extra)


def test_a_high_risk_system_keeps_its_calls_180_days_by_default(ws, project_dir):
    make_high_risk(project_dir)
    gone = record(ws, SYSTEM, 181, 400)
    kept = record(ws, SYSTEM, 179, 1)
    legacy = record(ws, "legacy-scorer", 900)  # undeclared: no risk, kept
    router, other = ws.prune()
    assert (router.calls, router.rule) == (2, "retention.high: 180 (default for its risk)")
    assert (other.calls, other.before) == (0, None)
    assert stored(ws, SYSTEM) == set(kept) and not set(gone) & stored(ws, SYSTEM)
    assert stored(ws, "legacy-scorer") == set(legacy)
    [entry] = ws.audit_log(action="calls.prune")
    payload = json.loads(entry.payload)
    assert (payload["retention_days"], payload["default_for_risk"]) == (180, "high")
    assert ws.verify_audit().ok


def test_defaults_for_lower_risks_are_declared_and_a_system_s_own_value_wins(ws, project_dir):
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("retention:\n  limited: 30\n  high: 365\n")
    record(ws, SYSTEM, 31, 29)
    [router] = ws.prune(timedelta(days=1))  # --older-than never reaches a risk default
    assert (router.calls, router.rule) == (1, "retention.limited: 30 (default for its risk)")
    edit(project_dir / "trimtab.yaml", "    customer_facing: false",
         "    customer_facing: false\n    retention_days: 10")
    record(ws, SYSTEM, 11)
    [router] = ws.prune(timedelta(days=1))
    assert (router.calls, router.rule) == (2, "retention_days: 10")  # 29 and 11 days old


def test_a_high_risk_system_below_180_days_is_an_error_naming_the_field(cli, project_dir):
    make_high_risk(project_dir, "\n    retention_days: 90")
    result = cli("validate", expect=2)
    assert "systems.complaint-router.retention_days: 90 is below the 180 days the EU AI " \
        "Act requires" in result.output
    assert "trimtab.yaml:" in result.output and "Fix: retention_days: 180 or more" in \
        result.output
    edit(project_dir / "trimtab.yaml", "retention_days: 90", "retention_days: 180")
    cli("validate")
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("retention:\n  high: 30\n")
    result = cli("validate", expect=2)
    assert "retention.high: 30 is below the 180 days" in result.output
    assert "Fix: retention: {high: 180} or more" in result.output
    with open(project_dir / "trimtab.yaml", "a") as handle:
        handle.write("  minimal: 0\n")
    assert "retention.minimal" in cli("validate", expect=2).output


def test_a_high_risk_system_no_longer_declared_keeps_its_calls_180_days(ws, project_dir,
                                                                         database_url):
    """A decommissioned high-risk system (gone from trimtab.yaml), or a prune run
    with only TRIMTAB_DATABASE_URL, must not fall to --older-than: the store
    registered its risk, and its logs outlive its entry in the project file."""
    make_high_risk(project_dir)
    ws.sync()
    gone = record(ws, SYSTEM, 200)
    kept = record(ws, SYSTEM, 40, 1)
    with trimtab.connect(database_url=database_url) as bare:  # no project file
        assert bare.prune(timedelta(days=30), dry_run=True)[0].calls == 1
        [router] = bare.prune(timedelta(days=30))
    assert (router.calls, router.rule) == (1, "retention.high: 180 (default for its risk)")
    assert stored(ws, SYSTEM) == set(kept) and not set(gone) & stored(ws, SYSTEM)

    # The system leaves the project file (a successor takes its place).
    edit(project_dir / "trimtab.yaml", f"  {SYSTEM}:\n", "  successor-router:\n")
    with trimtab.connect(project_dir, database_url=database_url) as later:
        assert SYSTEM not in later.project.spec.systems
        [router, *_] = later.prune(timedelta(days=30), system=SYSTEM)
    assert (router.calls, router.rule) == (0, "retention.high: 180 (default for its risk)")
    assert stored(ws, SYSTEM) == set(kept)
