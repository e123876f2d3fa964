"""trimtab.yaml validation: every problem at once, each with file:line:col, field and fix."""

from pathlib import Path

import pytest

import trimtab
from tests.helpers import edit


def problems_of(path):
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(path)
    return info.value.problems


def test_scaffolded_project_is_valid(project_dir):
    project = trimtab.load_project(project_dir / "trimtab.yaml")
    assert project.environments == ["dev", "staging", "production"]
    router = project.system("complaint-router")
    assert router.resolved_target_stage == 3
    assert router.release.prompts["system"] == "prompts/complaint-router.system.md"


@pytest.mark.parametrize(
    ("risk", "customer_facing", "declared", "expected"),
    [("limited", "false", None, 3), ("high", "false", None, 4),
     ("minimal", "true", None, 4), ("high", "false", 2, 2)],
)
def test_target_stage_is_derived_from_risk(project_dir, risk, customer_facing, declared, expected):
    path = project_dir / "trimtab.yaml"
    edit(path, "risk: limited", f"risk: {risk}")
    edit(path, "customer_facing: false", f"customer_facing: {customer_facing}")
    if declared:
        edit(path, "# target_stage: 3", f"target_stage: {declared}")
    assert trimtab.load_project(path).system("complaint-router").resolved_target_stage == expected


def test_unknown_key_points_at_line_and_suggests(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "      prompts:", "      promts:")
    [problem] = problems_of(path)
    line = path.read_text().splitlines().index("      promts:") + 1
    assert problem.startswith(f"trimtab.yaml:{line}:7: systems.complaint-router.release.promts:")
    assert "unknown key 'promts'" in problem
    assert "Did you mean 'prompts'?" in problem


def test_wrong_type_names_field_and_fix(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "tier: 1 ", "tier: one ")
    [problem] = problems_of(path)
    assert "systems.complaint-router.tier" in problem
    assert "'one' is not allowed" in problem and "1, 2 or 3" in problem


def test_string_where_mapping_expected(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "      params:\n        temperature: 0\n        max_tokens: 200\n"
         "        response_format: json\n", "      params: hot\n")
    [problem] = problems_of(path)
    assert "systems.complaint-router.release.params" in problem
    assert "Fix: write a mapping" in problem


def test_missing_prompt_file(project_dir):
    (project_dir / "prompts" / "complaint-router.user.md").unlink()
    [problem] = problems_of(project_dir / "trimtab.yaml")
    assert "systems.complaint-router.release.prompts.user" in problem
    assert "'prompts/complaint-router.user.md' does not exist" in problem


def test_duplicate_system_names(project_dir):
    path = project_dir / "trimtab.yaml"
    text = path.read_text()
    block = text[text.index("  complaint-router:"):]
    path.write_text(text + block)
    [problem] = problems_of(path)
    assert "duplicate key 'complaint-router'" in problem
    first = text.splitlines().index("  complaint-router:") + 1
    assert f"first defined on line {first}" in problem


def test_every_problem_is_reported_at_once(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "owner: quality-team@example.com", "ownr: quality-team@example.com")
    edit(path, "risk: limited", "risk: medium")
    edit(path, "provider: simulated\n      model", "provider: simulatd\n      model")
    problems = problems_of(path)
    joined = "\n".join(problems)
    assert "unknown key 'ownr'" in joined and "Did you mean 'owner'?" in joined
    assert "required key 'owner' is missing" in joined
    assert "'medium' is not allowed" in joined
    # The reference problem comes in the same round as the type problems.
    assert "unknown provider 'simulatd'. Did you mean 'simulated'?" in joined
    assert len(problems) == 4


def at(path, start, value):
    """`trimtab.yaml:LINE:COL` of ``value`` on the one line that starts with ``start``."""
    lines = path.read_text().splitlines()
    [number] = [i for i, line in enumerate(lines) if line.startswith(start)]
    return f"trimtab.yaml:{number + 1}:{lines[number].index(value) + 1}"


