"""Rollups and metrics: percentiles, errors, tokens and cost over any window."""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from trimtab.recorder.recorder import Recorder
from trimtab.recorder.records import CallRecord
from trimtab.store.latency_sketch import LatencySketch
from trimtab.store.rollups import plan


def exact(values, q):
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


@pytest.mark.parametrize("shape", ["lognormal", "uniform", "bimodal"])
def test_sketch_percentiles_are_within_2_percent_of_exact(shape):
    rng = random.Random(7)
    draw = {
        "lognormal": lambda: rng.lognormvariate(5, 1.2),
        "uniform": lambda: rng.uniform(1, 3000),
        "bimodal": lambda: rng.gauss(40, 5) if rng.random() < 0.9 else rng.gauss(2500, 300),
    }[shape]
    values = [max(draw(), 0.5) for _ in range(50_000)]
    # Built in pieces and merged, as rollups are.
    sketch = LatencySketch()
    for start in range(0, len(values), 5000):
        piece = LatencySketch.of(values[start:start + 5000])
        sketch.merge(LatencySketch.from_json(piece.to_json()))
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        truth = exact(values, q)
        assert abs(sketch.quantile(q) - truth) / truth <= 0.02, (q, sketch.quantile(q), truth)
    assert sketch.count == len(values)


def test_plan_covers_any_window_exactly_once():
    rng = random.Random(3)
    for _ in range(300):
        start = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(60 * 24 * 40))
        end = start + timedelta(minutes=rng.randrange(1, 60 * 24 * 35))
        segments = plan(start, end)
        cursor = start
        for _, lo, hi in sorted(segments, key=lambda s: s[1]):
            assert lo == cursor and hi > lo
            cursor = hi
        assert cursor == end
        assert sum(1 for s in segments if s[0] == "m") <= 2 * 59


@pytest.fixture
def recorded(database_url, tmp_path):
    """400 calls over two models, two users, two teams; 10% errors; some unpriced."""
    store = trimtab.Store(database_url)
    recorder = Recorder(store, tmp_path / "spool")
    rng = random.Random(11)
    now = datetime.now(UTC)
    latencies = {"sim-a": [], "sim-b": []}
    for i in range(400):
        model = "sim-a" if i % 2 else "sim-b"
        latency = rng.lognormvariate(4 if model == "sim-a" else 5, 0.4)
        latencies[model].append(latency)
        record = CallRecord(
            system="complaint-router", env="production" if i % 4 else "staging",
            latency_ms=latency, model=model, status="error" if i % 10 == 0 else "ok",
            time=now - timedelta(minutes=rng.randrange(0, 120)),
            input_tokens=100, output_tokens=10, cost_micro_usd=None if i % 50 == 0 else 250,
            user_id=f"user-{i % 2}", tags={"team": "qa" if i < 100 else "ops"},
        )
        recorder.record(record)
        if i == 0:
            recorder.record(record)  # a replay must not be counted twice
    assert recorder.flush()
    recorder.close()
    ws = trimtab.connect(database_url=database_url)
    yield ws, latencies
    ws.close()


def test_metrics_by_model_match_the_calls(recorded):
    ws, latencies = recorded
    rows = {r.group["model"]: r for r in ws.metrics(window=timedelta(hours=3), by=["model"])}
    assert rows["sim-a"].calls == 200 and rows["sim-b"].calls == 201 - 1
    assert rows["sim-b"].errors == 40 and rows["sim-a"].errors == 0
    for model, values in latencies.items():
        for q, got in ((0.5, rows[model].p50_ms), (0.95, rows[model].p95_ms)):
            assert abs(got - exact(values, q)) / exact(values, q) <= 0.02
    total = sum((r.cost_usd for r in rows.values()), start=0)
    assert str(total) == str(sum(250 for i in range(400) if i % 50) / 1_000_000)
    assert sum(r.cost_unknown_calls for r in rows.values()) == 8
    assert rows["sim-a"].input_tokens == 200 * 100


def test_metrics_by_user_tag_and_env(recorded):
    ws, _ = recorded
    by_user = {r.group["user"]: r.calls for r in ws.metrics(window=timedelta(hours=3), by=["user"])}
    assert by_user == {"user-0": 200, "user-1": 200}
    by_team = {r.group["tag"]: r.calls
               for r in ws.metrics(window=timedelta(hours=3), by=["tag"], tag="team")}
    assert by_team == {"qa": 100, "ops": 300}
    staging = ws.metrics(window=timedelta(hours=3), env="staging", by=["env"])
    assert [(r.group["env"], r.calls) for r in staging] == [("staging", 100)]


