"""The project file's runtime fields, end to end: YAML → release snapshot → router."""

import json

import pytest

from trimtab.errors import ProjectError
from trimtab.project.loader import load_project
from trimtab.releases.spec import resolve_spec
from trimtab.runtime import (
    BreakerRegistry,
    ChatRequest,
    Redactor,
    prompt_messages,
    router_for_release,
)

pytestmark = pytest.mark.anyio

EXAMPLE = """\
project: acme
providers:
  openai:
    kind: openai
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY
    timeouts: {connect: 3, read: 20, total: 60}
    retries: {max_retries: 3, backoff: 0.25, max_backoff: 4, max_retry_after: 20}
    circuit_breaker: {failures: 5, cooldown: 30}
    prices:
      ft:gpt-4o-mini:acme:router:1:
        input_mtok: 0.30
        output_mtok: 1.20
        cache_read_mtok: 0.15
  azure-eu:
    kind: openai
    base_url: https://acme-eu.openai.azure.com/openai/deployments/router
    api_key_env: AZURE_OPENAI_KEY
    api_key_header: api-key
    query: {api-version: "2024-10-21"}
  claude:
    kind: anthropic
    api_key_env: ANTHROPIC_API_KEY
  flaky-sim:
    kind: simulated
    simulate:
      latency: {median_ms: 80, p95_ms: 400}
      errors: {rate: 0.05, kinds: {server: 2, rate_limit: 1, timeout: 1}, retry_after: 2}
      seed: 7
    prices:
      sim-1: {input_mtok: 0.1, output_mtok: 0.4}
systems:
  router:
    description: Routes complaints.
    owner: qa@example.com
    tier: 1
    risk: limited
    logging: hashed
    retention_days: 90
    redact:
      - {name: order-id, pattern: 'ORD-\\d{8}'}
      - {name: employee, pattern: '(?i)emp-\\d+', replace: '<EMPLOYEE>'}
    release:
      provider: flaky-sim
      model: sim-1
      params: {temperature: 0}
      fallbacks:
        - {provider: claude, model: claude-3-5-haiku-latest}
      simulate:
        rules:
          - when: [leak, seal]
            reply: {team: packaging, reason: "Mentions {{keyword}}."}
          - regex: 'order (?P<order>ORD-\\d+)'
            reply: "Order {{order}} noted."
        default: {team: other}
"""


def write(tmp_path, text):
    path = tmp_path / "trimtab.yaml"
    path.write_text(text)
    return path


def test_every_runtime_field_validates_and_lands_in_the_snapshot(tmp_path):
    project = load_project(write(tmp_path, EXAMPLE))
    spec = resolve_spec(project, "router")
    assert spec["provider"]["simulate"]["errors"]["rate"] == 0.05
    assert spec["provider"]["prices"] == {"sim-1": {"input_mtok": 0.1, "output_mtok": 0.4}}
    assert spec["fallbacks"][0]["provider"] == {"name": "claude", "kind": "anthropic",
                                                "base_url": None,
                                                "api_key_env": "ANTHROPIC_API_KEY"}
    assert spec["simulate"]["rules"][1] == {"regex": r"order (?P<order>ORD-\d+)",
                                            "reply": "Order {{order}} noted."}
    assert spec["privacy"] == {"logging": "hashed", "retention_days": 90, "redact": [
        {"name": "order-id", "pattern": r"ORD-\d{8}"},
        {"name": "employee", "pattern": r"(?i)emp-\d+", "replace": "<EMPLOYEE>"}]}
    azure = project.provider("azure-eu")
    assert azure["api_key_header"] == "api-key" and azure["query"] == {
        "api-version": "2024-10-21"}
    assert "timeouts" not in azure  # defaults stay out of snapshots


def test_providers_without_runtime_fields_snapshot_as_before(tmp_path):
    """Release ids of existing projects must not change because new fields exist."""
    project = load_project(write(tmp_path, EXAMPLE))
    assert project.provider("claude") == {"name": "claude", "kind": "anthropic",
                                          "base_url": None, "api_key_env": "ANTHROPIC_API_KEY"}
    assert project.provider("simulated") == {"name": "simulated", "kind": "simulated",
                                             "base_url": None, "api_key_env": None}
    plain = EXAMPLE.replace("    logging: hashed\n    retention_days: 90\n", "")
    plain = plain[:plain.index("    redact:")] + plain[plain.index("    release:"):]
    plain = plain[:plain.index("      simulate:\n        rules")]
    spec = resolve_spec(load_project(write(tmp_path, plain)), "router")
    assert "privacy" not in spec and "simulate" not in spec


