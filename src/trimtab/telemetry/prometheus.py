"""Prometheus metrics for recorded calls, served by the gateway at ``GET /metrics``.

Each workspace gets its own registry, so two workspaces in one process (tests,
a gateway serving two projects) never mix their numbers, and nothing is put in
prometheus-client's global registry behind the application's back.

Labels are the few things a dashboard groups by: system, environment, release
(12-character prefix), model and route. User ids, API keys and tags are never
labels: each distinct value is a new time series kept forever by Prometheus,
and per-user numbers are what ``trimtab metrics --by user`` is for. Even the
allowed labels are capped (a script recording under a fresh model name per
call must not take the monitoring down); what goes over a cap is counted under
``other`` and in ``trimtab_label_overflow_total``.

Counts are kept here as integers (cost in micro-dollars) and only turned into
floats when scraped, so long-running sums do not drift.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, get_args

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from trimtab.recorder.records import CallRecord
from trimtab.runtime.errors import ErrorKind

if TYPE_CHECKING:
    from trimtab.store.deployments import Deployment
    from trimtab.workspace import Workspace

#: Seconds. LLM calls span 5 ms (a cache hit, a small classifier) to a minute
#: (a long generation); the steps are dense where p95 alerts usually sit.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0,
    15.0, 20.0, 30.0, 45.0, 60.0,
)
#: Time to the first streamed token: interactive UIs care about 100 ms .. 5 s.
TTFT_BUCKETS: tuple[float, ...] = (
    0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0,
)

LABELS = ("system", "env", "release", "model", "route")
OTHER = "other"
NONE = "none"
ROUTES = frozenset({"primary", "canary", "shadow"})
ERROR_KINDS = frozenset(get_args(ErrorKind))

_Key = tuple[str, str, str, str, str]
log = logging.getLogger("trimtab.telemetry")


@dataclass(frozen=True)
class Limits:
    """Caps on distinct label values; past them a value is counted as ``other``."""

    systems: int = 50
    envs: int = 10
    releases_per_system: int = 10
    models_per_system: int = 20
    #: A release not seen for this long may give its place to a new one, so a
    #: long-lived gateway keeps showing the releases that serve now.
    release_idle_seconds: float = 3600.0


@dataclass
class _Series:
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micro_usd: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    ttft: list[int] = field(default_factory=lambda: [0] * (len(TTFT_BUCKETS) + 1))
    ttft_sum: float = 0.0
    unpriced: int = 0


class CallMetrics:
    """The observer (``ws.subscribe``) and the collector (the registry) in one:
    it counts each record as it is emitted and reports the counts when scraped."""

    def __init__(self, limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._series: dict[_Key, _Series] = {}
        self._systems: set[str] = set()
        self._envs: set[str] = set()
        self._releases: dict[str, dict[str, float]] = {}  # system -> release -> last seen
        self._models: dict[str, set[str]] = {}
        self._overflow: dict[str, int] = dict.fromkeys(("system", "env", "release", "model"), 0)

    # --- observing (the hot path) -------------------------------------------

    def __call__(self, record: CallRecord) -> None:
        latency = max(record.latency_ms, 0.0) / 1000.0
        with self._lock:
            key = self._key(record)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series()
            if record.status == "error":
                kind = record.error_kind if record.error_kind in ERROR_KINDS else OTHER
                series.errors[kind] = series.errors.get(kind, 0) + 1
            else:
                series.ok += 1
            series.input_tokens += record.input_tokens or 0
            series.output_tokens += record.output_tokens or 0
            if record.cost_micro_usd is None:
                series.unpriced += 1
            else:
                series.cost_micro_usd += record.cost_micro_usd
            series.latency[bisect.bisect_left(LATENCY_BUCKETS, latency)] += 1
            series.latency_sum += latency
            if record.ttft_ms is not None:
                ttft = max(record.ttft_ms, 0.0) / 1000.0
                series.ttft[bisect.bisect_left(TTFT_BUCKETS, ttft)] += 1
                series.ttft_sum += ttft

    def seed(self, known: list[tuple[str, str, str, str, str]]) -> None:
        """Start the series of what is deployed at zero (system, env, release, model,
        route): Prometheus' ``increase()`` reads a series' first sample as its start,
        so a series born at its first call hides that call from every increase panel
        and alert until the second."""
        with self._lock:
            for labels in known:
                self._series.setdefault(self._labels(*labels), _Series())

    def _key(self, record: CallRecord) -> _Key:
        return self._labels(record.system, record.env, record.release_id, record.model,
                            record.route)

    def _labels(self, system: str, env: str, release: str | None, model: str | None,
                route: str | None) -> _Key:
        system = self._bounded("system", system, self._systems, self.limits.systems)
        env = self._bounded("env", env, self._envs, self.limits.envs)
        model_label = NONE
        if model:
            model_label = self._bounded("model", model, self._models.setdefault(system, set()),
                                        self.limits.models_per_system)
        release_label = self._release(system, release[:12]) if release else NONE
        return system, env, release_label, model_label, route if route in ROUTES else OTHER

    def _bounded(self, label: str, value: str, seen: set[str], cap: int) -> str:
        if value in seen:
            return value
        if len(seen) < cap:
            seen.add(value)
            return value
        self._overflow[label] += 1
        return OTHER

    def _release(self, system: str, release: str) -> str:
        seen = self._releases.setdefault(system, {})
        now = self._clock()
        if release in seen or len(seen) < self.limits.releases_per_system:
            seen[release] = now
            return release
        oldest = min(seen, key=seen.__getitem__)
        if now - seen[oldest] < self.limits.release_idle_seconds:
            self._overflow["release"] += 1
            return OTHER
        # Retire the idle release: its series leave the exposition (Prometheus
        # marks them stale) and the new release takes its place.
        del seen[oldest]
        for key in [k for k in self._series if k[0] == system and k[2] == oldest]:
            del self._series[key]
        seen[release] = now
        return release

    # --- scraping -----------------------------------------------------------

    def describe(self) -> list[Metric]:
        return list(self._families({}, {}))

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            snapshot = {
                key: _Series(s.ok, dict(s.errors), s.input_tokens, s.output_tokens,
                             s.cost_micro_usd, list(s.latency), s.latency_sum, list(s.ttft),
                             s.ttft_sum, s.unpriced)
                for key, s in self._series.items()
            }
            overflow = dict(self._overflow)
        yield from self._families(snapshot, overflow)

    def _families(self, snapshot: dict[_Key, _Series],
                  overflow: dict[str, int]) -> Iterator[Metric]:
        labels = list(LABELS)
        calls = CounterMetricFamily("trimtab_calls", "AI calls and predictions recorded.",
                                    labels=[*labels, "outcome"])
        errors = CounterMetricFamily("trimtab_call_errors", "Failed calls, by error kind.",
                                     labels=[*labels, "error_kind"])
        tokens_in = CounterMetricFamily("trimtab_input_tokens",
                                        "Input (prompt) tokens, cached ones included.",
                                        labels=labels)
        tokens_out = CounterMetricFamily("trimtab_output_tokens",
                                         "Output (completion) tokens, reasoning included.",
                                         labels=labels)
        cost = CounterMetricFamily("trimtab_cost_usd", "Cost of calls in US dollars "
                                   "(unpriced calls add nothing; trimtab_unpriced_calls "
                                   "counts them).", labels=labels)
        unpriced = CounterMetricFamily("trimtab_unpriced_calls", "Calls whose cost is unknown "
                                       "(no price for the model): not $0, just unknown.",
                                       labels=labels)
        latency = HistogramMetricFamily("trimtab_call_duration_seconds",
                                        "End-to-end call latency, retries and fallbacks "
                                        "included.", labels=labels)
        ttft = HistogramMetricFamily("trimtab_time_to_first_token_seconds",
                                     "Time to the first streamed token.", labels=labels)
        for key, s in snapshot.items():
            values = list(key)
            calls.add_metric([*values, "ok"], s.ok)
            calls.add_metric([*values, "error"], sum(s.errors.values()))
            for kind, count in sorted(s.errors.items()):
                errors.add_metric([*values, kind], count)
            tokens_in.add_metric(values, s.input_tokens)
            tokens_out.add_metric(values, s.output_tokens)
            cost.add_metric(values, s.cost_micro_usd / 1_000_000)
            unpriced.add_metric(values, s.unpriced)
            latency.add_metric(values, _cumulative(LATENCY_BUCKETS, s.latency), s.latency_sum)
            if any(s.ttft):
                ttft.add_metric(values, _cumulative(TTFT_BUCKETS, s.ttft), s.ttft_sum)
        capped = CounterMetricFamily(
            "trimtab_label_overflow", "Calls whose label value went over a cardinality cap "
            "and were counted as 'other'.", labels=["label"])
        for label, count in overflow.items():
            capped.add_metric([label], count)
        yield from (calls, errors, tokens_in, tokens_out, cost, unpriced, latency, ttft, capped)


def _cumulative(bounds: tuple[float, ...], counts: list[int]) -> list[tuple[str, int]]:
    running, buckets = 0, []
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
    return buckets


class RecorderCollector:
    """The recorder's own counters: is the spool draining, is anything lost?"""

    FIELDS = {
        "spooled": "Records appended to the spool by this process.",
        "written": "Records inserted into the store by this process.",
        "duplicates": "Replayed records the store already had (harmless).",
        "dropped": "Records lost because the spool could not be written.",
        "failures": "Store inserts that failed and will be retried.",
        "corrupt": "Spool lines that could not be parsed.",
        "quarantined": "Records the store refused (a value it cannot hold), set aside in "
                       "the spool's dead-letter file.",
    }

    def __init__(self, workspace: Workspace):
        self._workspace = weakref.ref(workspace)

    def collect(self) -> Iterator[Metric]:
        ws = self._workspace()
        # Never start a recorder (threads, a database connection) just to be scraped.
        recorder = ws.recorder if ws is not None and ws.started("recorder") else None
        stats: dict[str, int] = {}
        if recorder is not None:
            try:
                stats = recorder.stats()
            except OSError:  # closed: its spool files are gone, its counters are not
                stats = {name: getattr(recorder, name) for name in self.FIELDS}
        for name, help_text in self.FIELDS.items():
            yield CounterMetricFamily(f"trimtab_recorder_{name}", help_text,
                                      value=stats.get(name, 0))
        yield GaugeMetricFamily("trimtab_recorder_pending_bytes",
                                "Spooled bytes not yet in the store (grows while the "
                                "database is unreachable).", value=stats.get("pending_bytes", 0))