def test_windows_select_calls_by_time(recorded):
    ws, _ = recorded
    everything = ws.metrics(window=timedelta(hours=3))[0].calls
    recent = ws.metrics(window=timedelta(minutes=30))[0].calls
    assert everything == 400 and 0 < recent < 400
    assert ws.metrics(window=timedelta(hours=1), end=datetime.now(UTC) - timedelta(days=2)) == []


def test_bad_metric_queries_are_clear(recorded):
    ws, _ = recorded
    with pytest.raises(trimtab.TrimtabError, match="cannot group by colour"):
        ws.metrics(by=["colour"])
    with pytest.raises(trimtab.TrimtabError, match="--tag KEY"):
        ws.metrics(by=["tag"])
    with pytest.raises(trimtab.TrimtabError, match="window must be positive"):
        ws.metrics(window=timedelta(0))


def test_metrics_cli(cli, project_dir):
    ws = trimtab.connect(project_dir)
    assert "no calls in the last 24h" in cli("metrics").stdout
    for i in range(20):
        ws.record("complaint-router", {"i": i}, {"ok": True}, 10.0 + i, model="sim-router-1",
                  cost_micro_usd=1000, status="error" if i == 0 else "ok")
    assert ws.flush()
    ws.close()
    rows = json.loads(cli("metrics", "complaint-router", "--by", "model", "--json").stdout)
    assert rows[0]["model"] == "sim-router-1" and rows[0]["calls"] == 20
    assert rows[0]["errors"] == 1 and rows[0]["cost_usd"] == "0.02"
    assert rows[0]["cost_per_call_usd"] == "0.001000"
    table = cli("metrics", "--window", "7d").stdout
    assert "complaint-router" in table and "5.0%" in table
    assert "not a span" in cli("metrics", "--window", "forever", expect=2).output
    assert "cannot group by" in cli("metrics", "--by", "region", expect=2).output


def test_spend_tables_sum_in_the_database_to_what_the_metrics_say(recorded):
    ws, _ = recorded
    window = timedelta(hours=3)
    for by, tag in (("model", None), ("user", None), ("tag", "team")):
        spent = ws.spend("complaint-router", window=window, by=by, tag=tag)
        metrics = ws.metrics(window=window, system="complaint-router", by=[by], tag=tag)
        assert [(s.group[by], s.calls, s.cost_usd, s.cost_unknown_calls,
                 s.cost_per_call_usd) for s in spent] == [
            (m.group[by], m.calls, m.cost_usd, m.cost_unknown_calls, m.cost_per_call_usd)
            for m in metrics], by
    assert ws.spend("customer-triage", window=window, by="model") == []


def test_a_spend_table_keeps_its_top_groups_and_sums_the_rest(recorded):
    ws, _ = recorded
    window = timedelta(hours=3)
    whole = ws.spend("complaint-router", window=window, by="tag", tag="team")
    assert [s.group["tag"] for s in whole] == ["ops", "qa"]  # largest spend first
    [top, others] = ws.spend("complaint-router", window=window, by="tag", tag="team", top=1)
    assert (top.group["tag"], top.calls) == ("ops", 300)
    assert (others.group["tag"], others.calls) == ("(all others)", 100)
    assert top.cost_usd + others.cost_usd == sum(s.cost_usd for s in whole)
    assert others.cost_unknown_calls == whole[1].cost_unknown_calls
    with pytest.raises(trimtab.TrimtabError, match="cannot show spend by colour"):
        ws.spend("complaint-router", by="colour")
    with pytest.raises(trimtab.TrimtabError, match="tag key"):
        ws.spend("complaint-router", by="tag")


def test_system_spend_sums_in_the_database_to_what_the_metrics_say(recorded):
    ws, _ = recorded
    for window in (timedelta(hours=3), timedelta(minutes=90)):
        spent = ws.system_spend(window=window)
        metrics = ws.metrics(window=window, by=["system"])
        assert [(s.group["system"], s.calls, s.cost_usd, s.cost_unknown_calls) for s in spent] == [
            (m.group["system"], m.calls, m.cost_usd, m.cost_unknown_calls) for m in metrics]
    long_ago = datetime.now(UTC) - timedelta(days=9)
    assert ws.system_spend(window=timedelta(hours=3), end=long_ago) == []
    with pytest.raises(trimtab.TrimtabError, match="window must be positive"):
        ws.system_spend(window=timedelta(0))
