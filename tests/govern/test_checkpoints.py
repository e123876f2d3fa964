"""Signed audit checkpoints outside the store: truncation and rewrites show."""

import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import edit
from tests.helpers.tampering import CHAIN_EDITS, tamper
from trimtab.store.audit import entry_hash

SYSTEM = "complaint-router"


@pytest.fixture
def anchored(ws, project_dir):
    """Six entries with checkpoints after entry 2 and after entry 6."""
    r1, _ = ws.release(SYSTEM, note="first")  # 1 register, 2 release
    ws.checkpoint_audit()
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Report")
    r2, _ = ws.release(SYSTEM, note="second")  # 3
    ws.promote(SYSTEM, r1.id, "dev")  # 4
    ws.promote(SYSTEM, r2.id, "dev")  # 5
    ws.rollback(SYSTEM, "dev", reason="regression")  # 6
    ws.checkpoint_audit()
    return ws


def checkpoints_file(ws) -> str:
    return ws.checkpoint_location()


def verify(ws):
    return ws.verify_audit(checkpoints=checkpoints_file(ws))


def test_key_is_made_once_private_and_outside_the_store(anchored, project_dir):
    key = project_dir / ".trimtab" / "keys" / "audit-checkpoint.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key.parent).st_mode) == 0o700
    assert key.with_suffix(".pub").read_text().startswith("-----BEGIN PUBLIC KEY")
    lines = [json.loads(x) for x in (project_dir / "audit-checkpoints.jsonl").read_text()
             .splitlines()]
    assert [x["seq"] for x in lines] == [2, 6]
    assert lines[0]["key_id"] == lines[1]["key_id"]
    report = verify(anchored)
    assert report.ok and report.checkpoints == 2 and report.entries == 6


def _rechain(ws, database_url, start: int, **changes):
    """Rewrite entry ``start`` and recompute every hash after it and the head row:
    a chain that verifies on its own."""
    entries = ws.audit_log()
    prev = entries[start - 2].hash if start > 1 else "0" * 64
    statements = []
    for entry in entries[start - 1:]:
        fields = {k: getattr(entry, k) for k in (
            "seq", "time", "actor", "action", "object_type", "object_id", "system",
            "payload")}
        if entry.seq == start:
            fields.update(changes)
        fields["prev_hash"] = prev
        new = entry_hash(**fields)
        statements.append(f"UPDATE audit SET actor = '{fields['actor']}', prev_hash = '{prev}',"
                          f" hash = '{new}' WHERE seq = {entry.seq}")
        prev = new
    statements.append(f"UPDATE audit_head SET hash = '{prev}' WHERE id = 1")
    tamper(database_url, *statements)


def _truncate(ws, database_url, keep: int):
    kept = ws.audit_log()[keep - 1]
    tamper(database_url, f"DELETE FROM audit WHERE seq > {keep}",
           f"UPDATE audit_head SET seq = {keep}, hash = '{kept.hash}' WHERE id = 1")


@pytest.mark.parametrize(
    ("edits", "first_bad"),
    [
        *CHAIN_EDITS,
    ],
)
def test_edits_are_named_at_the_first_bad_entry(anchored, database_url, edits, first_bad):
    tamper(database_url, *edits)
    report = verify(anchored)
    assert not report.ok and report.first_bad_seq == first_bad, report.problem


def test_truncated_tail_with_rewritten_head_passes_the_chain_but_not_the_checkpoints(
        anchored, database_url):
    _truncate(anchored, database_url, keep=4)
    assert anchored.verify_audit().ok  # the hash chain alone cannot see it
    report = verify(anchored)
    assert not report.ok and report.first_bad_seq == 5
    assert "checkpointed" in report.problem and "truncated" in report.problem


def test_truncated_then_written_again_is_named_where_the_new_writes_start(
        anchored, database_url):
    _truncate(anchored, database_url, keep=4)
    first, second = anchored.releases(SYSTEM)[:2]
    anchored.promote(SYSTEM, first.id, "dev")  # new entry 5
    anchored.promote(SYSTEM, second.id, "dev")  # new entry 6: the same length again
    assert anchored.verify_audit().ok
    report = verify(anchored)
    assert not report.ok and report.first_bad_seq == 5, report.problem


def test_whole_tail_rewritten_with_fresh_hashes_is_caught(anchored, database_url):
    _rechain(anchored, database_url, 4, actor="mallory@example.com")
    assert anchored.verify_audit().ok
    report = verify(anchored)
    # Checkpoint 2 still matches, checkpoint 6 does not: 3 is the first entry
    # that no checkpoint vouches for.
    assert not report.ok and report.first_bad_seq == 3, report.problem