_installed: weakref.WeakKeyDictionary[Workspace, CollectorRegistry] = (
    weakref.WeakKeyDictionary())
_install_lock = threading.Lock()


def install_prometheus(ws: Workspace, *, limits: Limits | None = None,
                       process_metrics: bool = True,
                       stable: list[Deployment] | None = None) -> CollectorRegistry:
    """Count every call the workspace records; returns the registry to serve.
    ``stable``: ``ws.status()`` where the caller has just read it (the gateway's
    start), so it is not read again for the series that start at zero.

    Idempotent: a second call for the same workspace returns the same registry
    (the gateway and the application may both ask for it).
    """
    with _install_lock:
        registry = _installed.get(ws)
        if registry is not None:
            return registry
        registry = CollectorRegistry(auto_describe=True)
        metrics = CallMetrics(limits or Limits())
        registry.register(metrics)
        registry.register(RecorderCollector(ws))
        if process_metrics:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        ws.subscribe(metrics)
        metrics.seed(_deployed(ws, stable))
        # A release deployed later (a promote, a rollback, a canary) starts at zero
        # too, within a second, before its first call: the first errors after a
        # rollback are the ones an increase() alert must not miss.
        owner = weakref.ref(ws)

        def reseed() -> None:  # a store error raises: the watcher calls it again
            live = owner()
            if live is not None:
                metrics.seed(_read_deployed(live))

        ws.active.on_change(reseed)
        _installed[ws] = registry
        return registry


