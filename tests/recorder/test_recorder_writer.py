"""The recorder's writer as a child process (what the gateway uses), and who owns a spool.

The child drains on another core; it dies with its parent (what it had not
stored is replayed by the next recorder), is restarted if it crashes alone,
and never touches the segments of a recorder that is still alive.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import trimtab
from trimtab.recorder.recorder import Recorder
from trimtab.recorder.records import CallRecord

SRC = str(Path(trimtab.__file__).parents[1])


def call(i: int) -> CallRecord:
    return CallRecord(system="complaint-router", env="production", latency_ms=10.0 + i,
                      model="sim-router-1", input_tokens=100, output_tokens=20,
                      user_id=f"user-{i % 7}", request={"text": f"complaint {i}"})


def stored_ids(database_url: str) -> list[str]:
    return [c.id for c in trimtab.connect(database_url=database_url).calls(limit=100_000)]


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):  # exited; waiting for init to reap it
            return True
        time.sleep(0.05)
    return False


def test_a_writer_process_stores_every_record_and_cleans_up(database_url, tmp_path):
    recorder = Recorder(trimtab.Store(database_url), tmp_path / "spool", writer="process")
    child = recorder._writer._child
    ids = [recorder.record(call(i)) for i in range(2_000)]
    assert recorder.flush(timeout=60)
    assert sorted(stored_ids(database_url)) == sorted(ids)
    stats = recorder.stats()
    assert stats["written"] == 2_000 and stats["pending_bytes"] == 0 and stats["spooled"] == 2_000
    assert child.pid != os.getpid()
    recorder.close()
    assert child.poll() == 0
    assert list((tmp_path / "spool").iterdir()) == []
    [totals] = trimtab.connect(database_url=database_url).metrics(system="complaint-router")
    assert totals.calls == 2_000


def test_a_crashed_writer_process_is_restarted_and_nothing_is_lost(database_url, tmp_path):
    recorder = Recorder(trimtab.Store(database_url), tmp_path / "spool", writer="process")
    ids = [recorder.record(call(i)) for i in range(500)]
    assert recorder.flush(timeout=60)
    deadline = time.monotonic() + 10  # its counters come a moment after the checkpoint
    while recorder.stats()["written"] < 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    first = recorder._writer._child
    first.kill()
    ids += [recorder.record(call(i)) for i in range(500, 1_000)]
    assert recorder.flush(timeout=60)
    assert recorder._writer._child is not first  # a new one took over
    found = stored_ids(database_url)
    assert sorted(found) == sorted(ids)  # each once: the replay skipped what was stored
    assert recorder.stats()["written"] == 1_000  # counted across both writers
    recorder.close()


KILLED = textwrap.dedent("""
    import os, signal, sys, time
    from pathlib import Path
    import trimtab
    from trimtab.recorder.recorder import Recorder
    from trimtab.recorder.records import CallRecord
    recorder = Recorder(trimtab.Store(sys.argv[1]), Path(sys.argv[2]), writer="process",
                        interval=3600)  # it never drains on its own: the kill finds a backlog
    print(recorder._writer._child.pid, flush=True)
    for i in range(300):
        print(recorder.record(CallRecord(system="s", env="production", latency_ms=1.0)))
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_the_writer_process_dies_with_its_parent_and_the_next_recorder_replays(
        database_url, tmp_path):
    spool = tmp_path / "spool"
    done = subprocess.run([sys.executable, "-c", KILLED, database_url, str(spool)],
                          env={**os.environ, "PYTHONPATH": SRC}, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    child, *promised = done.stdout.split()
    assert len(promised) == 300
    assert gone(int(child), within=10), "the writer process outlived its parent"
    assert len(stored_ids(database_url)) < 300
    recorder = Recorder(trimtab.Store(database_url), spool, writer="process")
    assert recorder.flush(timeout=60)
    assert sorted(stored_ids(database_url)) == sorted(promised)
    recorder.close()
    assert list(spool.iterdir()) == []  # the dead owner's lock file went with its segments


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_a_live_recorders_spool_is_never_adopted(database_url, tmp_path, writer):
    spool = tmp_path / "spool"
    store = trimtab.Store(database_url)
    slow = Recorder(store, spool, writer=writer, interval=3600)
    ids = [slow.record(call(i)) for i in range(50)]
    other = Recorder(store, spool, writer=writer)
    other.record(call(99))
    assert other.flush(timeout=30)
    assert other.stats()["written"] == 1  # not the 50 of a recorder that is alive
    other.close()
    assert slow.flush(timeout=30) and slow.stats()["written"] == 50
    slow.close()
    assert len(stored_ids(database_url)) == 51 and set(ids) <= set(stored_ids(database_url))


def test_the_writer_is_chosen_by_environment(project_dir, database_url, monkeypatch):
    monkeypatch.setenv("TRIMTAB_RECORDER_WRITER", "process")
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        ws.record("complaint-router", {"x": 1}, "y", latency_ms=5)
        assert ws.flush()
        assert ws.recorder._writer._child.poll() is None
        assert len(ws.calls()) == 1
    monkeypatch.setenv("TRIMTAB_RECORDER_WRITER", "processes")
    with trimtab.connect(project_dir, database_url=database_url) as ws:
        with pytest.raises(trimtab.TrimtabError, match="TRIMTAB_RECORDER_WRITER.*`process`"):
            ws.record("complaint-router", {"x": 1}, "y", latency_ms=5)


def test_a_writer_process_that_cannot_start_falls_back_to_a_thread(
        database_url, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(sys, "executable", "/bin/false")  # every child exits at once
    recorder = Recorder(trimtab.Store(database_url), tmp_path / "spool", writer="process")
    ids = [recorder.record(call(i)) for i in range(200)]
    assert recorder.flush(timeout=30)
    assert sorted(stored_ids(database_url)) == sorted(ids)
    assert recorder.stats()["written"] == 200
    assert "writing from a thread instead" in caplog.text
    recorder.close()
    assert list((tmp_path / "spool").iterdir()) == []


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_closing_while_the_store_is_down_keeps_the_spool_for_the_next_recorder(
        postgres_url, tmp_path, writer):
    from urllib.parse import urlsplit, urlunsplit

    from tests.helpers.tcp_proxy import TcpProxy

    parts = urlsplit(postgres_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    through = urlunsplit(parts._replace(netloc=f"{auth}127.0.0.1:{proxy.port}"))
    trimtab.Store(through).dispose()  # migrate while reachable
    spool = tmp_path / "spool"
    recorder = Recorder(trimtab.Store(through), spool, writer=writer)
    proxy.cut()
    ids = [recorder.record(call(i)) for i in range(20)]
    recorder.close(timeout=1)  # the last round fails: nothing may be deleted
    assert recorder.record(call(99)) and recorder.stats()["dropped"] == 1  # after close: dropped
    assert list(spool.glob("*.jsonl"))
    proxy.restore()
    again = Recorder(trimtab.Store(through), spool, writer=writer)
    assert again.flush(timeout=60)
    assert sorted(stored_ids(postgres_url)) == sorted(ids)
    again.close()
    proxy.close()
