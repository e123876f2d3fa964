"""Prometheus: what a scrape of /metrics shows after calls are recorded."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

import trimtab
from tests.helpers import eventually
from trimtab import install_prometheus, metrics_response
from trimtab.recorder.records import CallRecord
from trimtab.telemetry.prometheus import CallMetrics, Limits

SYSTEM = "complaint-router"


def scrape(registry) -> tuple[str, list]:
    body, content_type = metrics_response(registry)
    assert content_type.startswith("text/plain; version=0.0.4")
    text = body.decode()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return text, samples


def value(samples, name: str, **labels: str) -> float:
    """The sum over the samples of ``name`` whose labels include ``labels``."""
    matching = [s for s in samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert matching, f"no sample {name}{labels}"
    return sum(s.value for s in matching)


def test_a_scrape_counts_calls_errors_tokens_cost_and_latency(live):
    ws, release = live
    registry = install_prometheus(ws)
    for latency in (80, 300, 2000):
        ws.record(SYSTEM, {"text": "the seal leaks"}, {"team": "packaging"}, latency,
                  model="sim-router-1", user="alice@corp.example", tags={"customer": "acme-42"},
                  input_tokens=120, output_tokens=30, cost_micro_usd=1500)
    ws.record(SYSTEM, {"text": "slow"}, None, 30_000, status="error", error_kind="timeout",
              error="upstream timed out", model="sim-router-1", user="alice@corp.example")
    ws.record(SYSTEM, {"text": "odd"}, None, 5, status="error", error_kind="something new",
              model="sim-router-1")
    assert ws.flush()

    text, samples = scrape(registry)
    series = {"system": SYSTEM, "env": "production", "release": release.id[:12],
              "model": "sim-router-1", "route": "primary"}
    assert value(samples, "trimtab_calls_total", outcome="ok", **series) == 3
    assert value(samples, "trimtab_calls_total", outcome="error", **series) == 2
    assert value(samples, "trimtab_call_errors_total", error_kind="timeout", **series) == 1
    # A kind the runtime does not know is one label value, not a new series per text.
    assert value(samples, "trimtab_call_errors_total", error_kind="other", **series) == 1
    assert value(samples, "trimtab_input_tokens_total", **series) == 360
    assert value(samples, "trimtab_output_tokens_total", **series) == 90
    assert value(samples, "trimtab_cost_usd_total", **series) == pytest.approx(0.0045)

    bucket = "trimtab_call_duration_seconds_bucket"
    assert value(samples, bucket, le="0.005", **series) == 1  # 5 ms: le is inclusive
    assert value(samples, bucket, le="0.1", **series) == 2
    assert value(samples, bucket, le="0.5", **series) == 3
    assert value(samples, bucket, le="2.0", **series) == 4
    assert value(samples, bucket, le="20.0", **series) == 4
    assert value(samples, bucket, le="+Inf", **series) == 5
    assert value(samples, "trimtab_call_duration_seconds_count", **series) == 5
    assert value(samples, "trimtab_call_duration_seconds_sum", **series) == pytest.approx(32.385)

    assert value(samples, "trimtab_recorder_spooled_total") == 5
    assert value(samples, "trimtab_recorder_written_total") == 5
    assert value(samples, "trimtab_recorder_dropped_total") == 0
    assert value(samples, "trimtab_recorder_pending_bytes") == 0

    # No user, tag or error text reaches Prometheus, as a label or anywhere else.
    for secret in ("alice", "corp.example", "acme-42", "customer", "upstream timed out"):
        assert secret not in text
    assert all(not {"user", "user_id", "tags"} & set(s.labels) for s in samples)


def test_streamed_calls_get_a_time_to_first_token_histogram(ws):
    registry = install_prometheus(ws)
    ws.record(SYSTEM, "q", "a", 900, model="sim-router-1", ttft_ms=180)
    ws.record(SYSTEM, "q", "a", 400, model="sim-router-1")  # not streamed: no TTFT
    _, samples = scrape(registry)
    assert value(samples, "trimtab_time_to_first_token_seconds_count") == 1
    assert value(samples, "trimtab_time_to_first_token_seconds_bucket", le="0.1") == 0
    assert value(samples, "trimtab_time_to_first_token_seconds_bucket", le="0.25") == 1
    assert value(samples, "trimtab_call_duration_seconds_count") == 2
    assert value(samples, "trimtab_calls_total", release="none", outcome="ok") == 2


def test_label_values_are_capped_and_the_overflow_is_counted(ws):
    limits = Limits(releases_per_system=3, models_per_system=2, systems=2)
    registry = install_prometheus(ws, limits=limits)
    for i in range(6):
        ws.emit(CallRecord(system=SYSTEM, env="production", latency_ms=10,
                           release_id=f"{i:02d}" * 32, model="sim-router-1"))
    for i in range(5):
        ws.emit(CallRecord(system=SYSTEM, env="production", latency_ms=10,
                           model=f"generated-model-{i}"))
    for name in ("alpha", "beta", "gamma"):
        ws.emit(CallRecord(system=name, env="production", latency_ms=10, route="sideways"))
    _, samples = scrape(registry)

    releases = {s.labels["release"] for s in samples
                if s.name == "trimtab_calls_total" and s.labels["system"] == SYSTEM}
    assert releases == {"000000000000", "010101010101", "020202020202", "other", "none"}
    assert value(samples, "trimtab_calls_total", system=SYSTEM, release="other") == 3

    models = {s.labels["model"] for s in samples
              if s.name == "trimtab_calls_total" and s.labels["system"] == SYSTEM}
    assert models == {"sim-router-1", "generated-model-0", "other"}
    assert value(samples, "trimtab_calls_total", system=SYSTEM, model="other") == 4

    systems = {s.labels["system"] for s in samples if s.name == "trimtab_calls_total"}
    assert systems == {SYSTEM, "alpha", "other"}
    routes = {s.labels["route"] for s in samples
              if s.name == "trimtab_calls_total" and s.labels["system"] != SYSTEM}
    assert routes == {"other"}

    assert value(samples, "trimtab_label_overflow_total", label="release") == 3
    assert value(samples, "trimtab_label_overflow_total", label="model") == 4
    assert value(samples, "trimtab_label_overflow_total", label="system") == 2
    series = {tuple(sorted(s.labels.items())) for s in samples
              if s.name == "trimtab_call_duration_seconds_count"}
    assert len(series) <= 2 * (3 + 1 + 1) * (2 + 1)  # systems x releases x models, bounded


def test_an_idle_release_gives_its_place_to_a_new_one():
    now = [0.0]
    metrics = CallMetrics(Limits(releases_per_system=2, release_idle_seconds=600),
                          clock=lambda: now[0])
    registry = CollectorRegistry()
    registry.register(metrics)

    def call(release: str) -> None:
        metrics(CallRecord(system=SYSTEM, env="production", latency_ms=10, release_id=release))

    def releases() -> dict[str, float]:
        _, samples = scrape(registry)
        return {s.labels["release"]: s.value for s in samples
                if s.name == "trimtab_calls_total" and s.labels["outcome"] == "ok"}

    call("a" * 64)
    now[0] = 100
    call("b" * 64)
    call("c" * 64)  # both others served within the idle time: counted as other
    assert releases() == {"a" * 12: 1, "b" * 12: 1, "other": 1}
    now[0] = 650  # a's last call was 650 s ago; b's only 550 s
    call("c" * 64)
    assert releases() == {"b" * 12: 1, "c" * 12: 1, "other": 1}


def test_scraping_never_starts_the_recorder_and_install_is_idempotent(project_dir, tmp_path):
    ws = trimtab.connect(project_dir, database_url=f"sqlite:///{tmp_path / 'p.db'}")
    registry = install_prometheus(ws)
    assert install_prometheus(ws) is registry
    assert sum(isinstance(o, CallMetrics) for o in ws.observers) == 1
    _, samples = scrape(registry)
    assert value(samples, "trimtab_recorder_written_total") == 0
    assert "recorder" not in ws.__dict__  # no threads, no database connection for a scrape
    assert any(s.name.startswith("process_") for s in samples)
    ws.close()


def test_openmetrics_is_served_when_the_scraper_asks_for_it(ws):
    registry = install_prometheus(ws)
    ws.record(SYSTEM, "q", "a", 120, model="sim-router-1")
    body, content_type = metrics_response(
        registry, "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")
    assert b'trimtab_calls_total{' in body


def test_metrics_still_scrape_after_the_workspace_closed(ws):
    registry = install_prometheus(ws)
    ws.record(SYSTEM, "q", "a", 120, model="sim-router-1")
    ws.close()
    _, samples = scrape(registry)
    assert value(samples, "trimtab_recorder_written_total") == 1
    assert value(samples, "trimtab_calls_total", outcome="ok") == 1


def test_deployed_systems_start_at_zero_and_the_first_call_counts(live):
    """increase() reads a series' first sample as its start: a series that appears
    with its first call hides that call, so what is deployed starts at 0."""
    ws, release = live
    registry = install_prometheus(ws)
    labels = {"system": SYSTEM, "env": "production", "release": release.short_id,
              "model": "sim-router-1", "route": "primary"}
    _, before = scrape(registry)
    assert value(before, "trimtab_calls_total", **labels, outcome="ok") == 0
    assert {s.labels["env"] for s in before if s.name == "trimtab_calls_total"} == \
        {"dev", "staging", "production"}
    ws.system(SYSTEM).run({"customer": "ACME", "product": "K-200", "text": "it sparks"})
    ws.flush()
    _, after = scrape(registry)
    assert value(after, "trimtab_calls_total", **labels, outcome="ok") == 1
    # the call landed on the seeded series, not beside it
    assert len([s for s in after if s.name == "trimtab_calls_total"]) == len(
        [s for s in before if s.name == "trimtab_calls_total"])


def test_a_release_deployed_later_starts_at_zero_before_its_first_call(live, project_dir,
                                                                      database_url):
    """A promote or rollback from another process (the CLI, CI) while the gateway
    runs: the new release's series appears at 0 within a second, so the first
    call it answers counts in increase() too."""
    ws, release = live
    registry = install_prometheus(ws)
    with trimtab.connect(project_dir, database_url=database_url) as other:
        prompt = project_dir / "prompts" / f"{SYSTEM}.user.md"
        prompt.write_text(prompt.read_text() + "\nThank you.\n")
        newer, _ = other.release(SYSTEM)
        other.promote(SYSTEM, newer.id, "dev")
        other.promote(SYSTEM, newer.id, "staging", canary=10)

    def series(env: str, route: str = "primary") -> set[str]:
        _, samples = scrape(registry)
        return {s.labels["release"] for s in samples if s.name == "trimtab_calls_total"
                and s.labels["env"] == env and s.labels["route"] == route}

    assert eventually(lambda: newer.short_id in series("dev"))
    assert eventually(lambda: newer.short_id in series("staging", "canary"))
    _, samples = scrape(registry)
    assert value(samples, "trimtab_calls_total", env="dev", release=newer.short_id) == 0
    # the release that was deployed keeps its series beside the new one
    assert release.short_id in series("dev")


def test_a_failing_listener_is_logged_and_the_routes_still_follow(live, project_dir,
                                                                 database_url, caplog):
    ws, release = live
    ws.active.on_change(lambda: 1 / 0)
    assert ws.active.get(SYSTEM, "dev").id == release.id
    with trimtab.connect(project_dir, database_url=database_url) as other:
        prompt = project_dir / "prompts" / f"{SYSTEM}.user.md"
        prompt.write_text(prompt.read_text() + "\nThank you.\n")
        newer, _ = other.release(SYSTEM)
        other.promote(SYSTEM, newer.id, "dev")
    assert eventually(lambda: ws.active.get(SYSTEM, "dev").id == newer.id)
    assert "a listener for release changes failed" in caplog.text


def test_a_listener_that_failed_is_called_again_and_logged_once(live, caplog):
    """A store that goes away between two looks must not cost a change its listeners:
    the change counts as seen only once every listener has had it."""
    ws, _ = live
    calls = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise ConnectionError("the store went away")

    ws.active.on_change(flaky)
    assert eventually(lambda: len(calls) >= 3)  # failed twice, then had it
    time.sleep(0.5)  # had it: no change since, so not called again
    assert len(calls) == 3
    assert caplog.text.count("a listener for release changes failed") == 1


def test_the_stable_deployments_given_are_not_read_again(live, monkeypatch):
    """The gateway hands install_prometheus the deployments its start just read."""
    ws, release = live
    stable = ws.status()

    def unreadable():
        raise AssertionError("read again")

    monkeypatch.setattr(ws, "status", unreadable)
    _, samples = scrape(install_prometheus(ws, stable=stable))
    assert {s.labels["env"] for s in samples if s.name == "trimtab_calls_total"} == \
        {"dev", "staging", "production"}


def test_unpriced_calls_are_counted_not_added_as_zero_dollars(ws):
    registry = install_prometheus(ws)
    ws.record(SYSTEM, "q", "a", 100, model="in-house-7b", cost_micro_usd=None)
    ws.record(SYSTEM, "q", "a", 100, model="in-house-7b", cost_micro_usd=2500)
    ws.flush()
    _, samples = scrape(registry)
    assert value(samples, "trimtab_unpriced_calls_total", model="in-house-7b") == 1
    assert value(samples, "trimtab_cost_usd_total", model="in-house-7b") == 0.0025
