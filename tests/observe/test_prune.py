"""`trimtab prune` / ws.prune(): calls past their system's retention go, audited; rollups stay."""

import json
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from tests.helpers import edit


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def declare_retention(project_dir, days: int) -> None:
    edit(project_dir / "trimtab.yaml", "    customer_facing: false",
         f"    customer_facing: false\n    retention_days: {days}")


def record(ws, system: str, *ages: float) -> list[str]:
    ids = [ws.record(system, {"n": i}, {"ok": True}, latency_ms=5.0 + i, env="production",
                     time=days_ago(age)) for i, age in enumerate(ages)]
    assert ws.flush()
    return ids


def stored_ids(ws, system: str) -> set[str]:
    return {c.id for c in ws.calls(system=system, limit=1000)}


def test_calls_older_than_retention_days_go_and_newer_ones_stay(ws, project_dir):
    declare_retention(project_dir, 30)
    old = record(ws, "complaint-router", 45, 31, 400)
    new = record(ws, "complaint-router", 29, 1, 0)
    legacy = record(ws, "legacy-scorer", 500)  # not declared: no retention, kept

    started = datetime.now(UTC)
    router, legacy_result = ws.prune()
    assert isinstance(router, trimtab.Pruned)
    assert started - timedelta(days=30) <= router.before <= days_ago(30)
    assert (router.system, router.calls, router.rule) == \
        ("complaint-router", 3, "retention_days: 30")
    assert (legacy_result.system, legacy_result.calls, legacy_result.before) == \
        ("legacy-scorer", 0, None)
    assert stored_ids(ws, "complaint-router") == set(new)
    assert stored_ids(ws, "legacy-scorer") == set(legacy)
    assert not set(old) & stored_ids(ws, "complaint-router")

    [entry] = ws.audit_log(action="calls.prune")
    payload = json.loads(entry.payload)
    assert (entry.system, entry.object_type, entry.object_id) == \
        ("complaint-router", "system", "complaint-router")
    assert payload == {"deleted": 3, "before": router.before.isoformat(), "retention_days": 30}
    assert ws.verify_audit().ok

    # Nothing left to prune: nothing deleted, nothing audited.
    assert [r.calls for r in ws.prune()] == [0, 0]
    assert len(ws.audit_log(action="calls.prune")) == 1


def test_dry_run_counts_and_deletes_nothing(ws, project_dir):
    declare_retention(project_dir, 7)
    record(ws, "complaint-router", 8, 9, 1)
    audit_before = len(ws.audit_log())
    [result] = ws.prune(dry_run=True)
    assert (result.calls, result.dry_run) == (2, True)
    assert len(stored_ids(ws, "complaint-router")) == 3
    assert len(ws.audit_log()) == audit_before


def test_older_than_reaches_only_systems_without_retention(ws, project_dir):
    declare_retention(project_dir, 365)
    kept = record(ws, "complaint-router", 200)  # its own policy says a year
    record(ws, "legacy-scorer", 200, 100)
    newer = record(ws, "legacy-scorer", 10)
    router, legacy = ws.prune(timedelta(days=90))
    assert (router.calls, router.rule) == (0, "retention_days: 365")
    assert (legacy.calls, legacy.rule) == (2, "--older-than 90d")
    assert stored_ids(ws, "complaint-router") == set(kept)
    assert stored_ids(ws, "legacy-scorer") == set(newer)
    [entry] = ws.audit_log(action="calls.prune")
    assert json.loads(entry.payload)["older_than"] == "90d" and entry.system == "legacy-scorer"
    assert ws.verify_audit().ok


def test_one_system_only(ws):
    record(ws, "legacy-scorer", 100)
    record(ws, "other-scorer", 100)
    [result] = ws.prune(timedelta(days=30), system="other-scorer")
    assert result.calls == 1
    assert len(stored_ids(ws, "legacy-scorer")) == 1 and not stored_ids(ws, "other-scorer")


def test_rollups_stay_so_old_windows_keep_their_metrics(ws, project_dir):
    declare_retention(project_dir, 30)
    record(ws, "complaint-router", 40, 40, 40)
    window = {"window": timedelta(days=2), "end": days_ago(39), "system": "complaint-router"}
    [before] = ws.metrics(**window)
    assert ws.prune()[0].calls == 3
    [after] = ws.metrics(**window)
    assert after.calls == before.calls == 3 and after.p50_ms == before.p50_ms


def test_bad_arguments_are_refused(ws):
    with pytest.raises(trimtab.TrimtabError, match="positive"):
        ws.prune(timedelta(0))
    with pytest.raises(trimtab.TrimtabError, match="no calls are recorded for system 'nope'"):
        ws.prune(timedelta(days=1), system="nope")


def test_prune_command(cli, project_dir, database_url):
    declare_retention(project_dir, 30)
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        record(ws, "complaint-router", 45, 1)
        record(ws, "legacy-scorer", 120, 10)
    dry = cli("prune", "--dry-run", "--older-than", "90d")
    assert "dry run: nothing deleted" in dry.output
    assert "would delete 2 calls of 2 systems; rollups are kept." in dry.output
    assert "retention_days: 30" in dry.output and "--older-than 90d" in dry.output
    listed = json.loads(cli("prune", "--older-than", "90d", "--json").output)
    assert [(r["system"], r["calls"], r["dry_run"]) for r in listed] == \
        [("complaint-router", 1, False), ("legacy-scorer", 1, False)]
    again = cli("prune")
    assert "deleted 0 calls of 0 systems" in again.output
    assert "keeps everything" in again.output  # legacy-scorer, without --older-than
    assert "ok 2 entries verify" in cli("audit", "verify").output  # one prune per system
    bad = cli("prune", "--older-than", "ninety", expect=2)
    assert "--older-than 'ninety': not a span" in bad.output and "Traceback" not in bad.output
