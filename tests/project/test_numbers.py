"""A NaN or infinite number in trimtab.yaml would silently switch a safety check
off (a rule that never fires, a budget never spent, a tolerance that passes any
answer): every number in the project file must be finite."""

import pytest

import trimtab
from tests.helpers import edit
from tests.helpers.alerts import add_yaml


def problems_of(path):
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(path)
    return info.value.problems


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_an_alert_threshold_must_be_a_finite_number(project_dir, value):
    add_yaml(project_dir, f"""
        alerts:
          slow:
            metric: latency_p95
            window: 15m
            comparator: ">"
            threshold: {value}
    """)
    path = project_dir / "trimtab.yaml"
    [problem] = problems_of(path)
    line = path.read_text().splitlines().index(f"    threshold: {value}") + 1
    assert problem.startswith(f"trimtab.yaml:{line}:16: alerts.slow.threshold: input should be "
                              "a finite number")
    assert "Fix: write a number; .nan and .inf would switch this check off." in problem


def test_budgets_and_scorer_settings_must_be_finite_too(project_dir):
    path = project_dir / "trimtab.yaml"
    edit(path, "          - {type: json}\n",
         "          - {type: json}\n          - {type: numeric, field: score, tolerance: .inf}\n")
    add_yaml(project_dir, """
        budgets:
          router:
            system: complaint-router
            monthly_usd: .inf
    """)
    problems = problems_of(path)
    assert len(problems) == 2, problems
    assert ".tolerance: input should be a finite number, got inf. Fix:" in problems[0]
    assert "budgets.router.monthly_usd: input should be a finite number, got inf." in problems[1]
