"""ws.record() stores what the system's declared privacy allows, and nothing more.

The check looks where the data could leak: the spool file on disk (written
before record() returns), the row in the store, and what observers are handed.
"""

import hashlib
import json

import pytest

import trimtab
from tests.helpers import edit

EMAIL = "jane.doe@example.com"
IBAN = "DE89 3704 0044 0532 0130 00"
CARD = "4111 1111 1111 1111"
INPUTS = {
    "text": f"Refund to {IBAN} please, card {CARD}, write to {EMAIL}",
    "customer": {"email": EMAIL, "card_number": 4111111111111111, "tenure_months": 27},
    "history": [f"Earlier mail from {EMAIL}"],
}
OUTPUT = {"reply": f"Refund booked; confirmation sent to {EMAIL}", "score": 0.92}
# Fragments that cannot turn up by chance in a call id or a timestamp.
SECRETS = (EMAIL, "jane.doe", "3704 0044", "1111 1111", "4111111111111111")


def spooled(ws) -> str:
    """Every byte in the spool right now: the live segment is only removed at close."""
    return "".join(p.read_text() for p in ws.spool_dir.glob("*.jsonl"))


def record_and_read(ws, system="complaint-router", **kwargs):
    seen = []
    ws.observers.append(seen.append)
    call_id = ws.record(system, INPUTS, OUTPUT, latency_ms=4.0, **kwargs)
    on_disk = spooled(ws)
    assert call_id in on_disk
    assert ws.flush()
    [observed] = seen
    return ws.call(call_id), on_disk, observed


def set_logging(project_dir, mode: str, extra: str = "") -> None:
    edit(project_dir / "trimtab.yaml",
         "    logging: redacted    # what calls store: full | redacted | hashed | metadata",
         f"    logging: {mode}{extra}")


def test_redacted_masks_personal_data_before_it_reaches_spool_or_store(ws):
    stored, on_disk, observed = record_and_read(ws)
    for secret in SECRETS:
        assert secret not in on_disk and secret not in stored.request + stored.response
    assert stored.logging_mode == "redacted" and observed.logging_mode == "redacted"
    assert json.loads(stored.request) == {
        "text": "Refund to [IBAN] please, card [CARD], write to [EMAIL]",
        "customer": {"email": "[EMAIL]", "card_number": "[CARD]", "tenure_months": 27},
        "history": ["Earlier mail from [EMAIL]"],
    }
    assert json.loads(stored.response) == {
        "reply": "Refund booked; confirmation sent to [EMAIL]", "score": 0.92}
    assert observed.request == json.loads(stored.request)


def test_a_system_the_project_file_does_not_declare_gets_the_safe_default(ws):
    stored, on_disk, _ = record_and_read(ws, system="legacy-scorer")
    assert stored.logging_mode == "redacted"
    assert EMAIL not in on_disk and "[EMAIL]" in stored.request


