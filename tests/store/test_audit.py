"""The audit trail: one entry per change, in the same transaction, tamper-evident."""

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import trimtab
from tests.helpers import edit
from tests.helpers.tampering import CHAIN_EDITS, raw, tamper

SYSTEM = "complaint-router"


@pytest.fixture
def history(ws, project_dir):
    """Six entries: register, two releases, two promotes, a rollback."""
    r1, _ = ws.release(SYSTEM, note="first")
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Report")
    r2, _ = ws.release(SYSTEM, note="second")
    ws.promote(SYSTEM, r1.id, "dev")
    ws.promote(SYSTEM, r2.id, "dev")
    ws.rollback(SYSTEM, "dev", reason="regression")
    return ws


def test_audit_rows_cannot_be_edited_without_dropping_triggers(history, database_url):
    for statement in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit WHERE seq = 2"):
        with pytest.raises(Exception, match="append-only"):
            raw(database_url, statement)
    assert history.verify_audit().ok


def test_every_change_is_audited_in_order(history):
    entries = history.audit_log()
    assert [e.action for e in entries] == [
        "system.register", "release.create", "release.create",
        "deployment.promote", "deployment.promote", "deployment.rollback",
    ]
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert all(e.actor == "alice@example.com" and e.system == SYSTEM for e in entries)
    assert all(e.time.tzinfo is not None for e in entries)
    rollback = json.loads(entries[-1].payload)
    assert rollback["env"] == "dev" and rollback["reason"] == "regression"
    assert entries[1].prev_hash == entries[0].hash


def test_system_metadata_changes_are_audited(ws, project_dir):
    ws.sync()
    assert ws.sync()[0][1] == "unchanged"
    edit(project_dir / "trimtab.yaml", "owner: quality-team@example.com", "owner: qa@example.com")
    assert ws.sync()[0][1] == "updated"
    update = ws.audit_log(action="system.update")[0]
    assert json.loads(update.payload) == {
        "changes": {"owner": ["quality-team@example.com", "qa@example.com"]}}
    assert [s.owner for s in ws.systems()] == ["qa@example.com"]


def test_untouched_chain_verifies(history):
    report = history.verify_audit()
    assert report.ok and report.entries == 6 and report.first_bad_seq is None
    assert report.head_hash == history.audit_log()[-1].hash


@pytest.mark.parametrize(
    ("edits", "first_bad"),
    [
        *CHAIN_EDITS,
        pytest.param(["UPDATE audit SET payload = '{\"env\":\"dev\"}' WHERE seq = 4"], 4,
                     id="payload-modified"),
        pytest.param(["DELETE FROM audit WHERE seq = 6"], 6, id="tail-truncated"),
        pytest.param(["INSERT INTO audit (seq, time, actor, action, object_type, object_id, "
                      "system, payload, prev_hash, hash) SELECT 7, time, actor, action, "
                      "object_type, object_id, system, payload, hash, hash FROM audit "
                      "WHERE seq = 6"], 7, id="appended-outside"),
    ],
)
def test_tampering_is_detected_at_the_first_bad_entry(history, database_url, edits, first_bad):
    tamper(database_url, *edits)
    report = history.verify_audit()
    assert not report.ok
    assert report.first_bad_seq == first_bad, report.problem


