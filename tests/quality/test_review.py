"""Human review: a weekly sample drawn once with a recorded seed, stratified by
release; one verdict per reviewer and call; agreement between reviewers."""

from __future__ import annotations

import json

import pytest

import trimtab
from tests.helpers import promote_through
from tests.helpers.governance import ROLE_USERS, as_user, with_users
from trimtab.quality.metrics import cohen_kappa, wilson
from trimtab.quality.review import allocate, iso_week, week_bounds


def test_allocation_is_proportional_and_keeps_small_strata():
    assert allocate({"a": 90, "b": 10}, 10) == {"a": 9, "b": 1}
    assert allocate({"a": 990, "b": 5, "c": 5}, 10) == {"a": 8, "b": 1, "c": 1}
    assert allocate({"a": 3, "b": 2}, 10) == {"a": 3, "b": 2}
    assert sum(allocate({str(i): 7 for i in range(5)}, 3).values()) == 3


def test_wilson_and_kappa():
    low, high = wilson(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    assert cohen_kappa([("p", "p"), ("f", "f"), ("p", "f"), ("p", "p")]) == pytest.approx(0.5)
    assert cohen_kappa([("p", "p")] * 3) == 1.0
    assert cohen_kappa([]) is None


def test_weeks():
    start, end = week_bounds("2026-W01")
    assert start.isoformat() == "2025-12-29T00:00:00+00:00" and (end - start).days == 7
    assert iso_week(start) == "2026-W01"
    with pytest.raises(trimtab.TrimtabError, match="not an ISO week"):
        week_bounds("2026-49")
    assert week_bounds("9999-W51")[1].isoformat() == "9999-12-27T00:00:00+00:00"
    with pytest.raises(trimtab.TrimtabError, match="ends after the year 9999"):
        week_bounds("9999-W52")  # its Sunday is the last day a time holds


def test_the_cli_refuses_a_week_past_the_year_9999(live, cli):
    refused = cli("review", "sample", "complaint-router", "--week", "9999-W52", expect=2)
    assert "--week '9999-W52': ends after the year 9999" in refused.output
    assert "Traceback" not in refused.output


def test_a_review_is_bounded_as_the_http_route_bounds_it(live, cli):
    """Labels are short tags (at most 20, 100 characters each, not empty), a comment at
    most 2000 characters: refused whole from the command line, nothing stored."""
    ws, _ = live
    ws.system("complaint-router").run({"customer": "c", "product": "p", "text": "It leaks."})
    ws.flush()
    cli("review", "sample", "complaint-router")
    review = ("review", "next", "complaint-router", "--verdict", "pass")
    for args, said in [
        (("-l", ""), "--label '': a label is empty. Fix:"),
        (("-l", "   "), "--label '': a label is empty. Fix:"),
        (("-l", "x" * 100_000), "100,000 characters, more than 100. Fix:"),
        (("-l", "leak,seal"), "holds a comma or a control character. Fix:"),
        (tuple(a for i in range(21) for a in ("-l", f"tag{i}")), "21 labels, more than 20"),
        (("-m", "x" * 100_000), "--comment: 100,000 characters, more than 2,000. Fix:"),
    ]:
        refused = cli(*review, *args, expect=2).output
        assert refused.startswith("error: ") and said in refused, (args, refused)
    assert ws.audit_log(action="review.add") == []
    done = cli(*review, "-l", "x" * 100, "-m", "y" * 2000)
    assert "pass: call" in done.output


def test_sample_review_and_agreement(live, cli, monkeypatch, project_dir):
    ws, stable = live
    (project_dir / "prompts" / "complaint-router.user.md").write_text(
        "Complaint from {{customer}} about {{product}}:\n\n{{text}}\n")
    canary, _ = ws.release("complaint-router")
    promote_through(ws, "complaint-router", canary.id, "production", canary=10)
    router = ws.system("complaint-router")
    for i in range(60):
        router.run({"customer": "c", "product": "p", "text": "The seal leaks."}, user=f"u{i}")
    ws.flush()
    sample, new = ws.review_sample("complaint-router", size=8)
    assert new and sample.size == 8 and sample.population == 60
    strata = {s["release"]: s for s in json.loads(sample.strata)}
    assert set(strata) == {stable.id[:12], canary.id[:12]}  # the small canary is drawn too
    assert all(s["drawn"] >= 1 for s in strata.values())
    again, new = ws.review_sample("complaint-router")
    assert (again.id, new) == (sample.id, False)

    first = cli("review", "next", "complaint-router", "--verdict", "pass", "--score", "5",
                "-l", "routing", "-m", "right team").output
    assert "8 left" in first and "The seal leaks." in first and "answer" in first
    monkeypatch.setenv("TRIMTAB_USER", "bob@example.com")
    cli("review", "next", "complaint-router", "--verdict", "fail")  # the same call: bob's turn
    pending = ws.review_next("complaint-router")
    ws.review(pending.call.id, "pass")
    with pytest.raises(trimtab.TrimtabError, match="already reviewed"):
        ws.review(pending.call.id, "pass")  # one review per reviewer and call
    monkeypatch.setenv("TRIMTAB_USER", "alice@example.com")
    from typer.testing import CliRunner

    from trimtab.cli import app
    asked = CliRunner().invoke(app, ["review", "next", "complaint-router"],
                               input="p\n4\ntone,length\nfine\nq\n")
    assert asked.exit_code == 0, asked.output
    assert "pass: call" in asked.output

    stats = json.loads(cli("review", "stats", "complaint-router", "--json").output)
    assert stats["reviews"] == 4 and stats["calls"] == 2
    [pair] = stats["agreement"]
    assert pair["reviewers"] == ["alice@example.com", "bob@example.com"] and pair["calls"] == 2
    assert [e.action for e in ws.audit_log(action="review.sample")] == ["review.sample"]
    assert len(ws.audit_log(action="review.add")) == 4
    reviewed = ws.audit_log(action="review.add")[0].to_dict()["object_id"]
    assert [s.value for s in ws.scores(reviewed) if s.name == "review"] == [1.0, 0.0]


def test_a_viewer_cannot_review(live, cli, monkeypatch):
    ws, _ = live
    ws.system("complaint-router").run({"customer": "c", "product": "p", "text": "It leaks."})
    ws.flush()
    with_users(cli, monkeypatch)
    cli("review", "sample", "complaint-router")
    as_user(monkeypatch, ROLE_USERS["viewer"])
    refused = cli("review", "next", "complaint-router", "--verdict", "pass", expect=2)
    assert "not allowed" in refused.output and "needs reviewer" in refused.output
    as_user(monkeypatch, ROLE_USERS["reviewer"])
    assert "pass: call" in cli("review", "next", "complaint-router", "--verdict", "pass").output


def test_a_sampled_call_pruned_by_retention_is_passed_over(live, cli):
    """Retention deleted sampled calls nobody had reviewed yet; `review next` then
    named the first of them ('no call has an id starting with ...') for ever, so
    no reviewer could go on with the rest of the sample."""
    from datetime import UTC, datetime, timedelta

    ws, _ = live
    now = datetime.now(UTC)
    this_week, _ = week_bounds(iso_week(now))  # last week's sample: no week edge to cross
    old = [ws.record("complaint-router", {"text": f"old {i}"}, {"team": "other"}, 5.0,
                     env="production", time=this_week - timedelta(days=7) + timedelta(minutes=i))
           for i in range(1, 4)]
    new = ws.record("complaint-router", {"text": "new"}, {"team": "other"}, 5.0,
                    env="production", time=this_week - timedelta(minutes=1))
    assert ws.flush()
    sample, _ = ws.review_sample("complaint-router", week=iso_week(this_week - timedelta(1)),
                                 size=10)
    assert ws.review_next("complaint-router").left == 4
    [pruned] = ws.prune(now - this_week + timedelta(days=3.5))  # the old ones only
    assert pruned.calls == 3 and not {c.id for c in ws.calls(limit=10)} & set(old)

    pending = ws.review_next("complaint-router")
    assert (pending.call.id, pending.left, pending.sample.id) == (new, 1, sample.id)
    # The sample's progress counts what can still be reviewed: done means done.
    progress = ws.review_progress("complaint-router", reviewer="ann")
    assert (progress.sample.size, progress.gone, progress.reviewable, progress.left) == \
        (4, 3, 1, 1)
    shown = cli("review", "next", "complaint-router", "--verdict", "pass")
    assert new[:12] in shown.output
    assert ws.review_next("complaint-router") is None
    progress = ws.review_progress("complaint-router", reviewer="alice@example.com")  # the test user
    assert (progress.reviewed, progress.reviewable, progress.left) == (1, 1, 0)


def test_a_week_without_calls_stores_no_sample_so_a_later_draw_finds_them(live, cli):
    """An empty sample was stored and stood for the whole week ('0 of 0'): the calls
    recorded after it could not be sampled until the next week."""
    ws, _ = live
    refused = cli("review", "sample", "complaint-router", expect=2)
    assert "no call of 'complaint-router' in production in week" in refused.output
    assert "nothing was stored" in refused.output
    assert ws.review_progress("complaint-router").sample is None
    called = ws.record("complaint-router", {"text": "hi"}, {"team": "other"}, 5.0,
                       env="production")
    assert ws.flush()
    sample, new = ws.review_sample("complaint-router")
    assert new and sample.size == 1 and ws.review_next("complaint-router").call.id == called