def _deployed(ws: Workspace, stable: list[Deployment] | None = None
              ) -> list[tuple[str, str, str, str, str]]:
    """(system, env, release, model, route) of every stable, canary and shadow
    deployment, for ``CallMetrics.seed``; nothing when the store cannot say (the
    series then start at their first call, as before)."""
    try:
        return _read_deployed(ws, stable)
    except Exception as exc:  # noqa: BLE001 - metrics must never stop a start
        log.warning("trimtab: could not start the deployed systems' metric series at zero: %s",
                    exc)
        return []


def _read_deployed(ws: Workspace, stable: list[Deployment] | None = None
                   ) -> list[tuple[str, str, str, str, str]]:
    found = [(d, "primary") for d in (ws.status() if stable is None else stable)]
    found += [(d, d.action) for d in ws.candidates()]
    models = {}
    for deployment, _ in found:
        if deployment.release_id not in models:
            spec = ws.get_release(deployment.release_id, deployment.system).spec
            models[deployment.release_id] = spec.get("model") or ""
    return [(d.system, d.env, d.release_id, models[d.release_id], route) for d, route in found]


def metrics_response(registry: CollectorRegistry,
                     accept: str | None = None) -> tuple[bytes, str]:
    """The scrape body and its Content-Type; OpenMetrics when ``accept`` asks for it."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
