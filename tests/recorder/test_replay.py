"""Who replays a spool a stopped process left: a process that records on it
(docs/gateway.md, "Durability and scale"), or `trimtab db replay`; a command that
only reads the store leaves it alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from tests.recorder.test_recorder import KILLED, SRC


def test_only_a_recording_process_or_db_replay_replays_an_orphaned_spool(cli, project_dir,
                                                                         database_url):
    spool = project_dir / ".trimtab" / "spool"
    spool.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", KILLED, database_url, str(spool)],
                          env={**os.environ, "PYTHONPATH": SRC}, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    promised = set(done.stdout.split())
    left = sorted(p.name for p in spool.iterdir())

    cli("systems")  # reads the store: the orphan stays where it is
    cli("calls", "--json")
    assert sorted(p.name for p in spool.iterdir()) == left

    replayed = json.loads(cli("db", "replay", "--json").output)
    assert replayed["done"] and replayed["unreadable_lines"] == 1  # the torn line
    assert replayed["stored"] + replayed["already_stored"] == len(promised)
    assert list(spool.iterdir()) == []
    stored = json.loads(cli("calls", "--json", "--limit", "1000").output)
    assert {c["id"] for c in stored} >= promised