MORE_SYSTEMS = """\
  churn:
    kind: classic
    description: Predicts which customers will not renew.
    owner: data-team@example.com
    tier: 3
    risk: severe
    release:
      artefacts: {model: models/churn.joblib}
  summariser:
    description: Summarises complaint threads.
    owner: quality-team@example.com
    tier: 1
    risk: minimal
    release:
      provider: simulatd
      model: sim-1
"""


def test_type_and_semantic_problems_come_in_one_round(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "    tier: 1 ", '    tier: "1"')
    (project_dir / "prompts" / "complaint-router.user.md").unlink()
    path.write_text(path.read_text() + MORE_SYSTEMS)
    tier = at(path, '    tier: "1"', '"1"')
    prompt = at(path, "        user: prompts/complaint-router.user.md", "prompts/")
    risk = at(path, "    risk: severe", "severe")
    artefact = at(path, "      artefacts: {model: models/churn.joblib}", "models/")
    provider = at(path, "      provider: simulatd", "simulatd")
    assert problems_of(path) == [
        f"{tier}: systems.complaint-router.tier: '1' is in quotes, so it is text, not a "
        "number. Fix: drop the quotes: `tier: 1`.",
        # The same system's bad tier does not hide its missing prompt file ...
        f"{prompt}: systems.complaint-router.release.prompts.user: file "
        f"'prompts/complaint-router.user.md' does not exist (looked in {project_dir}). "
        "Fix: create it or correct the path, relative to trimtab.yaml.",
        # ... nor does another system's bad risk hide that system's missing artefact,
        f"{risk}: systems.churn.risk: 'severe' is not allowed. Fix: use one of 'minimal', "
        "'limited' or 'high'.",
        f"{artefact}: systems.churn.release.artefacts.model: file 'models/churn.joblib' does "
        f"not exist (looked in {project_dir}). Fix: create it or correct the path, relative "
        "to trimtab.yaml.",
        # ... and a valid system's reference is checked beside them all.
        f"{provider}: systems.summariser.release.provider: unknown provider 'simulatd'. "
        "Did you mean 'simulated'? Fix: declare it under `providers:` or use one of: "
        "simulated.",
    ]


def test_a_provider_with_a_type_error_is_still_a_known_provider(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "providers: {}", "providers:\n  sim:\n    kind: simulated\n"
         "    retries: {max_retries: many}")
    edit(path, "      provider: simulated\n      model: sim-router-1",
         "      provider: sim\n      model: sim-router-1")
    [problem] = problems_of(path)
    assert "providers.sim.retries.max_retries: input should be a valid integer" in problem


def test_validate_command_prints_both_kinds_at_once(cli, project_dir):
    edit(project_dir / "trimtab.yaml", "risk: limited", "risk: medium")
    (project_dir / "prompts" / "complaint-router.system.md").unlink()
    result = cli("validate", expect=2)
    assert "2 problems" in result.output
    assert "'medium' is not allowed" in result.output
    assert "complaint-router.system.md' does not exist" in result.output


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    tier: 1 ", '    tier: "1"', "'1' is in quotes, so it is text, not a number. "
     "Fix: drop the quotes: `tier: 1`."),
    ("customer_facing: false", 'customer_facing: "false"', "'false' is in quotes, so it is "
     "text, not true or false. Fix: drop the quotes: `customer_facing: false`."),
    ("customer_facing: false", 'customer_facing: "no"', "Fix: write `customer_facing: false`."),
    ("customer_facing: false", 'customer_facing: false\n    retention_days: "30"',
     "systems.complaint-router.retention_days: '30' is in quotes, so it is text, not a "
     "number. Fix: drop the quotes: `retention_days: 30`."),
    ("version: 1", 'version: "1"', "Fix: drop the quotes: `version: 1`."),
])
def test_a_quoted_number_or_boolean_says_drop_the_quotes(project_dir, old, new, expected):
    path = project_dir / "trimtab.yaml"
    edit(path, old, new)
    [problem] = problems_of(path)
    assert problem.endswith(expected), problem


def test_a_quoted_word_is_still_not_allowed(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "    tier: 1 ", '    tier: "one"')
    [problem] = problems_of(path)
    assert "'one' is not allowed. Fix: use one of 1, 2 or 3." in problem
    assert "quotes" not in problem


