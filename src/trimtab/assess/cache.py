"""Assessments kept for a short while, for the pages that show a stage on every load.

An assessment reads most of the store for its system (deployments, releases, eval
runs, reviews, drills, documents, a sample of the week's calls) and verifies the
audit chain; the portfolio shows every system's, and the system page one. Done per
request, that was most of those pages' time on a store of a million calls
(bench/dashboard_pages.py), though the answer rarely changes between two loads.

What moves a stage is either a state change, which writes an audit entry in the
same transaction (register, release, promote, rollback, approve, review, incident,
rule change) and so moves the audit head, one row to read; or the slow drift of
evidence (the week's call coverage, dated evidence expiring, an eval run or a drift
check landing). So a kept assessment is used while the audit head and the project
file are the ones it was made under, and for at most ``TTL`` seconds.

Per process: each server worker keeps its own, and nothing another replica needs
lives here (a cold worker just assesses).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trimtab.store import audit as audit_store

if TYPE_CHECKING:
    from trimtab.assess.assessment import Assessment
    from trimtab.project.models import Project
    from trimtab.store import Store

#: Seconds a kept assessment may be used while the audit head stays where it was.
TTL = 30.0


@dataclass(frozen=True)
class _Kept:
    head: tuple[int, str]
    project: Project
    made: float  # clock reading when it was made
    assessment: Assessment


class AssessmentCache:
    """Assessments per system, each valid for one audit head and project file."""

    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._clock = clock
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()  # the server's handlers run in a thread pool

    def get(self, store: Store, project: Project, systems: list[str],
            assess: Callable[[list[str]], list[Assessment]]) -> list[Assessment]:
        """The systems' assessments, in order; ``assess`` is called once with those
        that have none kept for the store's state now."""
        # Read before assessing: a change landing meanwhile moves the head past
        # the one recorded, and the next look assesses again.
        with store.read() as conn:
            head = audit_store.head(conn)
        now = self._clock()
        with self._lock:
            kept = {name: k for name in systems
                    if (k := self._kept.get(name)) is not None and k.head == head
                    and k.project is project and now - k.made < self.ttl}
        missing = [name for name in systems if name not in kept]
        if missing:
            fresh = dict(zip(missing, assess(missing), strict=True))
            with self._lock:
                for name, assessment in fresh.items():
                    kept[name] = self._kept[name] = _Kept(head, project, now, assessment)
        return [kept[name].assessment for name in systems]

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
