"""The Grafana dashboard in deploy/ queries only metrics trimtab really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

import trimtab
from trimtab import install_prometheus, metrics_response
from trimtab.cli import app

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "trimtab-dashboard.json"

# PromQL words that are not metric names.
PROMQL = {
    "sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "rate", "irate",
    "increase", "delta", "histogram_quantile", "clamp_min", "clamp_max", "by", "without",
    "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    "sum_over_time", "avg_over_time", "max_over_time", "vector", "scalar", "abs", "time",
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> set[str]:
    """Every sample name a scrape shows once calls of each kind were recorded."""
    directory = tmp_path_factory.mktemp("dashboard")
    assert CliRunner().invoke(app, ["init", str(directory / "p")]).exit_code == 0
    ws = trimtab.connect(directory / "p", database_url=f"sqlite:///{directory / 'db.sqlite'}")
    registry = install_prometheus(ws)
    ws.record("complaint-router", "q", "a", 420, model="sim-router-1", input_tokens=10,
              output_tokens=5, cost_micro_usd=30, ttft_ms=90)
    ws.record("complaint-router", "q", None, 30_000, status="error", error_kind="timeout")
    ws.flush()
    body, _ = metrics_response(registry)
    ws.close()
    return {sample.name for family in text_string_to_metric_families(body.decode())
            for sample in family.samples}


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(items: list[dict]):
    for item in items:
        yield item
        yield from panels(item.get("panels", []))


def expressions() -> list[str]:
    found = [t["expr"] for p in panels(dashboard()["panels"]) for t in p.get("targets", [])]
    assert len(found) >= 20
    return found


def metric_names(expr: str) -> set[str]:
    """Identifiers left once strings, label matchers, ranges and groupings are removed."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    words = set(re.findall(r"(?<![\w.$])[A-Za-z_:][\w:]*", text))
    return words - PROMQL


def test_every_query_uses_only_exported_metric_names(exported):
    for expr in expressions():
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} uses {sorted(names - exported)}; exported: " \
                                  f"{sorted(n for n in exported if n.startswith('trimtab'))}"


def test_the_variables_query_exported_metrics_and_labels(exported):
    templating = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert templating["datasource"]["type"] == "datasource"
    assert templating["datasource"]["query"] == "prometheus"
    for name in ("system", "env", "model", "route"):
        query = templating[name]["query"]["query"]
        match = re.fullmatch(r"label_values\((\w+)(\{[^}]*\})?,\s*(\w+)\)", query)
        assert match, query
        assert match.group(1) in exported and match.group(3) == name


def test_every_panel_reads_the_chosen_datasource_and_is_filtered_by_system():
    for panel in panels(dashboard()["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            if "trimtab_recorder" not in target["expr"] and "overflow" not in target["expr"]:
                assert 'system=~"$system"' in target["expr"], (panel["title"], target["expr"])
                assert 'env=~"$env"' in target["expr"], (panel["title"], target["expr"])


def test_the_checker_would_catch_a_misspelt_metric(exported):
    wrong = 'sum(rate(trimtab_call_total{system=~"$system"}[$__rate_interval]))'
    assert metric_names(wrong) == {"trimtab_call_total"}
    assert not metric_names(wrong) <= exported
    quantile = "histogram_quantile(0.95, sum by (le, model) (rate(x_bucket[5m])))"
    assert metric_names(quantile) == {"x_bucket"}