def test_a_call_parameter_under_release_goes_under_params(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "      params:\n        temperature: 0\n",
         "      temperature: 0\n      params:\n")
    edit(path, "          model: sim-router-small",
         "          model: sim-router-small\n          max_tokens: 50")
    edit(path, "      prompts:", "      tools: [{type: function, function: {name: route, "
         "parameters: {type: object}}}]\n      prompts:")
    temperature, tools, max_tokens = problems_of(path)  # in file order
    assert temperature.startswith(at(path, "      temperature: 0", "temperature"))
    assert ("systems.complaint-router.release.temperature: unknown key 'temperature'. "
            "'temperature' is a call parameter: put it under `params:`, e.g. "
            "params: {temperature: 0}. Allowed here: provider, model, params,") in temperature
    assert "'tools' is a call parameter: put it under `params:`." in tools  # too long to show
    assert "release.fallbacks[0].max_tokens" in max_tokens
    assert "put it under `params:`, e.g. params: {max_tokens: 50}." in max_tokens
    assert "Did you mean" not in temperature + tools + max_tokens


def test_release_fields_written_on_the_system_are_pointed_at_release(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "    customer_facing: false", "    customer_facing: false\n    seed: 7\n"
         "    model: sim-router-2")
    seed, model = problems_of(path)
    assert "systems.complaint-router.seed: unknown key 'seed'. 'seed' is a call parameter: " \
           "put it under `release:`, in `params:`." in seed
    assert "systems.complaint-router.model: unknown key 'model'. 'model' describes a " \
           "release: put it under `release:`." in model


def test_a_release_key_typo_still_gets_did_you_mean(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "      model: sim-router-1", "      modl: sim-router-1")
    problems = problems_of(path)
    assert any("unknown key 'modl'. Did you mean 'model'?" in p for p in problems)
    assert any("an llm system needs `model:` in its release" in p for p in problems)


def test_a_value_that_fits_no_member_of_a_union_gets_one_message(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "providers: {}", "providers:\n  sim:\n    kind: simulated\n    prices:\n"
         "      sim-router-1:\n        input_mtok: \"0.15\"\n        output_mtok: {base: 1}\n"
         "        cache_read_mtok: [1]")
    quoted, tiers, listed = problems_of(path)
    assert quoted.endswith("providers.sim.prices.sim-router-1.input_mtok: '0.15' is in quotes, "
                           "so it is text, not a number. Fix: drop the quotes: "
                           "`input_mtok: 0.15`.")
    assert "output_mtok.tiers: required key 'tiers' is missing" in tiers
    assert "cache_read_mtok: expected a number or a mapping, got [1]" in listed


def test_the_validation_example_in_the_docs_is_what_validate_prints(tmp_path):
    text = (Path(__file__).resolve().parents[2] / "docs" / "project-file.md").read_text()
    section = text[text.index("Here is a file with several mistakes:"):]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    shown = section.split("$ trimtab validate\n", 1)[1].split("```", 1)[0]
    (tmp_path / "trimtab.yaml").write_text(example)
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(tmp_path / "trimtab.yaml")
    assert f"error: {info.value}\n" == shown.replace("/tmp/v", str(tmp_path))


def test_reference_problems_are_reported_together(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "provider: simulated\n      model", "provider: simulatd\n      model")
    edit(path, "environments: [dev, staging, production]", "environments: [dev, dev, Prod]")
    (project_dir / "prompts" / "complaint-router.system.md").unlink()
    joined = "\n".join(problems_of(path))
    assert "unknown provider 'simulatd'. Did you mean 'simulated'?" in joined
    assert "environment 'dev' is listed twice" in joined
    assert "'Prod' is not a valid name" in joined
    assert "complaint-router.system.md' does not exist" in joined


def test_invalid_yaml_syntax_has_position(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "    tier: 1", "    tier: [1")
    [problem] = problems_of(path)
    assert problem.startswith("trimtab.yaml:")
    assert "not valid YAML" in problem


