"""The SDK: call a system by name, get the answer, and find the call recorded."""

import asyncio
import json

import pytest

import trimtab
from tests.helpers import edit, eventually, promote_through

SYSTEM = "complaint-router"
COMPLAINT = {"customer": "ACME GmbH", "product": "K-200",
             "text": "The charger sparks when plugged in. Mail me at jo@example.com"}


def test_run_renders_the_prompt_calls_the_release_and_records_the_call(live):
    ws, release = live
    router = ws.system(SYSTEM, env="production")
    result = router.run(COMPLAINT, user="agent-7", tags={"channel": "email"})

    assert result.json == {"team": "electrical", "severity": "high",
                           "reason": "Mentions 'spark': a possible electrical hazard."}
    assert result.release_id == release.id and result.route == "primary"
    assert (result.provider, result.model, result.fallback_used) == ("simulated", "sim-router-1",
                                                                      False)
    assert result.usage.input_tokens > 0 and result.cost_usd > 0
    assert ws.flush()

    call = ws.call(result.call_id)
    assert (call.system, call.env, call.release_id, call.user_id) == (
        SYSTEM, "production", release.id, "agent-7")
    assert call.cost_micro_usd == int(result.cost_usd * 1_000_000)
    assert call.price_version.startswith("genai-prices")
    stored = json.loads(call.request)
    assert stored["variables"]["customer"] == "ACME GmbH"
    # The example system logs `redacted`: the e-mail never reaches the store.
    assert "jo@example.com" not in call.request
    assert "K-200" in stored["messages"][1]["content"]
    assert call.logging_mode == "redacted"


def test_arun_is_the_async_twin(live):
    ws, release = live
    router = ws.system(SYSTEM)

    async def main():
        return await asyncio.gather(*(router.arun({**COMPLAINT, "text": t}) for t in
                                      ["the seal leaks", "hinge broke", "it is fine"]))

    teams = [r.json["team"] for r in asyncio.run(main())]
    assert teams == ["packaging", "mechanical", "other"]
    ws.flush()
    assert len(ws.calls(system=SYSTEM)) == 3


def test_a_rollback_elsewhere_reaches_a_running_app_within_seconds(live, project_dir,
                                                                   database_url):
    ws, first = live
    edit(project_dir / "trimtab.yaml", "model: sim-router-1", "model: sim-router-2")
    second, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, second.id, "production")
    router = ws.system(SYSTEM)
    assert router.run(COMPLAINT).release_id == second.id

    other = trimtab.connect(project_dir, database_url=database_url)
    other.rollback(SYSTEM, "production")
    other.close()
    eventually(lambda: router.run(COMPLAINT).release_id == first.id, timeout=1)


def test_missing_variable_names_it_and_records_nothing(live):
    ws, _ = live
    with pytest.raises(trimtab.TrimtabError, match="missing variable 'product'.*Fix"):
        ws.system(SYSTEM).run({"customer": "x", "text": "y"})
    ws.flush()
    assert ws.calls() == []


def test_nothing_promoted_says_how_to_fix(ws):
    with pytest.raises(trimtab.TrimtabError, match="no release of 'complaint-router' is active "
                                                   "in 'staging'.*trimtab promote"):
        ws.system(SYSTEM, env="staging").run(COMPLAINT)


def test_unknown_system_or_env_fails_at_once(ws):
    with pytest.raises(trimtab.TrimtabError, match="complaint-routr"):
        ws.system("complaint-routr")
    with pytest.raises(trimtab.TrimtabError, match="prod"):
        ws.system(SYSTEM, env="prod")


def test_failed_call_is_recorded_with_its_attempts_and_raised(live, project_dir):
    ws, _ = live
    edit(project_dir / "trimtab.yaml", "providers: {}",
         "providers:\n  flaky:\n    kind: simulated\n    retries: {backoff: 0.01}\n"
         "    simulate: {errors: {rate: 1.0}}")
    edit(project_dir / "trimtab.yaml", "      provider: simulated\n      model: sim-router-1",
         "      provider: flaky\n      model: sim-router-1")
    edit(project_dir / "trimtab.yaml", "      fallbacks:\n        - provider: simulated\n"
         "          model: sim-router-small\n", "")
    broken, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, broken.id, "production")
    ws.active.invalidate()
    with pytest.raises(trimtab.CallFailed) as failed:
        ws.system(SYSTEM).run(COMPLAINT)
    assert failed.value.kind == "server"
    ws.flush()
    [call] = ws.calls(status="error")
    assert call.error_kind == "server" and call.attempt_count == 3  # 1 try + 2 retries
    assert call.release_id == broken.id


def test_shadow_release_is_called_and_recorded_but_never_answers(live, project_dir):
    ws, stable = live
    edit(project_dir / "trimtab.yaml", "model: sim-router-1", "model: sim-router-2")
    candidate, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, candidate.id, "production", shadow=100)
    ws.active.invalidate()
    results = [ws.system(SYSTEM).run(COMPLAINT, user=f"u{i}") for i in range(5)]
    assert {r.release_id for r in results} == {stable.id}
    ws.flush()
    calls = ws.calls(limit=100)
    shadows = [c for c in calls if c.route == "shadow"]
    assert len(shadows) == 5 and {c.release_id for c in shadows} == {candidate.id}
    assert {c.model for c in shadows} == {"sim-router-2"}


def test_streaming_yields_chunks_and_records_once_complete(live):
    ws, release = live
    router = ws.system(SYSTEM)

    async def main():
        run = router.astream(COMPLAINT)
        text = "".join([c.content async for c in run if c.content])
        return run, text

    run, text = asyncio.run(main())
    assert json.loads(text)["team"] == "electrical"
    assert run.result.text == text and run.record.status == "ok"
    ws.flush()
    assert ws.call(run.result.call_id).output_tokens == run.result.usage.output_tokens


def test_a_closed_workspace_refuses_calls_and_records_with_the_fix(live):
    """After close() (or a `with` block's end) a record was dropped with an error
    log the app never saw, and run() paid for an answer whose record was dropped;
    flush() then said True. Closing twice is fine; reads still work."""
    ws, _ = live
    router = ws.system("complaint-router")
    router.run(COMPLAINT)
    ws.close()
    ws.close()
    with pytest.raises(trimtab.TrimtabError, match=r"record\(\): this workspace is closed.*Fix"):
        ws.record("complaint-router", {"text": "late"}, "x", 1.0)
    with pytest.raises(trimtab.TrimtabError, match=r"complaint-router.run\(\): .*closed"):
        router.run(COMPLAINT)
    with pytest.raises(trimtab.TrimtabError, match="closed"):
        asyncio.run(router.arun(COMPLAINT))
    assert ws.recorder.stats()["dropped"] == 0
    assert len(ws.calls()) == 1
