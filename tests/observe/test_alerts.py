"""Alert rules: validation in trimtab.yaml, metric readings, the state machine,
de-duplication, `trimtab check`, and the audit trail they leave."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

import trimtab
from tests.helpers.alerts import T0, add_yaml, record, state_of
from tests.helpers.http_receiver import Receiver
from trimtab.store import drift as drift_store

# Minute-aligned and in the past, so tests choose "now" and never race the clock.

ERROR_RULE = """
alerts:
  router-errors:
    description: Complaints are not being routed.
    system: complaint-router
    env: production
    metric: error_rate
    window: 15m
    comparator: ">"
    threshold: 0.1
    for: 5m
    severity: critical
"""


def problems_of(path):
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(path)
    return info.value.problems


def line_of(path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


# --- rules in trimtab.yaml --------------------------------------------------------


def test_a_complete_rule_set_loads(project_dir):
    add_yaml(project_dir, """
        channels:
          ops-hook:
            kind: webhook
            url: https://hooks.example.com/trimtab
            headers: {X-Team: quality}
            headers_env: {Authorization: OPS_HOOK_AUTH}
          team-slack:
            kind: apprise
            url_env: SLACK_APPRISE_URL
        alerts:
          router-latency:
            system: complaint-router
            metric: latency_p95
            window: 1h
            comparator: ">="
            threshold: 2000
            for: 10m
            channels: [ops-hook, team-slack]
            run:
              command: [scripts/retrain, complaint-router]
              timeout: 600
          any-spend:
            metric: spend_per_day
            window: 24h
            comparator: ">"
            threshold: 50
            for: 0
    """)
    spec = trimtab.load_project(project_dir / "trimtab.yaml").spec
    latency = spec.alerts["router-latency"]
    assert latency.for_delta == timedelta(minutes=10)
    assert latency.window_delta == timedelta(hours=1)
    assert latency.holds(2000) and not latency.holds(1999.9)
    assert latency.run.events == ["firing"] and latency.run.timeout == 600
    assert spec.alerts["any-spend"].system is None
    assert spec.alerts["any-spend"].for_delta == timedelta(0)
    assert spec.alerts["any-spend"].severity == "warning"
    assert spec.channels["team-slack"].url_env == "SLACK_APPRISE_URL"


def test_unknown_metric_points_at_line_and_suggests(project_dir):
    add_yaml(project_dir, ERROR_RULE.replace("metric: error_rate", "metric: latency_p96"))
    path = project_dir / "trimtab.yaml"
    [problem] = problems_of(path)
    line = line_of(path, "    metric: latency_p96")
    assert problem.startswith(f"trimtab.yaml:{line}:13: alerts.router-errors.metric: "
                              "'latency_p96' is not allowed. Did you mean 'latency_p95'?")
    assert "'error_rate'" in problem and "'call_volume'" in problem


def test_unknown_key_in_a_rule_suggests_for(project_dir):
    add_yaml(project_dir, ERROR_RULE.replace("for: 5m", "fro: 5m"))
    [problem] = problems_of(project_dir / "trimtab.yaml")
    assert "unknown key 'fro'. Did you mean 'for'?" in problem
    assert "for, severity" in problem  # the YAML name, not the Python one


def test_reference_and_format_problems_are_reported_together(project_dir):
    add_yaml(project_dir, """
        channels:
          ops-hook:
            kind: webhook
            url: https://hooks.example.com/x
        alerts:
          router-errors:
            system: complaint-routr
            env: prod
            metric: error_rate
            window: 15 minutes
            comparator: "=>"
            threshold: 5
            for: 300
            channels: [ops-hok]
          quick:
            metric: call_volume
            window: 30s
            comparator: >
            threshold: 1
            score: helpful
    """)
    path = project_dir / "trimtab.yaml"
    problems = problems_of(path)
    by_field = {p.split(": ")[1]: p for p in problems}
    assert len(problems) == 10, problems
    system = by_field["alerts.router-errors.system"]
    assert system.startswith(f"trimtab.yaml:{line_of(path, '    system: complaint-routr')}:13")
    assert "unknown system 'complaint-routr'. Did you mean 'complaint-router'?" in system
    assert "Did you mean 'production'?" in by_field["alerts.router-errors.env"]
    assert "'15 minutes' is not a duration" in by_field["alerts.router-errors.window"]
    assert "Did you mean '>='?" in by_field["alerts.router-errors.comparator"]
    assert "a share between 0 and 1" in by_field["alerts.router-errors.threshold"]
    assert "300 is not a duration" in by_field["alerts.router-errors.for"]
    channel = by_field["alerts.router-errors.channels[0]"]
    assert channel.startswith(f"trimtab.yaml:{line_of(path, '    channels: [ops-hok]')}:")
    assert "unknown channel 'ops-hok'. Did you mean 'ops-hook'?" in channel
    assert "too short" in by_field["alerts.quick.window"]
    # An unquoted > opens a YAML text block; the message says so.
    assert "unquoted > starts a YAML text block" in by_field["alerts.quick.comparator"]
    assert "quality_score only" in by_field["alerts.quick.score"]


def test_channel_problems(project_dir):
    add_yaml(project_dir, """
        channels:
          both:
            kind: webhook
            url: https://a.example.com
            url_env: HOOK_URL
          neither:
            kind: apprise
          leaky:
            kind: webhook
            url: https://a.example.com
            headers: {Authorization: Bearer abc123}
          not-http:
            kind: webhook
            url: slack://T000/B000/XXX
            headers_env: {X-Token: the-token-itself}
          chat:
            kind: slack
            url: x
    """)
    problems = problems_of(project_dir / "trimtab.yaml")
    assert len(problems) == 6, problems
    joined = "\n".join(problems)
    assert "channels.chat.kind: unknown channel kind 'slack'" in joined
    assert "use one of apprise, webhook, or install the package" in joined
    assert "channels.both: a channel needs exactly one of `url:` or `url_env:`" in joined
    assert "channels.neither: a channel needs exactly one" in joined
    assert "channels.leaky.headers.Authorization: a credential header must not" in joined
    assert "abc123" not in joined
    assert "channels.not-http.url: 'slack://T000/B000/XXX' is not an http(s) URL" in joined
    assert "channels.not-http.headers_env.X-Token: 'the-token-itself' must be the NAME" in joined


def test_validate_cli_reports_alert_problems(cli, project_dir):
    add_yaml(project_dir, ERROR_RULE.replace("metric: error_rate", "metric: latency_p96"))
    result = cli("validate", expect=2)
    assert "alerts.router-errors.metric" in result.output
    assert "Did you mean 'latency_p95'?" in result.output


# --- the state machine ---------------------------------------------------------


def test_for_holds_an_alert_pending_then_it_fires_once(ws, project_dir):
    add_yaml(project_dir, ERROR_RULE)
    record(ws, 10, errors=3, at=T0)
    first = state_of(ws.check_alerts(now=T0 + timedelta(minutes=1)), "router-errors")
    assert (first.state, first.value, first.event) == ("pending", 0.3, None)
    assert first.detail == "10 calls"
    still = state_of(ws.check_alerts(now=T0 + timedelta(minutes=5)), "router-errors")
    assert still.state == "pending" and still.event is None
    fired = state_of(ws.check_alerts(now=T0 + timedelta(minutes=6)), "router-errors")
    assert fired.state == "firing" and fired.event.state == "firing"
    document = fired.event.document
    assert document["event_id"] == fired.event.id
    assert document["active_since"] == (T0 + timedelta(minutes=1)).isoformat()
    assert document["severity"] == "critical" and document["env"] == "production"
    assert "error_rate 30.0% > 10.0% over the last 15m" in document["summary"]
    # Evaluated again while it holds: still firing, no second event.
    for minute in (7, 8, 9):
        again = state_of(ws.check_alerts(now=T0 + timedelta(minutes=minute)), "router-errors")
        assert again.state == "firing" and again.event is None
    assert [e.state for e in ws.alert_events()] == ["firing"]
    assert len(ws.audit_log(action="alert.firing")) == 1


def test_a_condition_that_clears_while_pending_never_fires(ws, project_dir):
    add_yaml(project_dir, ERROR_RULE)
    record(ws, 10, errors=3, at=T0)
    assert state_of(ws.check_alerts(now=T0 + timedelta(minutes=1)), "router-errors").state \
        == "pending"
    record(ws, 90, at=T0 + timedelta(minutes=2))  # 3 errors in 100 calls: 3%
    cleared = state_of(ws.check_alerts(now=T0 + timedelta(minutes=3)), "router-errors")
    assert cleared.state == "ok" and cleared.value == pytest.approx(0.03)
    record(ws, 10, errors=10, at=T0 + timedelta(minutes=4))  # 13 in 110: pending anew
    again = state_of(ws.check_alerts(now=T0 + timedelta(minutes=7)), "router-errors")
    assert again.state == "pending"  # the clock restarted: 0 of 5 minutes held
    assert ws.alert_events() == []


def test_for_zero_fires_at_once_and_resolve_notifies_once(ws, project_dir):
    add_yaml(project_dir, ERROR_RULE.replace("for: 5m", "for: 0"))
    record(ws, 10, errors=5, at=T0)
    assert state_of(ws.check_alerts(now=T0 + timedelta(minutes=1)), "router-errors").state \
        == "firing"
    record(ws, 90, at=T0 + timedelta(minutes=2))  # 5 in 100: below 10%
    resolved = state_of(ws.check_alerts(now=T0 + timedelta(minutes=3)), "router-errors")
    assert resolved.state == "resolved" and resolved.event.state == "resolved"
    assert resolved.event.document["reason"] == "back within the threshold"
    calm = state_of(ws.check_alerts(now=T0 + timedelta(minutes=4)), "router-errors")
    assert calm.state == "ok" and calm.event is None
    assert [e.state for e in ws.alert_events()] == ["resolved", "firing"]
    assert [e.action for e in ws.audit_log() if e.action.startswith("alert.")] == \
        ["alert.firing", "alert.resolved"]


def test_an_empty_window_is_no_data_and_never_fires(ws, project_dir, cli):
    add_yaml(project_dir, ERROR_RULE.replace("for: 5m", "for: 0"))
    empty = state_of(ws.check_alerts(now=T0), "router-errors")
    assert (empty.state, empty.value, empty.event) == ("no_data", None, None)
    assert empty.detail == "no calls in the last 15m"
    record(ws, 4, errors=4, at=T0, env="staging")  # other environments do not count
    assert state_of(ws.check_alerts(now=T0 + timedelta(minutes=1)), "router-errors").state \
        == "no_data"
    table = cli("check").stdout
    assert "no data" in table and "nothing firing" in table


def test_a_firing_alert_whose_window_empties_is_resolved_for_no_data(ws, project_dir):
    add_yaml(project_dir, ERROR_RULE.replace("for: 5m", "for: 0"))
    record(ws, 10, errors=10, at=T0)
    assert state_of(ws.check_alerts(now=T0 + timedelta(minutes=1)), "router-errors").firing
    later = state_of(ws.check_alerts(now=T0 + timedelta(minutes=30)), "router-errors")
    assert later.state == "no_data"
    assert later.event.state == "resolved"
    assert later.event.document["reason"] == "no data in the window"
    assert later.event.value is None


def test_a_rule_without_system_watches_each_system_alone(ws, project_dir):
    path = project_dir / "trimtab.yaml"
    text = path.read_text()
    block = text[text.index("  complaint-router:"):]
    path.write_text(text + block.replace("  complaint-router:", "  invoice-reader:", 1))
    add_yaml(project_dir, """
        alerts:
          slow:
            metric: latency_p99
            window: 1h
            comparator: ">"
            threshold: 500
    """)
    record(ws, 20, latency=900.0, at=T0)
    record(ws, 20, latency=50.0, at=T0, system="invoice-reader")
    cycle = ws.check_alerts(now=T0 + timedelta(minutes=1))
    assert state_of(cycle, "slow").state == "firing"
    assert state_of(cycle, "slow", "invoice-reader").state == "ok"
    assert state_of(cycle, "slow").value == pytest.approx(900, rel=0.02)
    [event] = ws.alert_events()
    assert (event.system, event.env) == ("complaint-router", "*")


# --- each metric ------------------------------------------------------------------


def test_cost_spend_and_volume_readings(ws, project_dir):
    add_yaml(project_dir, """
        alerts:
          per-call:
            system: complaint-router
            metric: cost_per_call
            window: 1h
            comparator: ">"
            threshold: 0.002
          per-day:
            system: complaint-router
            metric: spend_per_day
            window: 1h
            comparator: ">"
            threshold: 100
          silence:
            system: complaint-router
            env: staging
            metric: call_volume
            window: 1h
            comparator: "<"
            threshold: 1
    """)
    record(ws, 40, cost=2500, at=T0)  # $0.0025 a call, $0.10 in the hour
    cycle = ws.check_alerts(now=T0 + timedelta(minutes=1))
    per_call = state_of(cycle, "per-call")
    assert per_call.value == pytest.approx(0.0025) and per_call.firing
    per_day = state_of(cycle, "per-day")
    assert per_day.value == pytest.approx(0.10 * 24) and per_day.state == "ok"
    # No staging calls: zero volume is a value, and it fires.
    silence = state_of(cycle, "silence")
    assert (silence.value, silence.state) == (0.0, "firing")


def test_unpriced_calls_give_cost_per_call_no_data(ws, project_dir):
    add_yaml(project_dir, """
        alerts:
          per-call:
            system: complaint-router
            metric: cost_per_call
            window: 1h
            comparator: ">"
            threshold: 0.002
    """)
    record(ws, 5, at=T0)
    reading = state_of(ws.check_alerts(now=T0 + timedelta(minutes=1)), "per-call")
    assert (reading.state, reading.detail) == ("no_data", "5 calls, none priced")


def test_quality_score_averages_scores_of_the_system(ws, project_dir):
    add_yaml(project_dir, """
        alerts:
          quality:
            system: complaint-router
            metric: quality_score
            score: correct
            window: 1h
            comparator: "<"
            threshold: 0.8
    """)
    assert state_of(ws.check_alerts(), "quality").state == "no_data"
    ids = record(ws, 4, at=datetime.now(UTC))
    for call_id, value in zip(ids, (1, 1, 0, 1), strict=True):
        ws.score(call_id, "correct", value)
    ws.score(ids[0], "helpful", 0.0, comment="terse")  # another score name: not averaged
    reading = state_of(ws.check_alerts(), "quality")
    assert (reading.value, reading.state) == (0.75, "firing")
    assert reading.detail == "mean of 4 score 'correct'"
    [helpful, correct] = sorted(ws.scores(ids[0]), key=lambda s: s.name, reverse=True)
    assert (helpful.name, helpful.comment, helpful.actor) == ("helpful", "terse",
                                                              "alice@example.com")
    assert correct.system == "complaint-router" and correct.env == "production"
    assert len(ws.audit_log(action="score.add")) == 5


def test_bad_scores_are_refused(ws):
    [call_id] = record(ws, 1, at=datetime.now(UTC))
    with pytest.raises(trimtab.TrimtabError, match="no call has an id starting with"):
        ws.score("ffff0000", "correct", 1)
    with pytest.raises(trimtab.TrimtabError, match="finite number"):
        ws.score(call_id, "correct", float("nan"))
    with pytest.raises(trimtab.TrimtabError, match="1 to 100 characters"):
        ws.score(call_id, "", 1)


def test_score_cli(cli, project_dir):
    ws = trimtab.connect(project_dir)
    [call_id] = record(ws, 1, at=datetime.now(UTC))
    ws.close()
    out = cli("score", call_id[:16], "correct", "0", "--comment", "wrong team").stdout
    assert f"scored call {call_id[:12]} (complaint-router): correct = 0" in out
    saved = json.loads(cli("score", call_id, "helpful", "4.5", "--json").stdout)
    assert saved["value"] == 4.5 and saved["call_id"] == call_id
    assert "no call has an id" in cli("score", "0000", "x", "1", expect=2).output


def test_drift_reads_the_newest_stored_check(ws, project_dir):
    add_yaml(project_dir, """
        alerts:
          inputs-drift:
            system: complaint-router
            metric: drift
            window: 24h
            comparator: ">="
            threshold: 0.5
    """)
    none_yet = state_of(ws.check_alerts(), "inputs-drift")
    assert none_yet.state == "no_data" and "no drift check stored yet" in none_yet.detail
    with ws.store.write() as conn:
        drift_store.save_result(
            conn, system="complaint-router", env="production", baseline_id=None,
            reference="first week", current="last 24h", current_start=None, current_end=None,
            report={"n_reference_rows": 500, "n_current_rows": 400, "dataset_drift": True,
                    "share": 0.6, "drift_share": 0.5, "n_columns_tested": 5,
                    "n_columns_drifted": 3, "columns": [], "drifted_columns": ["a", "b", "c"]},
            actor="alice@example.com")
    drifted = state_of(ws.check_alerts(), "inputs-drift")
    assert (drifted.value, drifted.state) == (0.6, "firing")


def test_a_drift_rule_with_a_window_ignores_checks_older_than_it(ws, project_dir):
    add_yaml(project_dir, """
        alerts:
          drift-today:
            system: complaint-router
            metric: drift
            window: 25h
            comparator: ">="
            threshold: 0.5
          drift-ever:
            system: complaint-router
            metric: drift
            comparator: ">="
            threshold: 0.5
    """)
    with ws.store.write() as conn:
        drift_store.save_result(
            conn, system="complaint-router", env="production", baseline_id=None,
            reference="first week", current="last 24h", current_start=None, current_end=None,
            report={"n_reference_rows": 500, "n_current_rows": 400, "dataset_drift": True,
                    "share": 0.6, "drift_share": 0.5, "n_columns_tested": 5,
                    "n_columns_drifted": 3, "columns": [], "drifted_columns": ["a", "b", "c"]},
            actor="alice@example.com")
    fresh = ws.check_alerts(now=datetime.now(UTC) + timedelta(hours=24))
    assert (state_of(fresh, "drift-today").value, state_of(fresh, "drift-today").state) == \
        (0.6, "firing")

    stale = ws.check_alerts(now=datetime.now(UTC) + timedelta(hours=26))  # the cron job died

    today = state_of(stale, "drift-today")
    assert (today.value, today.state) == (None, "no_data")
    assert "older than the rule's 25h window" in today.detail and "cron" in today.detail
    assert state_of(stale, "drift-ever").value == 0.6  # no window set: any age counts


# --- shared stores, removed rules, audit -----------------------------------------


def test_two_monitors_on_one_store_fire_once(ws, project_dir):
    """Two monitors evaluate the same firing rule at the same moment, in two threads.

    Were the transition judged against state read outside the write lock, or the
    delivery not claimed, both would fire and both would post: two events, two requests.
    """
    receiver = Receiver()
    add_yaml(project_dir, ERROR_RULE.replace("for: 5m", "for: 0\n    channels: [ops]")
             + f"channels:\n  ops:\n    kind: webhook\n    url: {receiver.url}\n")
    record(ws, 10, errors=10, at=T0)
    now = T0 + timedelta(minutes=1)
    start = threading.Barrier(2)

    def monitor():
        mine = trimtab.connect(project_dir, database_url=ws.database_url)
        try:
            start.wait(timeout=30)  # both connected: go together
            return mine.check_alerts(now=now)
        finally:
            mine.close()

    try:
        with ThreadPoolExecutor(2) as pool:
            cycles = [f.result(timeout=120) for f in [pool.submit(monitor) for _ in range(2)]]
    finally:
        receiver.close()
    fired = [state_of(c, "router-errors").event for c in cycles]
    assert sum(event is not None for event in fired) == 1
    assert [len(c.sent) for c in cycles].count(1) == 1 and sum(len(c.sent) for c in cycles) == 1
    [event] = ws.alert_events()
    assert event.state == "firing"
    [delivery] = ws.alert_deliveries([event.id])[event.id]
    assert (delivery.target, delivery.status) == ("ops", "sent")
    assert [body["state"] for body in receiver.delivered] == ["firing"]


def test_a_removed_rule_leaves_no_state(ws, project_dir):
    add_yaml(project_dir, ERROR_RULE)
    ws.check_alerts(now=T0)
    assert [s.rule for s in ws.alert_states()] == ["router-errors"]
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text().split("\nalerts:")[0] + "\n")
    assert ws.check_alerts(now=T0).statuses == []
    assert ws.alert_states() == []


def test_check_exit_codes_json_and_audit_verify(cli, project_dir):
    assert "no alert rules" in cli("check").stdout
    add_yaml(project_dir, ERROR_RULE.replace("for: 5m", "for: 0"))
    assert "nothing firing" in cli("check").stdout
    ws = trimtab.connect(project_dir)
    record(ws, 10, errors=4, at=datetime.now(UTC))
    ws.close()
    result = cli("check", expect=1)
    assert "router-errors" in result.stdout and "firing" in result.stdout
    assert "1 firing" in result.stdout
    report = json.loads(cli("check", "--json", expect=1).stdout)
    assert report["firing"] == 1
    [alert] = report["alerts"]
    assert (alert["rule"], alert["state"], alert["value"]) == ("router-errors", "firing", 0.4)
    assert alert["event_id"] is None  # the event came with the first check
    listing = cli("alerts", "list").stdout
    assert "error_rate > 10.0% over 15m" in listing and "firing" in listing
    rules = json.loads(cli("alerts", "list", "--json").stdout)
    assert rules[0]["for"] == 0 and rules[0]["states"][0]["state"] == "firing"
    [event] = json.loads(cli("alerts", "history", "--json").stdout)
    assert (event["state"], event["rule"], event["value"]) == ("firing", "router-errors", 0.4)
    assert "router-errors" in cli("alerts", "history", "--since", "1h").stdout
    assert "no alert events" in cli("alerts", "history", "--rule", "other").stdout
    entries = json.loads(cli("audit", "log", "--json").stdout)
    [firing] = [e for e in entries if e["action"] == "alert.firing"]
    assert firing["object_id"] == "router-errors/complaint-router/production"
    assert firing["payload"]["threshold"] == 0.1 and firing["payload"]["value"] == 0.4
    assert "ok" in cli("audit", "verify").stdout.lower()
    broken = (project_dir / "trimtab.yaml").read_text().replace("window: 15m", "window: soon")
    (project_dir / "trimtab.yaml").write_text(broken)
    assert "not a duration" in cli("check", expect=2).output


def test_a_metric_that_cannot_be_read_does_not_stop_the_other_rules(ws, project_dir):
    drift_rule = ("  inputs-drift:\n    system: complaint-router\n    metric: drift\n"
                  "    comparator: \">=\"\n    threshold: 0.5\n")
    add_yaml(project_dir, ERROR_RULE.replace("for: 5m", "for: 0") + drift_rule)
    record(ws, 10, errors=5, at=T0)
    with ws.store.engine.begin() as conn:  # the drift part of the store is broken
        conn.execute(text("DROP TABLE drift_results"))
    cycle = ws.check_alerts(now=T0 + timedelta(minutes=1))
    broken = state_of(cycle, "inputs-drift")
    assert broken.state == "error" and "cannot read drift" in broken.detail
    assert state_of(cycle, "router-errors").firing
    assert [s.rule for s in ws.alert_states()] == ["router-errors"]  # drift's left untouched
