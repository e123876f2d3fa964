"""Recording never waits on the database, and never loses or duplicates a call."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

import trimtab
from tests.helpers import promote_through
from tests.helpers.tcp_proxy import TcpProxy, proxied
from trimtab.recorder.recorder import Recorder
from trimtab.recorder.records import CallRecord

SRC = str(Path(trimtab.__file__).parents[1])


def call(i: int, **extra) -> CallRecord:
    return CallRecord(system="complaint-router", env="production", latency_ms=12.5 + i,
                      model="sim-router-1", input_tokens=100, output_tokens=20,
                      request={"messages": [{"role": "user", "content": f"complaint {i}"}]},
                      response={"text": f"answer {i}"}, **extra)


def test_recorded_calls_reach_the_store(database_url, tmp_path):
    store = trimtab.Store(database_url)
    recorder = Recorder(store, tmp_path / "spool")
    ids = [recorder.record(call(i, tags={"team": "qa"}, user_id="u1")) for i in range(250)]
    assert recorder.flush(timeout=30)
    ws = trimtab.connect(database_url=database_url)
    stored = ws.calls(limit=1000)
    assert {c.id for c in stored} == set(ids)
    one = ws.call(ids[7][:20])
    assert json.loads(one.request)["messages"][0]["content"] == "complaint 7"
    assert one.to_dict()["tags"] == {"team": "qa"} and one.user_id == "u1"
    assert recorder.stats()["written"] == 250 and recorder.stats()["pending_bytes"] == 0
    recorder.close()
    assert list((tmp_path / "spool").iterdir()) == []


def test_replayed_records_are_never_duplicated(database_url, tmp_path):
    store = trimtab.Store(database_url)
    recorder = Recorder(store, tmp_path / "spool")
    record = call(1)
    recorder.record(record)
    recorder.record(record)
    assert recorder.flush()
    assert recorder.stats()["written"] == 1 and recorder.stats()["duplicates"] == 1
    recorder.close()


def test_segments_rotate_and_are_removed_once_drained(database_url, tmp_path):
    store = trimtab.Store(database_url)
    recorder = Recorder(store, tmp_path / "spool", segment_bytes=4096)
    for i in range(300):
        recorder.record(call(i))
    assert recorder.flush()
    assert len(trimtab.connect(database_url=database_url).calls(limit=1000)) == 300
    assert len(list((tmp_path / "spool").glob("*.jsonl"))) == 1  # only the live segment
    recorder.close()


KILLED = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import trimtab
    from trimtab.recorder.recorder import Recorder
    from trimtab.recorder.records import CallRecord
    store = trimtab.Store(sys.argv[1])
    recorder = Recorder(store, Path(sys.argv[2]))  # some may be written before the kill
    ids = []
    for i in range(500):
        ids.append(recorder.record(CallRecord(system="s", env="production", latency_ms=1.0)))
    print("\\n".join(ids), flush=True)
    os.write(os.open(sys.argv[2] + "/torn.jsonl", os.O_WRONLY | os.O_CREAT), b'{"id": "torn')
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_records_of_a_killed_process_are_replayed_by_the_next(database_url, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    done = subprocess.run([sys.executable, "-c", KILLED, database_url, str(spool)],
                          env={**os.environ, "PYTHONPATH": SRC}, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    promised = set(done.stdout.split())
    assert len(promised) == 500
    recorder = Recorder(trimtab.Store(database_url), spool)
    assert recorder.flush(timeout=30)
    stored = {c.id for c in trimtab.connect(database_url=database_url).calls(limit=1000)}
    assert stored == promised
    assert recorder.stats()["corrupt"] == 1  # the torn line, skipped, not fatal
    recorder.close()


SCRIPT = textwrap.dedent("""
    import sys
    import trimtab
    ws = trimtab.connect(sys.argv[1], database_url=sys.argv[2])
    for i in range(100):
        ws.record("complaint-router", {"tenure": i}, {"churn": i % 2 == 0}, latency_ms=3.0)
