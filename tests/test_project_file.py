"""trimtab.yaml validation: every problem at once, each with file:line:col, field and fix."""

import pytest

import trimtab
from tests.conftest import edit


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
    # Reference errors come from a second pass, after the types are right.
    assert len(problems) == 3


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


def test_classic_system_needs_an_artefact(project_dir):
    path = project_dir / "trimtab.yaml"
    path.write_text(path.read_text() + (
        "  churn:\n    kind: classic\n    description: churn model\n    owner: ds@example.com\n"
        "    tier: 3\n    risk: minimal\n    release:\n      params: {threshold: 0.4}\n"
    ))
    [problem] = problems_of(path)
    assert "systems.churn.release" in problem and "needs at least one artefact" in problem


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
