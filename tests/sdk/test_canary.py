"""Canary and shadow: a candidate release beside the stable one, then graduate or abort."""

import gc
import json
import time

import pytest

import trimtab
from tests.helpers import eventually, promote_through
from trimtab.releases.active import ActiveReleases

SYSTEM = "complaint-router"


@pytest.fixture
def two(ws, project_dir):
    stable, _ = ws.release(SYSTEM, note="stable")
    (project_dir / "prompts" / "complaint-router.user.md").write_text("v2 {{text}}\n")
    candidate, _ = ws.release(SYSTEM, note="candidate")
    promote_through(ws, SYSTEM, stable.id, "production")
    promote_through(ws, SYSTEM, candidate.id, "staging")  # a candidate has run in staging
    return ws, stable, candidate


def test_canary_answers_its_share_sticky_per_user(two):
    ws, stable, candidate = two
    ws.promote(SYSTEM, candidate.id, "production", canary=20)
    route = ActiveReleases(ws.store).route(SYSTEM, "production")
    assert (route.stable.id, route.candidate.id, route.mode) == (stable.id, candidate.id, "canary")
    picks = {f"user-{i}": route.pick(SYSTEM, f"user-{i}") for i in range(2000)}
    share = sum(1 for release, how in picks.values() if how == "canary") / len(picks)
    assert 0.16 < share < 0.24
    assert all(route.pick(SYSTEM, user) == first for user, first in list(picks.items())[:200])
    assert route.shadow(SYSTEM, "user-1") is None
    assert ws.active_release(SYSTEM, "production").id == stable.id


def test_promote_graduates_and_rollback_aborts(two):
    ws, stable, candidate = two
    ws.promote(SYSTEM, candidate.id, "production", canary=10)
    ws.rollback(SYSTEM, "production", reason="canary errors")
    assert ws.candidates() == []
    assert ws.active_release(SYSTEM, "production").id == stable.id
    aborted = ws.audit_log(action="deployment.rollback")[-1]
    assert json.loads(aborted.payload)["aborted_candidate"] == candidate.id

    ws.promote(SYSTEM, candidate.id, "production", shadow=50)
    assert [c.action for c in ws.candidates()] == ["shadow"]
    ws.promote(SYSTEM, candidate.id, "production", reason="shadow looked fine")
    assert ws.candidates() == []
    assert ws.active_release(SYSTEM, "production").id == candidate.id
    assert ws.rollback(SYSTEM, "production").release_id == stable.id


def test_shadow_samples_calls_and_never_answers(two):
    ws, stable, candidate = two
    ws.promote(SYSTEM, candidate.id, "production", shadow=100)
    route = ActiveReleases(ws.store).route(SYSTEM, "production")
    assert route.pick(SYSTEM, "anyone") == (route.stable, "primary")
    assert route.shadow(SYSTEM, "anyone").id == candidate.id


def test_route_follows_a_change_made_elsewhere_within_a_second_while_idle(two):
    ws, stable, candidate = two
    active = ActiveReleases(ws.store)
    try:
        assert active.get(SYSTEM, "production").id == stable.id
        with trimtab.connect(ws.project_file, database_url=ws.database_url) as other:
            other.promote(SYSTEM, candidate.id, "production")
        time.sleep(1.0)  # no call meanwhile: the watcher, not a call, brings the change
        assert active.route(SYSTEM, "production") is active._routes[(SYSTEM, "production")]
        assert active.get(SYSTEM, "production").id == candidate.id
    finally:
        active.close()


def test_a_store_that_goes_away_keeps_the_last_known_route(two):
    ws, stable, candidate = two
    active = ActiveReleases(ws.store)
    try:
        assert active.get(SYSTEM, "production").id == stable.id
        active.store = _Unreachable()  # route reads fail; the change signal still moves
        ws.promote(SYSTEM, candidate.id, "production")
        for _ in range(20):  # served from memory while re-reads fail in the background
            assert active.get(SYSTEM, "production").id == stable.id
            time.sleep(0.05)
        active.store = ws.store
        eventually(lambda: active.get(SYSTEM, "production").id == candidate.id, timeout=2)
    finally:
        active.close()


class _Unreachable:
    """A store whose every read fails, as when the database host is gone."""

    def read(self):
        raise ConnectionError("store down")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"canary": 0}, "share must be 1-99%"), ({"canary": 100}, "promote the release"),
     ({"shadow": 101}, "1-100%"), ({"canary": 5, "shadow": 5}, "not both")],
)
def test_bad_shares_are_refused(two, kwargs, message):
    ws, _, candidate = two
    with pytest.raises(trimtab.TrimtabError, match=message):
        ws.promote(SYSTEM, candidate.id, "production", **kwargs)
    assert ws.candidates() == []


def test_a_canary_needs_a_different_stable_release(ws):
    made, _ = ws.release(SYSTEM)
    with pytest.raises(trimtab.TrimtabError, match="needs a stable release"):
        ws.promote(SYSTEM, made.id, "dev", canary=10)
    ws.promote(SYSTEM, made.id, "dev")
    with pytest.raises(trimtab.TrimtabError, match="already the stable release"):
        ws.promote(SYSTEM, made.id, "dev", canary=10)


def test_canary_cli_and_status(cli, project_dir):
    first = json.loads(cli("release", SYSTEM, "--json").stdout)["id"]
    (project_dir / "prompts" / "complaint-router.user.md").write_text("v2 {{text}}\n")
    second = json.loads(cli("release", SYSTEM, "--json").stdout)["id"]
    for release in (first, second):
        for env in ("dev", "staging"):
            cli("promote", SYSTEM, release[:10], "--env", env)
    cli("promote", SYSTEM, first[:10], "--env", "production")
    out = cli("promote", SYSTEM, second[:10], "--env", "production", "--canary", "10").stdout
    assert "runs as a canary on 10% of production calls" in out

    def production():
        status = json.loads(cli("status", "--json").stdout)
        return next(s for s in status if s["env"] == "production")

    assert production()["release_id"] == first
    assert (production()["candidate"]["release_id"], production()["candidate"]["percent"]) == (
        second, 10)
    assert f"canary {second[:12]} 10%" in cli("status").stdout
    cli("rollback", SYSTEM, "--env", "production")
    assert production()["candidate"] is None


def test_a_cache_nobody_closed_lets_its_watcher_end(two):
    """A workspace dropped without close() must not leave a thread (and, on
    PostgreSQL, a LISTEN connection) behind for the life of the process."""
    ws, stable, _ = two
    active = ActiveReleases(ws.store)
    assert active.get(SYSTEM, "production").id == stable.id
    watcher = active._watcher
    del active
    gc.collect()
    watcher.join(3)
    assert not watcher.is_alive()
