"""The dashboard's kept assessments: reused between page loads, assessed again after
an audited change, a project file edit, or TTL seconds."""

from __future__ import annotations

import pytest

from tests.assess.test_assessment import SYSTEM, add_yaml, promote_in_order
from trimtab.assess.cache import AssessmentCache


def test_a_kept_assessment_is_reused_until_a_promote_moves_the_audit_head(ws):
    ws.sync()
    before = ws.assess(SYSTEM, save=False, cached=True)
    assert before.stage == 0
    assert ws.assess(SYSTEM, save=False, cached=True) is before

    release, _ = ws.release(SYSTEM)
    promote_in_order(ws, release.id)

    after = ws.assess(SYSTEM, save=False, cached=True)
    assert after is not before
    assert after.stage == 1  # the promote is seen on the next load, not TTL seconds later
    assert after.stage == ws.assess(SYSTEM, save=False).stage
    assert ws.assess(SYSTEM, save=False, cached=True) is after


def test_the_portfolio_and_a_system_page_share_kept_assessments(ws):
    ws.sync()
    everyone = ws.assess_all(save=False, cached=True)
    assert [a.system for a in everyone] == list(ws.project.spec.systems)
    assert ws.assess(SYSTEM, save=False, cached=True) is everyone[0]
    assert ws.assess_all(save=False, cached=True)[0] is everyone[0]


def test_an_edited_project_file_is_assessed_again(ws, project_dir):
    ws.sync()
    before = ws.assess(SYSTEM, save=False, cached=True)
    add_yaml(project_dir, "# a comment changes the file's size, so it is read again\n")
    assert ws.assess(SYSTEM, save=False, cached=True) is not before


def test_a_kept_assessment_expires_after_the_ttl_even_without_an_audited_change(ws):
    ws.sync()
    clock = [100.0]
    cache = AssessmentCache(ttl=30.0, clock=lambda: clock[0])
    asked: list[list[str]] = []

    def assess(names):
        asked.append(names)
        return [ws.assess(n, save=False) for n in names]

    first = cache.get(ws.store, ws.project, [SYSTEM], assess)
    clock[0] += 29.0
    assert cache.get(ws.store, ws.project, [SYSTEM], assess) == first
    assert asked == [[SYSTEM]]
    clock[0] += 1.0
    cache.get(ws.store, ws.project, [SYSTEM], assess)
    assert asked == [[SYSTEM], [SYSTEM]]


def test_a_cached_assessment_is_never_saved(ws):
    ws.sync()
    with pytest.raises(ValueError, match="never saved"):
        ws.assess(SYSTEM, cached=True)
    ws.assess(SYSTEM, save=False, cached=True)
    assert ws.assessment_history(SYSTEM) == []
