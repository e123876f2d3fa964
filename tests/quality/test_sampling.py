"""Sampled scoring of real outputs: a seeded share of production calls per release,
scored in the monitor's loop by scorers that need no expected answer (an LLM judge
on the simulated provider here), stored once, read per release and by
``quality_score`` alert rules; a firing quality alert flags the worst calls, and
flagged calls join the review sample. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
import threading
from datetime import UTC, datetime, timedelta

import pytest

import trimtab
from tests.helpers import edit, eventually, promote_through
from trimtab.quality.sampling import coin, take
from trimtab.store import sampling as sampling_store

SCORING = """\
    scoring:
      sample: 25%
      seed: 3
      per_tick: 4
      settle: "0"
      scorers:
        - {type: json}
        - type: judge
          provider: simulated
          model: sim-judge
          rubric: The reason must name the defect.
          simulate:
            rules:
              - when: [person]
                reply: {score: 0, reason: names no defect}
            default: {score: 1, reason: names the defect}
    evals:
"""
QUALITY_ALERT = """\
alerts:
  judge-quality:
    system: complaint-router
    metric: quality_score
    score: judge
    window: 1h
    comparator: "<"
    threshold: 0.8
"""
TEXTS = ["The seal leaks.", "The hinge broke.", "Nothing specific, it is just bad."]
#: Two of three name no defect: the judge fails them ("needs a person to triage").
MOSTLY_BAD = ["The seal leaks.", "Nothing specific.", "It is just bad."]


@pytest.fixture
def scored(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "    evals:\n", SCORING)
    with path.open("a") as handle:
        handle.write(QUALITY_ALERT)
    return project_dir


def call(ws, count: int, start: int = 0, texts: list[str] = TEXTS) -> None:
    router = ws.system("complaint-router")
    for i in range(start, start + count):
        router.run({"customer": "c", "product": "p", "text": texts[i % 3]}, user=f"u{i}")
    ws.flush()


def test_each_release_gets_its_share_at_random_positions():
    for rate in (0.05, 0.25, 0.5, 1.0):
        for seed in range(10):
            taken, positions = 0, []
            for n in range(1, 401):
                if take(n, taken, rate, coin(seed, "s", f"call-{n}")):
                    taken += 1
                    positions.append(n)
                assert math.floor(n * rate) <= taken <= math.floor(n * rate) + 1
    assert coin(1, "s", "c") == coin(1, "s", "c") != coin(2, "s", "c")
    # a 10-call canary at 10% gets one call, however the coins fall
    for seed in range(50):
        taken = 0
        for n in range(1, 11):
            taken += take(n, taken, 0.1, coin(seed, "s", f"canary-{n}"))
        assert taken in (1, 2)
    # the draw is not periodic: a 10% sample of period-4 traffic sees every phase
    phases, taken = set(), 0
    for n in range(1, 401):
        if take(n, taken, 0.1, coin(0, "s", f"call-{n}")):
            taken += 1
            phases.add(n % 4)
    assert phases == {0, 1, 2, 3}


def test_a_share_of_calls_is_scored_once_per_release_and_alerts_read_it(scored, ws, cli):
    stable, _ = ws.release("complaint-router")
    promote_through(ws, "complaint-router", stable.id, "production")
    (scored / "prompts" / "complaint-router.user.md").write_text(
        "Complaint from {{customer}} about {{product}}:\n\n{{text}}\n")
    canary, _ = ws.release("complaint-router")
    promote_through(ws, "complaint-router", canary.id, "production", canary=30)
    call(ws, 48, texts=MOSTLY_BAD)
    later = datetime.now(UTC) + timedelta(seconds=5)

    first = ws.score_sample("complaint-router", now=later)
    assert [t.drawn for t in first] == [4] and first[0].stored and first[0].scored == 4
    ticks = []
    while True:  # bounded per tick: at most per_tick calls scored, then it resumes
        [tick] = ws.score_sample("complaint-router", now=later)
        if not tick.read:
            break
        assert tick.drawn <= 4 and tick.stored
        ticks.append(tick)
    total = sum(t.drawn for t in [first[0], *ticks])
    with ws.store.read() as conn:
        counted = sampling_store.counts(conn, "complaint-router")
    assert set(counted) == {stable.id, canary.id}  # stratified: both releases drawn
    for seen, taken in counted.values():  # each release its 25%, within one call
        assert math.floor(seen * 0.25) <= taken <= math.floor(seen * 0.25) + 1
    assert sum(seen for seen, _ in counted.values()) == 48
    assert sum(taken for _, taken in counted.values()) == total

    per_release = {(q.release_id, q.name): q for q in ws.quality_by_release("complaint-router")}
    assert {name for _, name in per_release} == {"json", "judge"}
    judged = [q for (_, name), q in per_release.items() if name == "judge"]
    assert sum(q.scores for q in judged) == total
    # "Nothing specific" is routed to other: "needs a person to triage" fails the judge
    assert sum(q.passed for q in judged) < total
    assert all(q.mean == 1.0 for (_, n), q in per_release.items() if n == "json")
    shown = json.loads(cli("quality", "releases", "complaint-router", "--json").output)
    assert {(r["release_id"], r["name"]) for r in shown} == set(per_release)

    # resumable: nothing is scored twice, however often the loop comes round
    assert ws.score_sample("complaint-router", now=later)[0].read == 0
    call(ws, 8, start=48, texts=MOSTLY_BAD)
    more = ws.score_sample("complaint-router", now=datetime.now(UTC) + timedelta(seconds=5))
    assert more[0].read == 8 and more[0].drawn <= 4  # each release: at most 2 of its new calls
    total += more[0].drawn
    with ws.store.read() as conn:
        rows = sampling_store.verdicts(conn, system="complaint-router",
                                       call_ids=[c.id for c in ws.calls(limit=100)])
    assert len(rows) == 2 * total and len({(c, n) for c, n, _ in rows}) == 2 * total

    cycle = ws.check_alerts(now=datetime.now(UTC) + timedelta(seconds=1))
    [status] = [s for s in cycle.statuses if s.rule == "judge-quality"]
    assert status.firing and f"mean of {total} score 'judge'; by release: " in status.detail
    assert stable.id[:12] in status.detail and canary.id[:12] in status.detail
    flagged = json.loads(cli("review", "flags", "complaint-router", "--json").output)
    assert flagged and {f["source"] for f in flagged} == {"alert"}
    assert all(f["reason"].startswith("alert judge-quality") for f in flagged)
    sample, _ = ws.review_sample("complaint-router", size=3)
    with ws.store.read() as conn:
        from trimtab.store import reviews as review_store
        items = review_store.items(conn, sample.id)
    assert {f["call_id"] for f in flagged} <= set(items)  # flagged calls always join
    assert any(s.get("flagged") for s in json.loads(sample.strata))


def test_two_monitors_never_store_the_same_calls(scored, live):
    ws, _ = live
    call(ws, 4)
    with ws.store.read() as conn:
        [first] = ws.calls(limit=1)
    with ws.store.write() as conn:
        assert sampling_store.advance(conn, "complaint-router", was=None,
                                      to=(first.time, first.id), counted={}, rows=[],
                                      summary={})
    with ws.store.write() as conn:  # a second monitor read the cursor before it moved
        assert not sampling_store.advance(conn, "complaint-router", was=None,
                                          to=(first.time, first.id), counted={}, rows=[],
                                          summary={})
        stale = (first.time - timedelta(seconds=1), first.id)
        assert not sampling_store.advance(conn, "complaint-router", was=stale,
                                          to=(first.time, first.id), counted={}, rows=[],
                                          summary={})


def test_the_monitor_loop_scores_in_the_background(scored, live):
    ws, _ = live
    call(ws, 12)
    stop = threading.Event()
    worker = threading.Thread(target=ws.monitor, args=(0.05, stop), daemon=True)
    worker.start()
    def counted():
        with ws.store.read() as conn:
            return sampling_store.counts(conn, "complaint-router")

    try:
        eventually(lambda: sum(seen for seen, _ in counted().values()) == 12, timeout=30)
    finally:
        stop.set()
        worker.join(5)
    scores = ws.quality_by_release("complaint-router")
    assert sum(q.scores for q in scores if q.name == "judge") in (3, 4)  # 25% of 12
    assert [e.action for e in ws.audit_log(action="score.sampled")]


def test_scoring_block_mistakes_are_reported_where_they_are(project_dir, cli):
    path = project_dir / "trimtab.yaml"
    edit(path, "    evals:\n", SCORING.replace("sample: 25%", "sample: 150%")
         .replace("- {type: json}", "- {type: exact, field: team}")
         .replace('settle: "0"', "settle: soon"))
    out = cli("validate", expect=2).output
    assert "systems.complaint-router.scoring.sample: '150%' is not a share" in out
    assert "scoring.settle: 'soon' is not a duration" in out
    assert "the exact scorer compares with an expected answer" in out


def test_flag_a_call_by_cli_and_api(live, cli):
    ws, _ = live
    call(ws, 3)
    sample, _ = ws.review_sample("complaint-router", size=1)
    target = next(c for c in ws.calls(limit=10)
                  if c.id not in _items(ws, sample.id))
    out = cli("review", "flag", target.id[:14], "--reason", "customer complained").output
    assert "flagged" in out and "joins the review sample" in out
    assert target.id in _items(ws, sample.id)  # appended to the drawn sample
    first = ws.review_next("complaint-router")  # the drawn call first, then the flagged one
    ws.review(first.call.id, "pass")
    shown = cli("review", "next", "complaint-router", "--verdict", "fail").output
    assert "flagged by" in shown and "(user): customer complained" in shown
    assert target.id in shown
    flag, new = ws.flag(target.id, reason="again")
    assert not new and flag.reason == "customer complained"
    assert [e.action for e in ws.audit_log(action="call.flag")] == ["call.flag"]
    with pytest.raises(trimtab.TrimtabError, match="no call"):
        ws.flag("ffffffffffff")


def _items(ws, sample_id):
    from trimtab.store import reviews as review_store

    with ws.store.read() as conn:
        return review_store.items(conn, sample_id)


def test_a_judge_outage_stores_no_scores_for_it(project_dir, live, monkeypatch):
    """A judge that cannot be reached is not a bad answer: its verdicts are not stored
    (the quality_score would fall for nothing), the other scorers' are."""
    ws, _ = live
    monkeypatch.setenv("DOWN_JUDGE_KEY", "sk-test")
    path = project_dir / "trimtab.yaml"
    edit(path, "providers: {}\n",
         "providers:\n  down:\n    kind: openai\n    base_url: http://127.0.0.1:9/v1\n"
         "    api_key_env: DOWN_JUDGE_KEY\n    timeouts: {connect: 0.5, read: 1}\n"
         "    retries: {max_retries: 0}\n")
    edit(path, "    evals:\n", "    scoring:\n      sample: 100%\n      settle: \"0\"\n"
         "      scorers:\n        - {type: json}\n        - {type: judge, provider: down, "
         "model: gpt-4o-mini, rubric: names the defect}\n    evals:\n")
    eventually(lambda: ws.project.system("complaint-router").scoring is not None)
    call(ws, 2)
    [tick] = ws.score_sample("complaint-router", now=datetime.now(UTC) + timedelta(seconds=5))
    assert (tick.drawn, tick.scored, tick.errors) == (2, 2, 2)
    assert {s["name"] for s in tick.scores} == {"json"}
    assert [q.name for q in ws.quality_by_release("complaint-router")] == ["json"]