def test_privacy_block_drives_the_redactor(tmp_path):
    spec = resolve_spec(load_project(write(tmp_path, EXAMPLE)), "router")
    hashed = Redactor.from_spec(spec["privacy"])
    assert hashed.text("hello").startswith("sha256:")
    redacting = Redactor.from_spec({**spec["privacy"], "logging": "redacted"})
    assert redacting.text("ORD-12345678 by EMP-42, bob@example.com") == \
        "[ORDER_ID] by <EMPLOYEE>, [EMAIL]"


@pytest.mark.parametrize("old, new, expected", [
    ("pattern: 'ORD-\\d{8}'", "pattern: 'ORD-(\\d{8}'",
     "systems.router.redact[0].pattern: not a valid regular expression"),
    ("    api_key_header: api-key\n", "    headers: {Authorization: Bearer sk-live-123}\n",
     "providers.azure-eu.headers.Authorization: a credential header must not be written"),
    ("    api_key_env: ANTHROPIC_API_KEY\n",
     "    api_key_env: ANTHROPIC_API_KEY\n    simulate: {seed: 1}\n",
     "providers.claude.simulate: `simulate:` only applies to kind: simulated"),
    ("          - when: [leak, seal]\n", "          - when: []\n",
     "systems.router.release.simulate.rules[0]: a rule needs `when:`"),
    ('reply: "Order {{order}} noted."', 'reply: "Order {{ordr}} noted."',
     "unknown placeholder {{ordr}}"),
    ("timeouts: {connect: 3,", "timeouts: {connect: -3,",
     "providers.openai.timeouts.connect: input should be greater than 0"),
    ("errors: {rate: 0.05,", "errors: {rate: 1.5,", "providers.flaky-sim.simulate.errors.rate"),
    ("    logging: hashed\n", "    logging: verbose\n", "systems.router.logging: 'verbose' is "
     "not allowed"),
    ("        input_mtok: 0.30\n",
     "        input_mtok: {base: 1, tiers: [{start: 9, price: 2}, {start: 3, price: 3}]}\n",
     "input_mtok.tiers: tiers must be listed by increasing `start`"),
])
def test_runtime_field_problems_are_reported_with_position_and_fix(tmp_path, old, new,
                                                                   expected):
    assert old in EXAMPLE
    with pytest.raises(ProjectError) as info:
        load_project(write(tmp_path, EXAMPLE.replace(old, new)))
    [problem] = info.value.problems
    assert problem.startswith("trimtab.yaml:") and expected in problem, problem


async def test_the_scaffolded_router_answers_like_the_demo_needs(project_dir):
    project = load_project(project_dir / "trimtab.yaml")
    spec = resolve_spec(project, "complaint-router")
    text = {"customer": "Acme", "product": "K-200 kettle"}
    async with router_for_release(spec, breakers=BreakerRegistry()) as router:
        answers = {}
        for complaint in ("The lid seal leaks.", "The charger gets hot.", "Wrong colour.",
                          "It sparks when plugged in.", "The hinge broke off."):
            messages = prompt_messages(spec["prompts"], {**text, "text": complaint})
            result = await router.complete(ChatRequest(messages))
            answers[complaint] = json.loads(result.response.content)
        async with router.stream(ChatRequest(prompt_messages(
                spec["prompts"], {**text, "text": "The lid seal leaks."}))) as call:
            streamed = "".join([c.content or "" async for c in call])
    assert {k: (v["team"], v["severity"]) for k, v in answers.items()} == {
        "The lid seal leaks.": ("packaging", "medium"),
        "The charger gets hot.": ("electrical", "medium"),
        "Wrong colour.": ("other", "low"),
        "It sparks when plugged in.": ("electrical", "high"),
        "The hinge broke off.": ("mechanical", "medium"),
    }
    assert json.loads(streamed) == answers["The lid seal leaks."]
    assert result.latency_ms >= 5 and result.provider == "simulated"
    assert result.cost.known and result.cost.priced_as == "gpt-4o-mini"
    assert result.response.usage.input_tokens > 50
    assert Redactor.from_spec(spec.get("privacy")).mode == "redacted"
