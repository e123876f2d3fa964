"""When an LLM judge and people scored the same calls, how often they agree; and the
weekly quality score per system with its Wilson interval and trend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from tests.helpers import edit
from tests.quality.test_sampling import SCORING, call
from trimtab.quality.metrics import wilson
from trimtab.quality.review import iso_week
from trimtab.quality.weekly import WeekScore, _trends


@pytest.fixture
def judged(live, project_dir):
    """Every production call scored by the judge (100%): (ws, call ids by judge verdict)."""
    edit(project_dir / "trimtab.yaml", "    evals:\n",
         SCORING.replace("sample: 25%", "sample: 100%").replace("per_tick: 4", "per_tick: 50"))
    ws, _ = live
    call(ws, 9)
    ws.score_sample("complaint-router", now=datetime.now(UTC) + timedelta(seconds=5))
    by_verdict: dict[bool, list[str]] = {True: [], False: []}
    for q in ws.calls(limit=20):
        [judge] = [s for s in ws.scores(q.id) if s.name == "judge"]
        by_verdict[bool(judge.passed)].append(q.id)
    return ws, by_verdict


def test_review_stats_report_the_judges_agreement_with_people(judged, cli):
    ws, by_verdict = judged
    assert len(by_verdict[True]) == 6 and len(by_verdict[False]) == 3
    good, bad = by_verdict[True], by_verdict[False]
    # people agree with the judge on 7 of the 9 calls
    for call_id in good[:5]:
        ws.review(call_id, "pass")
    ws.review(good[5], "fail")
    ws.review(bad[0], "fail")
    ws.review(bad[1], "fail")
    ws.review(bad[2], "pass")
    stats = json.loads(cli("review", "stats", "complaint-router", "--json").output)
    by_scorer = {j["scorer"]: j for j in stats["judges"]}
    judge = by_scorer["judge"]
    assert (judge["calls"], judge["agreed"]) == (9, 7)
    assert judge["interval"] == pytest.approx(list(wilson(7, 9)))
    # kappa: observed 7/9; chance (6*6 + 3*3)/81 = 45/81
    assert judge["kappa"] == pytest.approx((7 / 9 - 45 / 81) / (1 - 45 / 81))
    assert by_scorer["json"]["agreed"] == 6  # json passes everything; people failed 3
    out = cli("review", "stats", "complaint-router").output
    assert "scorer judge vs people: agreed on 7/9 calls (78%, 95% CI 45%-94%; Cohen's " \
        "kappa 0.50)" in out


def test_weekly_score_with_interval_people_first(judged, cli):
    ws, by_verdict = judged
    for call_id in by_verdict[True][:4]:
        ws.review(call_id, "pass")
    ws.review(by_verdict[False][0], "fail")
    rows = json.loads(cli("quality", "weekly", "complaint-router", "--weeks", "3",
                          "--json").output)["weeks"]
    assert [r["week"] for r in rows][-1] == iso_week(datetime.now(UTC))
    assert [r["source"] for r in rows] == [None, None, "people"]
    this = rows[-1]
    assert this["score"] == pytest.approx(0.8) and this["people"]["calls"] == 5
    assert this["interval"] == pytest.approx(list(wilson(4, 5)))
    assert this["scorers"] == {"calls": 9, "passed": 6,
                               "interval": pytest.approx(list(wilson(6, 9)))}
    table = cli("quality", "weekly", "complaint-router", "--weeks", "2").output
    assert "80%" in table and "38%-96%" in table and "people" in table
    with pytest.raises(trimtab.TrimtabError, match="--weeks 0"):
        ws.quality_weekly("complaint-router", weeks=0)


def test_trend_compares_with_the_last_week_with_data():
    rows = [WeekScore("2026-W45", 20, 18, 0, 0), WeekScore("2026-W46", 0, 0, 0, 0),
            WeekScore("2026-W47", 20, 8, 0, 0), WeekScore("2026-W48", 20, 9, 0, 0),
            WeekScore("2026-W49", 0, 0, 10, 9)]
    for row in rows:
        row.source = "people" if row.reviewed else "scorers" if row.scored else None
    _trends(rows)
    assert [(r.trend, r.significant) for r in rows] == [
        (None, False), (None, False), ("down", True), ("up", False), (None, False)]
    assert rows[2].change == pytest.approx(0.4 - 0.9)
