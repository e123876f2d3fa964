"""Scorers one by one, the classification metrics and the significance test."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

import pytest

from trimtab.project.evals import ScorerSpec
from trimtab.quality.answers import Answer
from trimtab.quality.datasets import Case
from trimtab.quality.metrics import classification_report, largest_gap, mcnemar_exact
from trimtab.quality.scorers import BUILTIN, build


def verdict(spec: dict, text: str | None, expected=None, root: Path = Path("."), **answer):
    scorer = build(ScorerSpec.model_validate(spec), root, lambda s: None)
    case = Case("c1", 1, expected=expected) if expected is not None else Case("c1", 1)
    assert scorer.check(case) is None
    return asyncio.run(scorer.score(case, Answer(text, **answer)))


@pytest.mark.parametrize(("spec", "text", "expected", "passed"), [
    ({"type": "exact"}, " yes ", "yes", True),
    ({"type": "exact"}, "Yes", "yes", False),
    ({"type": "exact", "ignore_case": True}, "Yes", "yes", True),
    ({"type": "exact", "field": "team"}, '{"team": "ops"}', {"team": "ops", "x": 1}, True),
    ({"type": "exact", "field": "n"}, '{"n": 3}', "3", True),  # a CSV's text "3"
    ({"type": "exact", "field": "team"}, "not json", {"team": "ops"}, False),
    ({"type": "contains", "value": ["refund", "sorry"]}, "Sorry, a refund is on its way", None,
     False),
    ({"type": "contains", "value": ["refund", "sorry"], "ignore_case": True},
     "Sorry, a refund is on its way", None, True),
    ({"type": "contains"}, "the answer is 42", "42", True),
    ({"type": "not_contains", "value": "password"}, "here is the password", None, False),
    ({"type": "regex", "pattern": r"^\d{3}-\d{4}$"}, "555-1234", None, True),
    ({"type": "json"}, '```json\n{"a": 1}\n```', None, True),
    ({"type": "json"}, "{oops", None, False),
    ({"type": "numeric", "field": "p", "tolerance": 0.05}, '{"p": 0.93}', {"p": 0.9}, True),
    ({"type": "numeric", "relative": 0.01}, "101.5", 100, False),
    ({"type": "latency", "max_ms": 100}, "x", None, True),
])
def test_case_level_scorers(spec, text, expected, passed):
    result = verdict(spec, text, expected, latency_ms=50)
    assert result.passed is passed, result
    assert result.score == (1.0 if passed else 0.0)
    assert bool(result.detail) is not passed


def test_json_schema_names_the_failing_path(tmp_path):
    schema = {"type": "object", "required": ["team"],
              "properties": {"team": {"enum": ["ops", "dev"]}}}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    assert verdict({"type": "json_schema", "schema": "s.json"}, '{"team": "ops"}',
                   root=tmp_path).passed
    bad = verdict({"type": "json_schema", "schema": schema}, '{"team": "hr"}')
    assert not bad.passed and bad.detail.startswith("schema: team: 'hr' is not one of")


def test_cost_budget_fails_when_over_or_unknown():
    spec = {"type": "cost", "max_usd": 0.001}
    assert verdict(spec, "x", cost_usd=Decimal("0.0005")).passed
    assert not verdict(spec, "x", cost_usd=Decimal("0.002")).passed
    assert "cost unknown" in verdict(spec, "x").detail


def test_a_failed_call_fails_every_scorer():
    for spec in ({"type": "json"}, {"type": "latency", "max_ms": 1e9}, {"type": "regex",
                                                                      "pattern": "."}):
        assert not verdict(spec, None, error="timeout").passed


def test_classification_report():
    expected = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", "b", "a"]
    report = classification_report(expected, predicted)
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["classes"]["a"] == {"precision": pytest.approx(2 / 3),
                                      "recall": pytest.approx(2 / 3),
                                      "f1": pytest.approx(2 / 3), "support": 3}
    assert report["classes"]["c"]["f1"] == 0.0
    assert report["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0) / 3)
    assert report["confusion"] == {"a": {"a": 2, "b": 1}, "b": {"b": 2}, "c": {"a": 1}}


def test_mcnemar_exact_and_gaps():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 2) == 0.5
    assert mcnemar_exact(0, 8) == pytest.approx(2 / 256)
    assert mcnemar_exact(5, 5) == 1.0
    assert largest_gap({"de": 0.8, "en": 1.0, "fr": None}) == (pytest.approx(0.2), "en", "de")
    assert largest_gap({"de": 0.8}) == (None, None, None)


def test_custom_function_scorers(tmp_path):
    (tmp_path / "my_scorers.py").write_text(
        "def polite(answer, case, word='please'):\n"
        "    return {'score': 1.0 if word in answer.text else 0.2, 'detail': 'rude'}\n"
        "async def length(answer, case):\n"
        "    return len(answer.text) < 10\n")
    polite = {"type": "custom", "function": "my_scorers:polite", "options": {"word": "thanks"}}
    assert verdict(polite, "thanks!", root=tmp_path).passed
    rude = verdict(polite, "no", root=tmp_path)
    assert (rude.passed, rude.score, rude.detail) == (False, 0.2, "rude")
    assert verdict({"type": "custom", "function": "my_scorers:length"}, "short",
                   root=tmp_path).passed


def test_every_builtin_is_documented():
    text = (Path(__file__).resolve().parents[2] / "docs" / "evals.md").read_text()
    for name in [*BUILTIN, "judge"]:
        assert f"`{name}`" in text, name
