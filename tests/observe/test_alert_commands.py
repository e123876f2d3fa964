"""A rule's `run:` command against real processes that misbehave: one that starts a
job in the background, one that outlives its timeout with children, one that prints
without end, one that cannot start, and a monitor that died while one ran."""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

from tests.helpers.alerts import T0, add_yaml, record
from trimtab.observe import channels
from trimtab.observe.alerts import evaluate
from trimtab.observe.monitor import STALE_CLAIM, deliver
from trimtab.project.alert_rules import RunSpec
from trimtab.store import alerts as alert_store

EVENT = {"rule": "r", "state": "firing", "system": "s", "severity": "critical"}


def run_rule(project_dir, command: list[str], timeout: float = 60) -> None:
    add_yaml(project_dir, f"""
        alerts:
          router-errors:
            system: complaint-router
            metric: error_rate
            window: 15m
            comparator: ">"
            threshold: 0.1
            run:
              command: {json.dumps(command)}
              timeout: {timeout}
    """)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def wait_for_pid(path: Path) -> int:
    for _ in range(200):
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")


def test_a_command_that_starts_a_background_job_succeeds_at_once(ws, project_dir, tmp_path):
    pid_file = tmp_path / "job.pid"
    starter = ("import subprocess, sys; job = subprocess.Popen([sys.executable, '-c', "
               "'import time; time.sleep(60)']); open(sys.argv[1], 'w').write(str(job.pid)); "
               "print('retraining started')")
    run_rule(project_dir, [sys.executable, "-c", starter, str(pid_file)], timeout=5)
    record(ws, 10, errors=4, at=T0)
    started = time.monotonic()
    [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
    took = time.monotonic() - started
    job = wait_for_pid(pid_file)
    try:
        # The job kept the command's stdout open: waiting for it held the monitor until
        # the timeout, then reported a command that had exited 0 as killed.
        assert sent.ok, sent.detail
        assert took < 4
        assert alive(job)  # the background job is the command's business
    finally:
        os.kill(job, 9)


def test_a_command_past_its_timeout_is_killed_with_what_it_started(ws, project_dir, tmp_path):
    pid_file = tmp_path / "child.pid"
    run_rule(project_dir, ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"], timeout=1)
    record(ws, 10, errors=4, at=T0)
    [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
    child = wait_for_pid(pid_file)
    try:
        assert not sent.ok and sent.gave_up
        assert "ran past its timeout of 1s and was killed" in sent.detail
        for _ in range(100):
            if not alive(child):
                break
            time.sleep(0.05)
        assert not alive(child)  # only the shell was killed; its sleep ran on
    finally:
        if alive(child):
            os.kill(child, 9)


def test_a_command_output_is_read_from_its_end_only(tmp_path):
    chatty = ("import sys; block = 'x' * 65535 + '\\n'; "
              "[sys.stdout.write(block) for _ in range(800)]; "  # 50 MiB
              "sys.stdout.write('y' * 100_000); sys.exit(3)")
    tracemalloc.start()
    try:
        outcome = channels.run_command(RunSpec(command=[sys.executable, "-c", chatty]), EVENT,
                                       tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not outcome.ok
    assert outcome.detail.startswith(f"{sys.executable} exited 3: yyyy")
    assert len(outcome.detail) < len(sys.executable) + 400  # the 100,000-character line, cut
    assert peak < 8 * 2**20  # 50 MiB of output was held in memory


def test_a_command_killed_by_a_signal_says_so(tmp_path):
    suicide = "import os, signal; print('about to go'); os.kill(os.getpid(), signal.SIGTERM)"
    outcome = channels.run_command(RunSpec(command=[sys.executable, "-c", suicide]), EVENT,
                                   tmp_path)
    assert not outcome.ok
    assert outcome.detail == f"{sys.executable} was killed by SIGTERM: about to go"


def test_a_script_that_cannot_start_is_given_up_at_once(ws, project_dir):
    script = project_dir / "retrain"
    script.write_text("echo no shebang line\n")
    script.chmod(0o755)
    run_rule(project_dir, ["./retrain"])
    record(ws, 10, errors=4, at=T0)
    [sent] = ws.check_alerts(now=T0 + timedelta(minutes=1)).sent
    # An OSError other than 'not found' escaped and the command was tried on 4 more cycles.
    assert not sent.ok and sent.gave_up
    assert sent.detail == "command ./retrain could not start: Exec format error"


def test_a_command_whose_monitor_died_is_never_run_again(ws, project_dir, tmp_path):
    runs = tmp_path / "runs"
    run_rule(project_dir, [sys.executable, "-c",
                           f"open({str(runs)!r}, 'a').write('ran\\n')"])
    record(ws, 10, errors=4, at=T0)
    now = T0 + timedelta(minutes=1)
    [status] = [s for s in evaluate(ws.store, ws.project, now=now) if s.event]
    with ws.store.ingest() as conn:  # a monitor claims the command, then dies
        [pending] = alert_store.deliveries(conn, [status.event.id])[status.event.id]
        assert alert_store.claim(conn, pending, now=now)
    [sent] = deliver(ws.store, ws.project, now=now + STALE_CLAIM + timedelta(minutes=1))
    assert not runs.exists()  # the retraining started a second time
    assert not sent.ok and sent.gave_up and "not run again" in sent.detail
    [after] = ws.alert_deliveries([status.event.id])[status.event.id]
    assert after.status == "gave_up" and "its monitor stopped" in after.detail
    assert deliver(ws.store, ws.project, now=now + timedelta(hours=1)) == []
