"""Integers past what an int64 holds, as any API client can send in a JSON request:
the drift check reads them as numbers (or as infinite, so missing) instead of
crashing for the whole system."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

NOW = datetime.now(UTC).replace(microsecond=0)


def test_recorded_requests_with_integers_past_int64_are_checked(ws):
    for i in range(40):
        ws.record("complaint-router", {"amount": 100 + i, "account": 10**30 + i,
                                       "ticket": i},
                  {"team": "billing"}, latency_ms=100, time=NOW - timedelta(days=3, minutes=i))
    for i in range(40):
        ws.record("complaint-router", {"amount": 100 + i, "account": -(10**25),
                                       "ticket": int("9" * 400)},
                  {"team": "billing"}, latency_ms=100, time=NOW - timedelta(hours=3, minutes=i))
    assert ws.flush()
    # OverflowError: Python int too large to convert to C long, a traceback on every check.
    report = ws.drift("complaint-router", reference=(NOW - timedelta(days=4),
                                                     NOW - timedelta(days=2)), end=NOW).report
    assert report["input.amount"].status == "tested" and not report["input.amount"].drifted
    assert report["input.account"].status == "tested" and report["input.account"].drifted
    ticket = report["input.ticket"]
    assert ticket.status == "no_data" and ticket.missing_current == 40  # past a float: inf
    assert "every value of 'input.ticket' is missing (None/NaN/inf)" in ticket.reason


def test_a_file_with_an_integer_past_int64(ws, tmp_path):
    reference, current = tmp_path / "ref.jsonl", tmp_path / "cur.jsonl"
    reference.write_text("".join(json.dumps({"n": 2**64 + i}) + "\n" for i in range(30)))
    current.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(30)))
    report = ws.drift("complaint-router", reference=reference, current=current,
                      save=False).report
    assert report["input.n"].status == "tested" and report["input.n"].drifted
