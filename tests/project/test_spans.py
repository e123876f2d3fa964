"""Spans in trimtab.yaml (alert windows, audit and incident periods) are bounded:
a span no date arithmetic can hold is a problem at its line, not a crash of every
command that loads the file."""

import pytest

import trimtab
from tests.helpers.alerts import add_yaml


def problems_of(path):
    with pytest.raises(trimtab.ProjectError) as info:
        trimtab.load_project(path)
    return info.value.problems


@pytest.mark.parametrize("window", ["99999999999d", "3000000d", "3661d"])
def test_an_alert_window_longer_than_ten_years_is_a_problem_at_its_line(project_dir, window):
    add_yaml(project_dir, f"""
        alerts:
          slow:
            metric: latency_p95
            window: {window}
            comparator: ">"
            threshold: 2000
            for: 99999999999w
    """)
    path = project_dir / "trimtab.yaml"
    problems = problems_of(path)
    line = path.read_text().splitlines().index(f"    window: {window}") + 1
    assert problems[0].startswith(f"trimtab.yaml:{line}:13: alerts.slow.window: '{window}' is "
                                  "too long: at most 10 years (3660d). Fix:")
    assert problems[1].startswith(f"trimtab.yaml:{line + 3}:")
    assert "alerts.slow.for: '99999999999w' is " in problems[1]
    assert len(problems) == 2


def test_a_ten_year_window_still_loads(project_dir):
    add_yaml(project_dir, """
        alerts:
          slow:
            metric: latency_p95
            window: 3660d
            comparator: ">"
            threshold: 2000
    """)
    assert trimtab.load_project(project_dir / "trimtab.yaml").spec.alerts["slow"].window == "3660d"


def test_audit_and_incident_periods_are_bounded_too(project_dir):
    add_yaml(project_dir, """
        audit:
          checkpoint_every: 99999999999d
    """)
    [problem] = problems_of(project_dir / "trimtab.yaml")
    assert "audit.checkpoint_every: '99999999999d' is " in problem
    assert "Fix:" in problem