def test_verify_cli_exit_codes(cli, database_url):
    cli("release", SYSTEM)
    assert "ok 2 entries verify" in cli("audit", "verify").stdout
    tamper(database_url, "UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    result = cli("audit", "verify", expect=1)
    assert "BROKEN at entry 2" in result.stdout and "modified" in result.stdout
    data = json.loads(cli("audit", "verify", "--json", expect=1).stdout)
    assert data["ok"] is False and data["first_bad_seq"] == 2



def test_a_deleted_head_row_is_a_verdict_and_stops_writes(history, cli, database_url):
    """Deleting the audit_head row made verify (and every change) crash with
    NoResultFound; on PostgreSQL writers lock that row, so appending without it
    could also fork the chain. Verify names it; changes are refused until fixed."""
    tamper(database_url, "DELETE FROM audit_head")
    report = history.verify_audit()
    assert (report.ok, report.entries, report.first_bad_seq) == (False, 6, 7)
    assert "head row (audit_head) is missing" in report.problem
    shown = cli("audit", "verify", expect=1)
    assert "BROKEN at entry 7: the chain's head row (audit_head) is missing" in shown.stdout
    newest = max(history.releases(SYSTEM), key=lambda r: r.created_at)
    with pytest.raises(trimtab.TrimtabError, match="audit_head.*Fix: restore it from a backup"):
        history.promote(SYSTEM, newest.id, "dev", "after the edit")
    assert len(history.audit_log()) == 6 and len(history.history(SYSTEM, "dev")) == 3
    refused = cli("incident", "open", SYSTEM, "--severity", "low", "-m", "x", expect=2)
    assert "INSERT INTO audit_head" in refused.output and "Traceback" not in refused.output
    raw(database_url, "INSERT INTO audit_head (id, seq, hash) SELECT 1, seq, hash FROM audit "
        "ORDER BY seq DESC LIMIT 1")  # the fix the message gives
    assert history.verify_audit().ok
    history.promote(SYSTEM, newest.id, "dev", "after the fix")
    assert history.verify_audit().entries == 7

def test_audit_log_cli_filters(cli, project_dir):
    path = project_dir / "trimtab.yaml"
    text_ = path.read_text()
    path.write_text(text_ + text_[text_.index("  complaint-router:"):].replace(
        "complaint-router:", "claims-triage:", 1))
    cli("release", SYSTEM, "-m", "router")
    cli("release", "claims-triage", "-m", "claims")
    rows = json.loads(cli("audit", "log", "--system", "claims-triage", "--json").stdout)
    assert {r["system"] for r in rows} == {"claims-triage"} and len(rows) == 2
    assert json.loads(cli("audit", "log", "--since", "2099-01-01", "--json").stdout) == []
    assert len(json.loads(cli("audit", "log", "--since", "1h", "--json").stdout)) == 4
    newest = json.loads(cli("audit", "log", "--limit", "1", "--json").stdout)
    assert [r["seq"] for r in newest] == [4]
    assert "release.create" in cli("audit", "log").stdout
    result = cli("audit", "log", "--since", "yesterday", expect=2)
    assert "--since 'yesterday': not a time" in result.output


def test_concurrent_threads_never_fork_the_chain(ws, project_dir):
    environments = [f"p{i}" for i in range(8)]
    edit(project_dir / "trimtab.yaml", "environments: [dev, staging, production]",
         f"environments: [{', '.join(environments)}]")
    edit(project_dir / "trimtab.yaml", "allow_simulated: [dev, staging, production]",
         "allow_simulated: []")
    r1, _ = ws.release(SYSTEM)
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Report")
    r2, _ = ws.release(SYSTEM)
    errors = []

    def worker(env):
        try:
            for i in range(25):
                ws.promote(SYSTEM, (r1 if i % 2 == 0 else r2).id, env,
                           skip_order=True, reason="the chain under load")
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(env,)) for env in environments]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = ws.verify_audit()
    assert report.ok, report.problem
    assert report.entries == 3 + 8 * 25
    assert len(ws.history(SYSTEM)) == 8 * 25


WORKER = textwrap.dedent("""
    import sys
    import trimtab
    project, url, env, first, second = sys.argv[1:]
    ws = trimtab.connect(project, database_url=url)
    for i in range(50):
        ws.promote("complaint-router", first if i % 2 == 0 else second, env,
                   skip_order=True, reason="the chain under load")
""")


def test_concurrent_processes_never_fork_the_chain(ws, project_dir, database_url):
    environments = [f"p{i}" for i in range(8)]
    edit(project_dir / "trimtab.yaml", "environments: [dev, staging, production]",
         f"environments: [{', '.join(environments)}]")
    edit(project_dir / "trimtab.yaml", "allow_simulated: [dev, staging, production]",
         "allow_simulated: []")
    r1, _ = ws.release(SYSTEM)
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Report")
    r2, _ = ws.release(SYSTEM)
    src = str(Path(trimtab.__file__).parents[1])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(project_dir), database_url, env, r1.id, r2.id],
            env={"PYTHONPATH": src, "TRIMTAB_USER": f"worker-{env}", "PATH": "/usr/bin:/bin"},
            stderr=subprocess.PIPE, text=True,
        )
        for env in environments
    ]
    failures = [p.stderr.read() for p in procs if p.wait(timeout=300) != 0]
    assert failures == []
    report = ws.verify_audit()
    assert report.ok, report.problem
    assert report.entries == 3 + 8 * 50
    entries = ws.audit_log()
    assert [e.seq for e in entries] == list(range(1, 3 + 8 * 50 + 1))
    assert {e.actor for e in entries[3:]} == {f"worker-{env}" for env in environments}
    assert {(d.env, d.release_id) for d in ws.status()} == {(env, r2.id) for env in environments}