def test_an_edited_or_foreign_checkpoint_line_is_refused(anchored, project_dir, tmp_path):
    path = project_dir / "audit-checkpoints.jsonl"
    lines = path.read_text().splitlines()
    forged = json.loads(lines[1]) | {"seq": 7}
    path.write_text("\n".join([lines[0], json.dumps(forged)]) + "\n")
    report = verify(anchored)
    assert not report.ok and "line 2" in report.problem and "does not verify" in report.problem
    other = tmp_path / "other.pem"
    anchored.checkpoint_audit(to=str(tmp_path / "other.jsonl"), key=other)
    report = anchored.verify_audit(checkpoints=str(tmp_path / "other.jsonl"))
    assert not report.ok and "signed by key" in report.problem
    assert anchored.verify_audit(checkpoints=str(tmp_path / "other.jsonl"),
                                 public_key=other.with_suffix(".pub")).ok


def test_a_broken_chain_is_not_signed(anchored, database_url):
    tamper(database_url, "UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    with pytest.raises(Exception, match="refusing to sign"):
        anchored.checkpoint_audit()


def test_checkpoints_go_to_any_fsspec_url(anchored, tmp_path):
    url = f"memory://anchors/{tmp_path.name}/trimtab.jsonl"  # memory:// is per process
    anchored.checkpoint_audit(to=url)
    anchored.checkpoint_audit(to=url)
    report = anchored.verify_audit(checkpoints=url)
    assert report.ok and report.checkpoints == 2


def test_cli_checkpoint_and_verify(cli, database_url, project_dir):
    cli("release", SYSTEM)
    out = cli("audit", "checkpoint").stdout
    assert "checkpoint: entry 2" in out and "audit-checkpoints.jsonl" in out
    # verify picks the project's checkpoint file up by itself
    assert "match 1 signed checkpoints" in cli("audit", "verify").stdout
    assert "match" not in cli("audit", "verify", "--no-checkpoints").stdout
    kept = json.loads(cli("audit", "log", "--json").stdout)[0]
    tamper(database_url, "DELETE FROM audit WHERE seq = 2",
           f"UPDATE audit_head SET seq = 1, hash = '{kept['hash']}' WHERE id = 1")
    assert "ok 1 entries" in cli("audit", "verify", "--no-checkpoints").stdout
    result = cli("audit", "verify", "--checkpoints", str(project_dir / "audit-checkpoints.jsonl"),
                 expect=1)
    assert "BROKEN at entry 2" in result.stdout
    data = json.loads(cli("audit", "verify", "--json", expect=1).stdout)
    assert data["first_bad_seq"] == 2 and data["checkpoints"] == 1
    result = cli("audit", "verify", "--checkpoints", "nowhere.jsonl", expect=2)
    assert "no checkpoint file there" in result.output


def test_monitor_checkpoints_on_schedule_only_when_the_chain_moved(ws, project_dir):
    edit(project_dir / "trimtab.yaml", "environments:", "audit:\n  checkpoint_every: 1h\n"
         "environments:")
    path = project_dir / "audit-checkpoints.jsonl"
    t0 = datetime.now(UTC)
    ws.run_scheduled(now=t0)
    assert not path.exists()  # an empty chain is not worth signing
    ws.release(SYSTEM)
    ws.run_scheduled(now=t0)
    ws.run_scheduled(now=t0 + timedelta(minutes=30))  # not due yet
    ws.sync()  # nothing changed: no entry
    ws.run_scheduled(now=t0 + timedelta(hours=2))  # due, but the head did not move
    assert len(path.read_text().splitlines()) == 1
    edit(project_dir / "prompts" / "complaint-router.user.md", "Complaint", "Report")
    ws.release(SYSTEM)
    ws.run_scheduled(now=t0 + timedelta(hours=2))
    assert [json.loads(x)["seq"] for x in path.read_text().splitlines()] == [2, 3]
    assert verify(ws).ok


def test_monitor_loop_runs_the_checkpoint(ws, project_dir):
    edit(project_dir / "trimtab.yaml", "environments:", "audit:\n  checkpoint_every: 1s\n"
         "environments:")
    ws.release(SYSTEM)
    stop = threading.Event()
    path = project_dir / "audit-checkpoints.jsonl"

    def stop_when_written(_cycle):
        if path.exists():
            stop.set()

    thread = threading.Thread(target=ws.monitor, args=(0.05, stop),
                              kwargs={"on_cycle": stop_when_written})
    thread.start()
    thread.join(timeout=30)
    stop.set()
    assert path.exists() and json.loads(path.read_text().splitlines()[0])["seq"] == 2


def test_bad_checkpoint_settings_are_reported_with_their_line(cli, project_dir):
    edit(project_dir / "trimtab.yaml", "environments:", "audit:\n  checkpoint_every: often\n"
         "environments:")
    result = cli("validate", expect=2)
    assert "trimtab.yaml:" in result.output and "audit.checkpoint_every" in result.output
    assert "not a span" in result.output
