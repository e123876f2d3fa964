"""No silent fake answers: the simulated provider answers only where the project
allows it, and a provider whose key variable is unset fails its calls with 503
``provider_not_configured`` (recorded), never falling back to simulated text."""

from __future__ import annotations

import logging

import httpx
import pytest

import trimtab
from tests.helpers import edit, promote_through
from tests.helpers.gateway_server import (
    declare_provider,
    running_gateway,
    running_upstream,
    use_provider,
)

SYSTEM = "complaint-router"
COMPLAINT = {"customer": "Acme", "product": "K-200 kettle", "text": "The lid leaks."}
HELLO = {"model": f"trimtab/{SYSTEM}", "messages": [{"role": "user", "content": "It leaks."}]}


def post(url: str, env: str | None = None) -> httpx.Response:
    headers = {"X-Trimtab-Env": env} if env else {}
    return httpx.post(f"{url}/v1/chat/completions", json=HELLO, headers=headers, timeout=30)


def test_an_unset_key_is_named_at_start_up_and_its_calls_fail_503_unrecorded_never(
        project_dir, database_url, monkeypatch, caplog):
    """The measured case: a real provider whose key variable is unset, with the
    example's simulated fallback, answered production calls with simulated text."""
    monkeypatch.delenv("MOCK_UPSTREAM_KEY", raising=False)
    with running_upstream() as upstream:
        declare_provider(project_dir, "up", upstream)
        use_provider(project_dir, "up", fallback=("simulated", "sim-router-small"))
        with trimtab.connect(project_dir, database_url=database_url) as ws:
            release, _ = ws.release(SYSTEM)
            promote_through(ws, SYSTEM, release.id)
            with caplog.at_level(logging.WARNING, logger="trimtab"), running_gateway(ws) as url:
                answer = post(url)
            ws.flush()
            [call] = ws.calls()
        assert upstream.requests == []
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "provider_not_configured"
    assert "MOCK_UPSTREAM_KEY" in answer.json()["error"]["message"]
    assert "retry-after" not in answer.headers
    assert call.status == "error" and call.error_kind == "not_configured"
    assert call.attempt_count == 1  # the simulated fallback was never tried
    started = [r.getMessage() for r in caplog.records if "key variable" in r.getMessage()]
    assert any("'up'" in m and "MOCK_UPSTREAM_KEY" in m for m in started), caplog.text


def test_simulated_answers_only_where_the_project_allows_it(ws, project_dir):
    edit(project_dir / "trimtab.yaml", "allow_simulated: [dev, staging, production]",
         "allow_simulated: [dev]")
    release, _ = ws.release(SYSTEM)
    promote_through(ws, SYSTEM, release.id)
    assert ws.system(SYSTEM, env="dev").run(COMPLAINT).text  # allowed: answers
    with pytest.raises(trimtab.CallFailed) as refused:
        ws.system(SYSTEM, env="production").run(COMPLAINT)
    assert refused.value.kind == "not_configured"
    assert "allow_simulated" in str(refused.value)
    with running_gateway(ws) as url:
        assert post(url, "dev").status_code == 200
        answer = post(url, "production")
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "provider_not_configured"
    ws.flush()
    refusals = ws.calls(env="production")
    assert len(refusals) == 2 and {c.error_kind for c in refusals} == {"not_configured"}


def test_a_simulated_fallback_leaves_the_chain_where_it_may_not_answer(
        project_dir, database_url, monkeypatch):
    """A real failure then surfaces as itself, not as a fake answer."""
    monkeypatch.setenv("MOCK_UPSTREAM_KEY", "sk-test")
    edit(project_dir / "trimtab.yaml", "allow_simulated: [dev, staging, production]",
         "allow_simulated: [dev]")
    with running_upstream() as upstream:
        declare_provider(project_dir, "up", upstream, retries="{max_retries: 0}")
        use_provider(project_dir, "up", fallback=("simulated", "sim-router-small"))
        with trimtab.connect(project_dir, database_url=database_url) as ws:
            release, _ = ws.release(SYSTEM)
            promote_through(ws, SYSTEM, release.id)
            upstream.plan(500, 500)
            with pytest.raises(trimtab.CallFailed) as failed:
                ws.system(SYSTEM, env="production").run(COMPLAINT)
            in_dev = ws.system(SYSTEM, env="dev").run(COMPLAINT)
    assert failed.value.kind == "server" and len(failed.value.attempts) == 1
    assert in_dev.fallback_used and in_dev.provider == "simulated"


def test_validate_names_unset_keys_and_where_simulated_answers(cli, project_dir, monkeypatch):
    monkeypatch.delenv("MOCK_UPSTREAM_KEY", raising=False)
    result = cli("validate")
    assert "simulated provider answers in: dev, staging, production" in result.output
    assert "MOCK_UPSTREAM_KEY" not in result.output
    path = project_dir / "trimtab.yaml"
    edit(path, "providers: {}", "providers:\n  up:\n    kind: openai\n"
         "    base_url: http://127.0.0.1:9/v1\n    api_key_env: MOCK_UPSTREAM_KEY")
    result = cli("validate")
    assert "warning" in result.output and "'up'" in result.output
    assert "MOCK_UPSTREAM_KEY is not set" in result.output
    monkeypatch.setenv("MOCK_UPSTREAM_KEY", "sk-test")
    assert "MOCK_UPSTREAM_KEY" not in cli("validate").output
    edit(path, "allow_simulated: [dev, staging, production]", "allow_simulated: [prod]")
    assert "unknown environment 'prod'" in cli("validate", expect=2).output
