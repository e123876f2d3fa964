"""Alert notifications: webhooks, apprise and commands against real processes
and real HTTP servers on loopback, and a monitor that outlives failing channels."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from tests.helpers.alerts import T0, add_yaml, record, state_of
from tests.helpers.http_receiver import Receiver, refused_url
from trimtab.observe.monitor import MAX_ATTEMPTS

RULE = """
    {name}:
      system: complaint-router
      metric: error_rate
      window: 15m
      comparator: ">"
      threshold: 0.1
      severity: {severity}
      channels: [{channels}]
"""


def rules(*specs: tuple[str, str]) -> str:
    """An `alerts:` section, one error-rate rule per (name, channels)."""
    return "alerts:\n" + "".join(
        RULE.format(name=name, channels=channels, severity="critical")
        for name, channels in specs)


def channels(**urls: str) -> str:
    lines = ["channels:"]
    for name, url in urls.items():
        lines += [f"  {name}:", "    kind: webhook", f"    url: {url}", "    backoff: 0"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def wait_until(predicate, timeout: float = 30.0) -> bool:
    pause = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        pause.wait(0.05)
    return predicate()


def deliveries(ws):
    [event] = ws.alert_events()
    return event, {d.target: d for d in ws.alert_deliveries([event.id])[event.id]}


# --- webhooks ---------------------------------------------------------------------


def test_webhook_receives_the_event_json_once(ws, project_dir, receiver, monkeypatch):
    add_yaml(project_dir, channels(ops=receiver.url + "/trimtab")
             + "    headers: {X-Team: quality}\n"
             + "    headers_env: {Authorization: OPS_HOOK_AUTH}\n"
             + rules(("router-errors", "ops")))
    monkeypatch.setenv("OPS_HOOK_AUTH", "Bearer s3cret")
    record(ws, 10, errors=4, at=T0)
    cycle = ws.check_alerts(now=T0 + timedelta(minutes=1))
    [sent] = cycle.sent
    assert sent.ok and sent.target == "ops" and sent.detail.endswith("answered 200")
    [request] = receiver.requests
    assert request["path"] == "/trimtab"
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    assert request["headers"]["X-Team"] == "quality"
    assert request["headers"]["User-Agent"].startswith("trimtab/")
    body = request["body"]
    assert body["kind"] == "trimtab.alert" and body["state"] == "firing"
    assert (body["rule"], body["system"], body["env"]) == ("router-errors", "complaint-router",
                                                          None)
    assert (body["metric"], body["value"], body["comparator"], body["threshold"]) == \
        ("error_rate", 0.4, ">", 0.1)
    assert body["severity"] == "critical" and body["window"] == "15m"
    assert body["event_id"] == cycle.statuses[0].event.id
    assert body["project"] == "project" and body["test"] is False
    assert body["time"] == (T0 + timedelta(minutes=1)).isoformat()
    # Still firing: evaluated again, nothing more is sent.
    assert ws.check_alerts(now=T0 + timedelta(minutes=2)).sent == []
    record(ws, 90, at=T0 + timedelta(minutes=3))
    ws.check_alerts(now=T0 + timedelta(minutes=4))
    assert [r["body"]["state"] for r in receiver.requests] == ["firing", "resolved"]
    assert receiver.requests[1]["body"]["reason"] == "back within the threshold"


def test_a_webhook_answering_500_is_retried_with_backoff(ws, project_dir):
    flaky = Receiver(statuses=[500, 503])
    try:
        add_yaml(project_dir, channels(ops=flaky.url) + rules(("router-errors", "ops")))
        record(ws, 10, errors=4, at=T0)
        [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
        assert sent.ok and sent.attempt == 1
        assert [r["status"] for r in flaky.requests] == [500, 503, 200]
        assert flaky.requests[0]["body"] == flaky.requests[2]["body"]
    finally:
        flaky.close()


def test_a_client_error_is_not_retried(ws, project_dir):
    refusing = Receiver(statuses=[401])
    try:
        add_yaml(project_dir, channels(ops=refusing.url) + rules(("router-errors", "ops")))
        record(ws, 10, errors=4, at=T0)
        [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
        assert not sent.ok and "HTTP 401" in sent.detail and "not retried" in sent.detail
        assert len(refusing.requests) == 1
    finally:
        refusing.close()


def test_an_unreachable_webhook_is_retried_on_later_cycles_then_given_up(ws, project_dir):
    add_yaml(project_dir, channels(ops=refused_url()) + rules(("router-errors", "ops")))
    record(ws, 10, errors=4, at=T0)
    now = T0 + timedelta(minutes=1)
    [first] = ws.check_alerts(now=now).sent
    assert not first.ok and not first.gave_up and "ConnectError" in first.detail
    assert "(4 attempts)" in first.detail  # 1 + the default 3 retries
    # Too soon for the next try: the outbox waits 30s, then 1m, 2m, 4m.
    assert ws.check_alerts(now=now + timedelta(seconds=10)).sent == []
    attempts = [first]
    for minutes in (1, 3, 6, 11):
        attempts += ws.check_alerts(now=now + timedelta(minutes=minutes)).sent
    assert [a.attempt for a in attempts] == list(range(1, MAX_ATTEMPTS + 1))
    assert attempts[-1].gave_up and not any(a.gave_up for a in attempts[:-1])
    assert ws.check_alerts(now=now + timedelta(minutes=12)).sent == []
    _, by_target = deliveries(ws)
    assert by_target["ops"].status == "gave_up" and by_target["ops"].attempts == MAX_ATTEMPTS


def test_a_webhook_down_for_a_while_still_gets_the_event(ws, project_dir):
    late = Receiver(statuses=[500] * 4)  # the whole first cycle fails
    try:
        add_yaml(project_dir, channels(ops=late.url) + rules(("router-errors", "ops")))
        record(ws, 10, errors=4, at=T0)
        now = T0 + timedelta(minutes=1)
        [first] = ws.check_alerts(now=now).sent
        assert not first.ok and "HTTP 500 (4 attempts)" in first.detail
        [second] = ws.check_alerts(now=now + timedelta(minutes=1)).sent
        assert second.ok and second.attempt == 2
        assert late.delivered[0]["state"] == "firing"
        assert deliveries(ws)[1]["ops"].status == "sent"
    finally:
        late.close()


def test_an_unset_url_variable_is_reported(ws, project_dir):
    add_yaml(project_dir, "channels:\n  ops:\n    kind: webhook\n    url_env: OPS_HOOK_URL\n"
             + rules(("router-errors", "ops")))
    record(ws, 10, errors=4, at=T0)
    [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
    assert not sent.ok and "environment variable OPS_HOOK_URL is not set" in sent.detail


# --- the monitor ------------------------------------------------------------------


def test_a_failing_webhook_does_not_stop_the_monitor(ws, project_dir, receiver):
    add_yaml(project_dir, channels(broken=refused_url(), ops=receiver.url)
             + rules(("first-rule", "broken"), ("second-rule", "ops")))
    record(ws, 10, errors=4, at=datetime.now(UTC))
    stop = threading.Event()
    cycles: list = []
    thread = threading.Thread(target=trimtab.run_monitor, args=(ws, 0.05, stop),
                              kwargs={"on_cycle": cycles.append})
    thread.start()
    try:
        # The broken channel's rule comes first; the second rule's event still arrives.
        assert receiver.wait_for(1)
        [body] = receiver.delivered
        assert body["rule"] == "second-rule" and body["state"] == "firing"
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    sent = [s for cycle in cycles for s in cycle.sent]
    assert any(s.target == "broken" and not s.ok for s in sent)
    assert all(len(cycle.statuses) == 2 for cycle in cycles)
    events = {e.rule: e for e in ws.alert_events()}
    assert set(events) == {"first-rule", "second-rule"}
    states = ws.alert_deliveries([events["first-rule"].id])[events["first-rule"].id]
    assert [(d.target, d.status) for d in states] == [("broken", "failed")]
    assert ws.verify_audit().ok


def test_the_monitor_keeps_going_when_the_project_file_breaks(ws, project_dir, receiver, caplog):
    add_yaml(project_dir, channels(ops=receiver.url) + rules(("router-errors", "ops")))
    path = project_dir / "trimtab.yaml"
    good = path.read_text()
    record(ws, 10, errors=4, at=datetime.now(UTC))
    path.write_text(good.replace("window: 15m", "window: whenever"))
    stop = threading.Event()
    cycles: list = []

    def fix_after_a_failure(cycle):
        cycles.append(cycle)

    thread = threading.Thread(target=trimtab.run_monitor, args=(ws, 0.05, stop),
                              kwargs={"on_cycle": fix_after_a_failure})
    with caplog.at_level("ERROR", logger="trimtab.observe.alerts"):
        thread.start()
    try:
        assert wait_until(lambda: any("not a duration" in r.getMessage()
                                      for r in caplog.records))
        assert thread.is_alive() and cycles == []
        path.write_text(good + "\n")  # fixed (and a different size, so it is reloaded)
        assert receiver.wait_for(1)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert receiver.delivered[0]["rule"] == "router-errors"


def test_monitor_command_stops_cleanly_on_ctrl_c(project_dir, database_url, receiver):
    add_yaml(project_dir, channels(ops=receiver.url) + rules(("router-errors", "ops")))
    ws = trimtab.connect(project_dir, database_url=database_url)
    record(ws, 10, errors=4, at=datetime.now(UTC))
    ws.close()
    env = {**os.environ, "TRIMTAB_PROJECT": str(project_dir),
           "TRIMTAB_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-c", "from trimtab.cli import main; main()", "monitor",
         "--interval", "1s"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        assert receiver.wait_for(1, timeout=60)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "monitoring 1 alert rule every 1s" in output
    assert "alert router-errors firing for complaint-router" in output
    assert "monitor stopped" in output and "Traceback" not in output


# --- run: a command with the event on stdin ---------------------------------------


def test_run_command_gets_the_event_json_on_stdin(ws, project_dir, tmp_path):
    received = tmp_path / "event.json"
    script = ("import os, sys, pathlib; pathlib.Path(sys.argv[1]).write_text(sys.stdin.read()"
              " + '\\n' + os.environ['TRIMTAB_ALERT_STATE'])")
    add_yaml(project_dir, f"""
        alerts:
          router-errors:
            system: complaint-router
            metric: error_rate
            window: 15m
            comparator: ">"
            threshold: 0.1
            run:
              command: {json.dumps([sys.executable, "-c", script, str(received)])}
              timeout: 60
    """)
    record(ws, 10, errors=4, at=T0)
    [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
    assert sent.ok and sent.target == "run:"
    text, state = received.read_text().rsplit("\n", 1)
    event = json.loads(text)
    assert state == "firing"
    assert (event["rule"], event["state"], event["value"]) == ("router-errors", "firing", 0.4)
    assert event["event_id"] == ws.alert_events()[0].id
    received.unlink()
    record(ws, 90, at=T0 + timedelta(minutes=2))
    resolved = state_of(ws.check_alerts(now=T0 + timedelta(minutes=3)), "router-errors")
    assert resolved.event.state == "resolved"
    assert not received.exists()  # by default a command runs on firing only


def test_a_failing_command_is_recorded_and_never_rerun(ws, project_dir, tmp_path):
    runs = tmp_path / "runs"
    script = ("import sys, pathlib; p = pathlib.Path(sys.argv[1]); "
              "p.write_text(p.read_text() + 'x' if p.exists() else 'x'); "
              "sys.exit('pipeline unavailable')")
    add_yaml(project_dir, f"""
        alerts:
          router-errors:
            system: complaint-router
            metric: error_rate
            window: 15m
            comparator: ">"
            threshold: 0.1
            run:
              command: {json.dumps([sys.executable, "-c", script, str(runs)])}
              events: [firing, resolved]
    """)
    record(ws, 10, errors=4, at=T0)
    [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
    assert not sent.ok and sent.gave_up
    assert "exited 1: pipeline unavailable" in sent.detail
    ws.check_alerts(now=T0 + timedelta(minutes=10))  # long after any retry delay
    assert runs.read_text() == "x"


def test_a_missing_command_is_reported(ws, project_dir):
    add_yaml(project_dir, rules(("router-errors", "")) + "      run: {command: scripts/nope}\n")
    record(ws, 10, errors=4, at=T0)
    [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
    assert not sent.ok and "command not found: scripts/nope" in sent.detail


# --- apprise (Slack, Teams, e-mail, ...) -------------------------------------------


def test_apprise_channel_posts_through_a_loopback_json_target(ws, project_dir, receiver,
                                                              monkeypatch):
    monkeypatch.setenv("TEAM_CHAT_URL", f"json://127.0.0.1:{receiver.port}/chat")
    add_yaml(project_dir, "channels:\n  team-chat:\n    kind: apprise\n"
             "    url_env: TEAM_CHAT_URL\n" + rules(("router-errors", "team-chat")))
    record(ws, 10, errors=4, at=T0)
    [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
    assert sent.ok, sent.detail
    [request] = receiver.requests
    assert request["path"] == "/chat"
    body = request["body"]
    assert body["title"] == "[FIRING] critical: router-errors (complaint-router)"
    assert "error_rate 40.0% > 10.0% over the last 15m" in body["message"]
    assert body["type"] == "failure"


def test_apprise_e_mail_keeps_the_line_breaks(ws, project_dir):
    """Through a real SMTP server on loopback: the alert's lines stay lines in the
    plain-text part and become <br> in the HTML part, not one run-on line."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            self.messages.append(message_from_bytes(envelope.original_content))
            return "250 OK"

    inbox = Inbox()
    with socket.socket() as probe:  # a free port: the controller cannot start on port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        add_yaml(project_dir, "channels:\n  oncall-mail:\n    kind: apprise\n"
                 f"    url: mailto://127.0.0.1:{port}?from=alerts@example.com"
                 "&to=oncall@example.com&mode=insecure\n"
                 + rules(("router-errors", "oncall-mail")))
        record(ws, 10, errors=4, at=T0)
        [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
    finally:
        smtp.stop()
    assert sent.ok, sent.detail
    [mail] = inbox.messages
    parts = {part.get_content_type(): part.get_payload(decode=True).decode()
             for part in mail.walk() if not part.is_multipart()}
    text = parts.get("text/plain") or parts["text/html"]
    lines = text.strip().splitlines()
    assert "error_rate 40.0% > 10.0% over the last 15m" in lines[0], text
    assert lines[1].startswith("10 calls · "), text
    if "text/html" in parts:
        assert "<br" in parts["text/html"], parts["text/html"]


def test_alerts_test_command(cli, project_dir, receiver):
    add_yaml(project_dir, channels(ops=receiver.url, down=refused_url())
             + f"  chat:\n    kind: apprise\n    url: json://127.0.0.1:{receiver.port}/\n"
             + "  weird:\n    kind: apprise\n    url: nosuchservice://x\n")
    out = cli("alerts", "test", "ops").stdout
    assert "sent a test message through ops" in out
    assert receiver.requests[0]["body"]["test"] is True
    assert "channel 'ops' works" in receiver.requests[0]["body"]["summary"]
    assert "sent a test message through chat" in cli("alerts", "test", "chat").stdout
    assert receiver.requests[1]["body"]["title"].startswith("[TEST]")
    failed = cli("alerts", "test", "down", expect=1)
    assert "test message through down failed" in failed.output
    assert "ConnectError" in failed.output and "Traceback" not in failed.output
    assert "does not understand a nosuchservice:// URL" in \
        cli("alerts", "test", "weird", expect=1).output
    unknown = cli("alerts", "test", "opz", expect=2).output
    assert "unknown channel 'opz'. Did you mean 'ops'?" in unknown