def test_api_key_must_be_a_variable_name(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "providers: {}", "providers:\n  openai:\n    kind: openai\n"
         "    api_key_env: sk-live-abc123")
    [problem] = problems_of(path)
    assert "providers.openai.api_key_env" in problem
    assert "never the key itself" in problem


def test_classic_system_validates_without_artefacts_but_a_declared_one_must_exist(
        cli, project_dir):
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text() + (
        "  churn:\n    kind: classic\n    description: churn model\n    owner: ds@example.com\n"
        "    tier: 3\n    risk: minimal\n    release:\n      params: {threshold: 0.4}\n"
    ))
    assert trimtab.load_project(path).system("churn").kind == "classic"
    cli("validate")
    edit(path, "params: {threshold: 0.4}",
         "params: {threshold: 0.4}\n      artefacts: {model: models/churn.joblib}")
    [problem] = problems_of(path)
    assert "systems.churn.release.artefacts.model" in problem
    assert "'models/churn.joblib' does not exist" in problem


def test_validate_command_exits_2_without_traceback(cli, project_dir):
    edit(project_dir / "trimtab.yaml", "tier: 1 ", "tierr: 1 ")
    result = cli("validate", expect=2)
    assert "Traceback" not in result.output
    assert "unknown key 'tierr'" in result.output and "Did you mean 'tier'?" in result.output
    assert "2 problems" in result.output  # the typo, and tier now missing


def test_commands_that_read_the_file_report_its_problems(cli, project_dir):
    edit(project_dir / "trimtab.yaml", "risk: limited", "risk: medium")
    for args in (["release", "complaint-router"], ["systems"], ["promote", "complaint-router",
                                                               "abc", "--env", "dev"]):
        result = cli(*args, expect=2)
        assert "'medium' is not allowed" in result.output


def test_empty_and_non_mapping_files(tmp_path):
    path = tmp_path / "trimtab.yaml"
    path.write_text("- just\n- a list\n")
    [problem] = problems_of(path)
    assert "must be a mapping" in problem
    path.write_text("")
    [problem] = problems_of(path)
    assert "required key 'project' is missing" in problem


def test_missing_project_file(tmp_path):
    with pytest.raises(trimtab.TrimtabError, match="trimtab init"):
        trimtab.load_project(tmp_path / "nope.yaml")


def test_unknown_system_suggests(project_dir):
    project = trimtab.load_project(project_dir / "trimtab.yaml")
    with pytest.raises(trimtab.TrimtabError, match="Did you mean 'complaint-router'"):
        project.system("complaint-routr")


def test_the_gateway_default_provider_must_be_declared(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "providers: {}", "providers:\n  openai: {kind: openai, api_key_env: OPENAI_API_KEY}"
         "\ngateway:\n  default_provider: opneai")
    [problem] = problems_of(path)
    assert problem.startswith("trimtab.yaml:")
    assert "gateway.default_provider: unknown provider 'opneai'. Did you mean 'openai'?" in problem
    assert "use one of: openai" in problem


def test_passthrough_is_a_reserved_system_name(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "  complaint-router:\n", "  passthrough:\n")
    problems = problems_of(path)
    assert any("systems.passthrough: 'passthrough' is reserved" in p and "rename" in p
               for p in problems)


def test_a_prompt_file_over_one_mib_is_refused_at_its_line(project_dir):
    """Every release stores its prompts whole: a stray 60 MB export named as a
    prompt would be copied into each one."""
    prompt = project_dir / "prompts" / "complaint-router.system.md"
    prompt.write_bytes(b"x" * (1024 * 1024 + 1))
    path = project_dir / "trimtab.yaml"
    [problem] = problems_of(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), start=1)
                if "system: prompts/complaint-router.system.md" in text)
    assert problem.startswith(f"trimtab.yaml:{line}:")
    assert ("systems.complaint-router.release.prompts.system: prompt file "
            "'prompts/complaint-router.system.md' is 1,048,577 bytes; at most 1,048,576. "
            "Fix: shorten it") in problem
    prompt.write_bytes(b"x" * (1024 * 1024))
    assert trimtab.load_project(path).system("complaint-router")
