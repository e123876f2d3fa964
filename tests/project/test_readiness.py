"""`trimtab validate` and start-up name the models whose calls would get no cost, with the fix."""

from __future__ import annotations

import logging

from tests.helpers import edit
from tests.helpers.gateway_server import running_gateway

PROXY = ("providers:\n  proxy:\n    kind: openai\n    base_url: https://llm.acme.internal/v1\n"
         "    api_key_env: PROXY_KEY\n")


def use_proxy(project_dir, model: str = "gpt-4o-mini") -> None:
    path = project_dir / "trimtab.yaml"
    edit(path, "providers: {}\n", PROXY)
    edit(path, "      provider: simulated\n      model: sim-router-1",
         f"      provider: proxy\n      model: {model}")


def test_validate_lists_unpriced_models_with_the_fix(cli, project_dir, monkeypatch):
    monkeypatch.setenv("PROXY_KEY", "sk-test")
    assert "no price" not in cli("validate").output  # the example is priced (price_as)
    use_proxy(project_dir)
    output = cli("validate").output
    assert "complaint-router: model 'gpt-4o-mini' on provider 'proxy' has no price" in output
    assert "prices_from: openai" in output and "price_as" in output
    edit(project_dir / "trimtab.yaml", "    api_key_env: PROXY_KEY\n",
         "    api_key_env: PROXY_KEY\n    prices_from: openai\n")
    assert "no price" not in cli("validate").output


def test_a_deployment_name_is_priced_as_the_model_it_runs(cli, project_dir, monkeypatch):
    monkeypatch.setenv("PROXY_KEY", "sk-test")
    use_proxy(project_dir, "prod-mini")
    edit(project_dir / "trimtab.yaml", "    api_key_env: PROXY_KEY\n",
         "    api_key_env: PROXY_KEY\n    prices_from: openai\n")
    assert "'prod-mini' on provider 'proxy' has no price" in cli("validate").output
    edit(project_dir / "trimtab.yaml", "    prices_from: openai\n",
         "    prices_from: openai\n    price_as: {prod-mini: gpt-4o-mini}\n")
    assert "no price" not in cli("validate").output


def test_the_gateway_names_unpriced_models_when_it_starts(ws, project_dir, monkeypatch, caplog):
    monkeypatch.setenv("PROXY_KEY", "sk-test")
    use_proxy(project_dir)
    with caplog.at_level(logging.WARNING, logger="trimtab"), running_gateway(ws):
        pass
    assert "model 'gpt-4o-mini' on provider 'proxy' has no price" in caplog.text


def test_eval_names_an_unset_key_and_an_unpriced_model_once(ws, project_dir, monkeypatch,
                                                             caplog):
    """`trimtab eval` checks readiness while its first calls are in flight (the price
    check loads the price table): still said, once, before the run's report."""
    monkeypatch.delenv("PROXY_KEY", raising=False)
    use_proxy(project_dir)
    with caplog.at_level(logging.WARNING, logger="trimtab"):
        report = ws.eval("complaint-router")
    [run] = report.runs
    assert not report.passed and all(o.answer.error for o in run.outcomes)  # no key: no call
    assert caplog.text.count("its key variable PROXY_KEY is not set") == 1
    assert caplog.text.count("model 'gpt-4o-mini' on provider 'proxy' has no price") == 1
