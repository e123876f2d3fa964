"""Independent reviews: someone outside the team looks at a system and the
team tracks what they found until it is fixed.

A review record says who reviewed (and for which organisation), when, what
was in scope and each finding. Every finding stays open, with a due date,
until it is closed with a resolution. Check G6 of the assessment passes on a
review within 12 months whose findings are tracked: none open past its due
date. A reviewer who owns the system is no independent reviewer, so such a
record is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trimtab.errors import TrimtabError
from trimtab.project.models import Project
from trimtab.store import Store
from trimtab.store import assurance as assurance_store
from trimtab.store.assurance import Finding, IndependentReview

#: Bounds on what a review record holds: a summary of the report, not the report.
MAX_TEXT = 20_000
MAX_NAME = 320
MAX_FINDINGS = 200
#: When a finding is due unless the review says otherwise.
DEFAULT_DUE = timedelta(days=90)


def record(store: Store, project: Project, system: str, *, reviewer: str, organisation: str,
           scope: str, findings: list[str], reviewed_at: datetime | None = None,
           due_at: datetime | None = None, no_findings: bool = False,
           actor: str) -> IndependentReview:
    """Record a review. An empty findings list must be said out loud
    (``no_findings=True``), so a forgotten --finding is not a clean review."""
    spec = project.system(system)  # an unknown name fails with the declared ones
    reviewer, organisation, scope = reviewer.strip(), organisation.strip(), scope.strip()
    items = [f.strip() for f in findings if f.strip()]
    problems = []
    if not reviewer:
        problems.append("--reviewer is empty: name who reviewed")
    if not organisation:
        problems.append("--organisation is empty: name who the reviewer works for")
    if not scope:
        problems.append("--scope is empty: say what was reviewed")
    if len(reviewer) > MAX_NAME or len(organisation) > MAX_NAME:
        problems.append(f"--reviewer and --organisation are kept under {MAX_NAME} characters")
    if len(scope) > MAX_TEXT or any(len(f) > MAX_TEXT for f in items):
        problems.append(f"scope and each finding are kept under {MAX_TEXT:,} characters")
    if len(items) > MAX_FINDINGS:
        problems.append(f"more than {MAX_FINDINGS} findings: record the report in parts")
    if items and no_findings:
        problems.append("--no-findings with findings given: drop one of them")
    if not items and not no_findings:
        problems.append("no --finding given: list each finding, or say --no-findings")
    if reviewer and reviewer.lower() == spec.owner.strip().lower():
        problems.append(f"{reviewer} owns {system}: an independent review is made by "
                        "someone outside the team")
    now = datetime.now(UTC)
    moment = (reviewed_at or now).astimezone(UTC)
    if moment > now:
        problems.append(f"--at {moment:%Y-%m-%d %H:%M} is in the future: record a review held")
    due = (due_at or moment + DEFAULT_DUE).astimezone(UTC)
    if due < moment:
        problems.append(f"--due {due:%Y-%m-%d} is before the review itself")
    if problems:
        raise TrimtabError("cannot record the independent review: " + "; ".join(problems)
                           + ".")
    with store.write() as conn:
        return assurance_store.record(conn, system=system, reviewer=reviewer,
                                      organisation=organisation, reviewed_at=moment,
                                      scope=scope, findings=items, due_at=due, actor=actor)


def finding(store: Store, ref: str) -> Finding:
    with store.read() as conn:
        return assurance_store.get_finding(conn, ref.strip())


def close(store: Store, ref: str, *, resolution: str, actor: str) -> Finding:
    resolution = resolution.strip()
    if not resolution:
        raise TrimtabError("--resolution is empty: say what was done about the finding.")
    if len(resolution) > MAX_TEXT:
        raise TrimtabError(f"--resolution is kept under {MAX_TEXT:,} characters.")
    with store.write() as conn:
        found = assurance_store.get_finding(conn, ref.strip())
        if found.status == assurance_store.CLOSED:
            raise TrimtabError(f"finding {found.id} was closed on "
                               f"{found.closed_at:%Y-%m-%d} by {found.closed_by}.")
        return assurance_store.close_finding(conn, found, resolution=resolution, actor=actor)


def reviews(store: Store, system: str | None = None) -> list[IndependentReview]:
    with store.read() as conn:
        return assurance_store.for_system(conn, system)
