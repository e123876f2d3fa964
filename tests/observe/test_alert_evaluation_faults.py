"""Alert evaluation when the store holds what a rule did not expect: scores whose calls
were pruned, a rule whose transition fails. One rule's trouble never silences the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers.alerts import T0, add_yaml, record, state_of
from tests.helpers.http_receiver import Receiver
from trimtab.observe import alerts

RULES = """
    alerts:
      quality:
        system: complaint-router
        metric: quality_score
        score: correct
        window: 1h
        comparator: "<"
        threshold: 0.8
      errors:
        system: complaint-router
        metric: error_rate
        window: 1h
        comparator: ">"
        threshold: 0.1
"""


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_a_quality_alert_on_scores_of_pruned_calls_fires_and_the_rest_too(ws, project_dir):
    add_yaml(project_dir, RULES)
    now = datetime.now(UTC)
    [old] = record(ws, 1, at=now - timedelta(days=400))
    [kept] = record(ws, 1, at=now - timedelta(minutes=5))
    ws.score(old, "correct", 0)  # scored today; its call goes at the next prune
    ws.score(kept, "correct", 0.5)
    [pruned] = ws.prune(timedelta(days=30))
    assert pruned.calls == 1
    record(ws, 10, errors=5, at=now - timedelta(minutes=5))
    # Flagging the pruned call raised NotFound, which failed the whole evaluation, every
    # cycle while the score stayed in the window: no rule could fire.
    cycle = ws.check_alerts()
    assert state_of(cycle, "quality").state == "firing"
    assert state_of(cycle, "errors").state == "firing"
    assert [f.call_id for f in ws.flags("complaint-router")] == [kept]


def test_a_rule_whose_transition_fails_leaves_the_others_recorded(ws, project_dir,
                                                                 monkeypatch):
    add_yaml(project_dir, RULES)
    now = datetime.now(UTC)
    [call] = record(ws, 1, at=now - timedelta(minutes=5))
    ws.score(call, "correct", 0)
    record(ws, 10, errors=5, at=now - timedelta(minutes=5))

    def broken(*args, **kwargs):
        raise RuntimeError("flags table unavailable")
    monkeypatch.setattr(alerts, "_flag_low_scores", broken)
    cycle = ws.check_alerts()
    quality = state_of(cycle, "quality")
    assert quality.state == "error"
    assert quality.detail == "cannot record the state: RuntimeError: flags table unavailable"
    assert state_of(cycle, "errors").state == "firing"
    assert [e.rule for e in ws.alert_events()] == ["errors"]  # quality's event rolled back
    monkeypatch.undo()
    assert state_of(ws.check_alerts(), "quality").event.state == "firing"  # tried again


# --- a firing alert the project file stops watching -------------------------------------


def _rule(env: str, channels: str) -> str:
    return f"""
        alerts:
          errors:
            metric: error_rate
            env: {env}
            window: 15m
            comparator: ">"
            threshold: 0.1
            channels: [{channels}]
    """


def test_a_firing_alert_whose_rule_moved_to_another_env_resolves(ws, project_dir, receiver):
    path = project_dir / "trimtab.yaml"
    base = path.read_text() + f"\nchannels:\n  ops:\n    kind: webhook\n    url: {receiver.url}\n"
    path.write_text(base)
    add_yaml(project_dir, _rule("production", "ops"))
    record(ws, 10, errors=5, at=T0)
    ws.check_alerts(now=T0 + timedelta(minutes=1))
    path.write_text(base)
    add_yaml(project_dir, _rule("staging", "ops"))
    cycle = ws.check_alerts(now=T0 + timedelta(minutes=2))
    # The production state stayed 'firing' for ever (dashboard, `alerts list`, the API)
    # and the channel never heard that it ended.
    assert [(s.env, s.state) for s in ws.alert_states()] == [("staging", "no_data")]
    assert receiver.wait_for(2)
    firing, resolved = receiver.delivered
    assert (resolved["state"], resolved["reason"]) == ("resolved", alerts.UNWATCHED)
    assert (resolved["env"], resolved["rule"]) == ("production", "errors")
    assert resolved["active_since"] == firing["active_since"]
    assert resolved["event_id"] == firing["event_id"] + 1
    assert [s.ok for s in cycle.sent] == [True]
    assert [e.action for e in ws.audit_log(action="alert.resolved")] == ["alert.resolved"]


def test_a_removed_rule_resolves_through_the_channels_still_declared(ws, project_dir,
                                                                     receiver):
    path = project_dir / "trimtab.yaml"
    base = path.read_text() + (f"\nchannels:\n  ops:\n    kind: webhook\n    url: {receiver.url}"
                               f"\n  old:\n    kind: webhook\n    url: {receiver.url}/old\n")
    path.write_text(base)
    add_yaml(project_dir, _rule("production", "ops, old"))
    record(ws, 10, errors=5, at=T0)
    ws.check_alerts(now=T0 + timedelta(minutes=1))
    assert receiver.wait_for(2)
    path.write_text(base.split("  old:")[0])  # the rule and one of its channels removed
    ws.check_alerts(now=T0 + timedelta(minutes=2))
    assert receiver.wait_for(3)
    assert [(r["path"], r["body"]["state"]) for r in receiver.requests][2:] == [
        ("/", "resolved")]
    assert ws.alert_states() == []
    ws.check_alerts(now=T0 + timedelta(minutes=3))
    assert len(receiver.requests) == 3  # resolved once