def test_a_workspace_without_project_file_redacts_too(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIMTAB_SPOOL_DIR", str(tmp_path / "spool"))
    with trimtab.connect(database_url=database_url) as ws:
        stored, on_disk, _ = record_and_read(ws, env="production")
    assert stored.logging_mode == "redacted" and EMAIL not in on_disk + stored.request


def test_hashed_stores_one_hash_per_value(ws, project_dir):
    set_logging(project_dir, "hashed")
    stored, on_disk, _ = record_and_read(ws, error=f"timeout for {EMAIL}", status="error")
    for secret in (*SECRETS, "tenure_months", "Refund"):
        assert secret not in on_disk + stored.request + stored.response
    canonical = json.dumps(INPUTS, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert stored.request == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    assert stored.response.startswith("sha256:")
    assert stored.logging_mode == "hashed"
    assert stored.error == "timeout for [EMAIL]"  # errors stay readable, masked
    again, _, _ = record_and_read(ws)
    assert again.request == stored.request  # equal inputs still compare


def test_metadata_stores_no_text(ws, project_dir):
    set_logging(project_dir, "metadata")
    stored, on_disk, observed = record_and_read(ws, input_tokens=12, user="u-7")
    assert stored.request is None and stored.response is None
    assert observed.request is None and observed.response is None
    for secret in (*SECRETS, "Refund"):
        assert secret not in on_disk
    assert stored.logging_mode == "metadata"
    assert (stored.latency_ms, stored.input_tokens, stored.user_id) == (4.0, 12, "u-7")


def test_custom_rules_mask_the_teams_own_identifiers(ws, project_dir):
    set_logging(project_dir, "redacted",
                "\n    redact:\n      - {name: order-id, pattern: 'ORD-\\d{8}'}\n"
                "      - {name: employee, pattern: 'EMP-\\d+', replace: '<EMPLOYEE>'}")
    call_id = ws.record("complaint-router", "ORD-12345678 handled by EMP-42 for " + EMAIL,
                        {"order": "ORD-87654321"}, latency_ms=1.0)
    assert "ORD-" not in spooled(ws) and "EMP-42" not in spooled(ws)
    assert ws.flush()
    stored = ws.call(call_id)
    assert stored.request == "[ORDER_ID] handled by <EMPLOYEE> for [EMAIL]"  # text stays text
    assert json.loads(stored.response) == {"order": "[ORDER_ID]"}


def test_full_keeps_text_but_never_a_credential(ws, project_dir):
    set_logging(project_dir, "full")
    call_id = ws.record("complaint-router",
                        {"text": f"from {EMAIL}", "auth": "Bearer abcdefgh12345678XYZ"},
                        "ok", latency_ms=1.0)
    assert ws.flush()
    stored = ws.call(call_id)
    assert stored.logging_mode == "full"
    assert json.loads(stored.request) == {"text": f"from {EMAIL}", "auth": "[SECRET]"}


def test_values_json_cannot_hold_are_stored_as_redacted_text(ws):
    from datetime import date

    call_id = ws.record("complaint-router", {"when": date(2026, 1, 2), "to": {EMAIL}},
                        None, latency_ms=1.0)
    assert ws.flush()
    assert json.loads(ws.call(call_id).request) == {"when": "2026-01-02", "to": ["[EMAIL]"]}


@pytest.mark.parametrize("mode", ["redacted", "hashed", "metadata"])
def test_short_numbers_are_features_not_card_numbers(ws, project_dir, mode):
    set_logging(project_dir, mode)
    call_id = ws.record("complaint-router", {"tenure": 27, "spend": 1234567.5}, {"churn": True},
                        latency_ms=1.0)
    assert ws.flush()
    stored = ws.call(call_id)
    expected = {"redacted": {"tenure": 27, "spend": 1234567.5}}.get(mode)
    if mode == "hashed":
        assert stored.request.startswith("sha256:")
    else:
        assert (json.loads(stored.request) if stored.request else None) == expected


def test_a_changed_logging_mode_applies_once_record_looks_at_the_file_again(ws, project_dir,
                                                                            monkeypatch):
    from trimtab import workspace

    first, _, _ = record_and_read(ws)
    assert first.logging_mode == "redacted"
    set_logging(project_dir, "hashed")
    # Within the TTL record() trusts its last look (no stat per call) ...
    monkeypatch.setattr(workspace, "PROJECT_TTL", 3600.0)
    cached, _, _ = record_and_read(ws)
    assert cached.logging_mode == "redacted"
    # ... and once it has passed, the file's new mode applies to the next call.
    monkeypatch.setattr(workspace, "PROJECT_TTL", 0.0)
    changed, _, _ = record_and_read(ws)
    assert changed.logging_mode == "hashed" and changed.request.startswith("sha256:")
    assert EMAIL not in changed.request


def test_a_broken_edit_of_the_project_file_does_not_fail_record(ws, project_dir, monkeypatch,
                                                                caplog):
    from trimtab import workspace

    record_and_read(ws)
    monkeypatch.setattr(workspace, "PROJECT_TTL", 0.0)
    path = project_dir / "trimtab.yaml"
    good = path.read_text()
    path.write_text(good + "\nsystems: [unclosed\n")
    # Mid-edit: the last good version keeps applying, and the problem is logged.
    stored, on_disk, _ = record_and_read(ws)
    assert stored.logging_mode == "redacted" and EMAIL not in on_disk
    assert "still using the last good version of trimtab.yaml" in caplog.text
    # Fixed: the file as it is now applies again.
    path.write_text(good)
    set_logging(project_dir, "hashed")
    fixed, _, _ = record_and_read(ws)
    assert fixed.logging_mode == "hashed"