""")


def test_a_short_script_loses_nothing_at_exit(project_dir, database_url):
    subprocess.run([sys.executable, "-c", SCRIPT, str(project_dir), database_url], check=True,
                   env={**os.environ, "PYTHONPATH": SRC})
    ws = trimtab.connect(project_dir, database_url=database_url)
    stored = ws.calls(system="complaint-router", limit=500)
    assert len(stored) == 100
    assert {c.source for c in stored} == {"record"} and {c.env for c in stored} == {"production"}
    assert not list((project_dir / ".trimtab" / "spool").glob("*.jsonl"))


def test_record_carries_the_active_release(ws):
    made, _ = ws.release("complaint-router")
    promote_through(ws, "complaint-router", made.id, "production")
    call_id = ws.record("complaint-router", {"text": "leak"}, {"team": "packaging"}, 8.0,
                        input_tokens=10, output_tokens=3, cost_micro_usd=42)
    assert ws.flush()
    stored = ws.call(call_id)
    assert stored.release_id == made.id and stored.cost_micro_usd == 42
    assert json.loads(stored.response) == {"team": "packaging"}


def test_record_rejects_unknown_fields_and_bad_status(ws):
    with pytest.raises(trimtab.TrimtabError, match="unknown field.*tokens_in"):
        ws.record("complaint-router", {}, {}, 1.0, tokens_in=3)
    with pytest.raises(trimtab.TrimtabError, match="status must be"):
        ws.record("complaint-router", {}, {}, 1.0, status="failed")


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def test_a_30_second_postgres_outage_blocks_no_caller_and_loses_nothing(postgres_url, tmp_path):
    database_url = postgres_url
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    url = _through(database_url, proxy.port)
    trimtab.Store(url).dispose()  # migrate while reachable
    recorder = Recorder(trimtab.Store(url), tmp_path / "spool")
    ids, slowest = [], 0.0
    proxy.cut()
    outage_ends = time.monotonic() + 30
    while time.monotonic() < outage_ends:
        for i in range(50):
            started = time.perf_counter()
            ids.append(recorder.record(call(i)))
            slowest = max(slowest, time.perf_counter() - started)
        time.sleep(0.25)
    assert recorder.stats()["failures"] > 0  # the writer really hit the outage
    assert recorder.stats()["written"] == 0
    proxy.restore()
    assert recorder.flush(timeout=60)
    stored = {c.id for c in trimtab.connect(database_url=database_url).calls(limit=100_000)}
    assert stored == set(ids) and len(ids) >= 5000
    assert slowest < 0.5, f"record() blocked for {slowest:.3f}s during the outage"
    recorder.close()
    proxy.close()


def test_a_store_down_as_the_app_starts_fails_no_record(postgres_url, project_dir):
    """The recorder opened the store (and checked its schema) as it started, so
    with the database down at that moment every ws.record() raised StoreUnavailable:
    the records now wait in the spool and go in once it answers."""
    with proxied(postgres_url) as (proxy, url):
        proxy.cut()
        ws = trimtab.connect(project_dir, database_url=url)
        ids = [ws.record("complaint-router", {"text": f"seal {i}"}, "packaging", 5.0)
               for i in range(3)]
        assert ws.recorder.stats()["spooled"] == 3
        proxy.restore()
        assert ws.flush(timeout=20)
        assert {c.id for c in ws.calls()} == set(ids)
        ws.close()


def test_calls_and_call_cli(cli, project_dir):
    ws = trimtab.connect(project_dir)
    ok = ws.record("complaint-router", {"text": "seal leaks"}, {"team": "packaging"}, 12.0,
                   model="sim-router-1", input_tokens=40, output_tokens=8, cost_micro_usd=90)
    failed = ws.record("complaint-router", {"text": "?"}, None, 30.0, status="error",
                       error="upstream 500", error_kind="server")
    assert ws.flush()
    ws.close()
    listed = json.loads(cli("calls", "--json").stdout)
    assert [c["id"] for c in listed] == [failed, ok]
    errors = json.loads(cli("calls", "--errors", "--json").stdout)
    assert [c["id"] for c in errors] == [failed]
    table = cli("calls", "--system", "complaint-router").stdout
    assert ok[:16] in table and "server" in table and "40→8" in table
    shown = json.loads(cli("call", ok[:18]).stdout)
    assert shown["request"] == {"text": "seal leaks"} and shown["cost_micro_usd"] == 90
    assert "no call has an id" in cli("call", "ffffffffffff", expect=2).output


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -1, "slow"])
def test_a_latency_that_is_not_a_duration_is_refused_and_nothing_is_spooled(ws, bad):
    with pytest.raises(trimtab.TrimtabError, match="latency_ms must be a finite number"):
        ws.record("complaint-router", {"x": 1}, "y", latency_ms=bad)
    ws.record("complaint-router", {"x": 1}, "y", latency_ms=5)
    assert ws.flush() and len(ws.calls()) == 1


def test_a_bad_latency_already_in_the_spool_does_not_stop_the_writer(ws):
    from trimtab.recorder.records import CallRecord

    ws.recorder.record(CallRecord(system="complaint-router", env="production",
                                  latency_ms=float("inf")))
    ws.record("complaint-router", {"x": 1}, "y", latency_ms=5)
    assert ws.flush(timeout=10)
    assert sorted(c.latency_ms for c in ws.calls()) == [5, 1e9]


def test_call_ids_stay_unique_across_threads_and_a_fork():
    import threading

    from trimtab.recorder.records import new_call_id

    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.extend(new_call_id() for _ in range(3000)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == len(seen) == 12_000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in seen)
    new_call_id()  # the pool is half used: a child must not hand out what is left
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, ",".join(new_call_id()[14:] for _ in range(600)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    parent = {new_call_id()[14:] for _ in range(600)}
    assert len(child) == 600 and not child & parent
