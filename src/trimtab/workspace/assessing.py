"""The Workspace's methods for maturity: assessments, the portfolio ranking and generated
compliance documents.

A mixin of trimtab.workspace.Workspace, which gives the ``store``, ``project``,
``authorize`` and the other parts these methods use; each hands them to the
package that does the work.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from trimtab.actor import current_actor

if TYPE_CHECKING:
    from trimtab.assess.assessment import Assessment
    from trimtab.assess.documents import Generated
    from trimtab.assess.portfolio import Ranked
    from trimtab.store.assessments import StoredAssessment
    from trimtab.store.audit import ChainReport
    from trimtab.store.documents import DocumentRecord


class AssessMethods:
    """Maturity: mixed into Workspace."""

    def assess(self, system: str, *, now: datetime | None = None,
               save: bool = True, cached: bool = False) -> Assessment:
        """The system's maturity stage from evidence, with the next smallest steps;
        stored (unless ``save=False``) so the stage has a history. ``cached`` (with
        ``save=False``, for pages shown on every load): one kept since the last audited
        change, at most ``assess.cache.TTL`` seconds old."""
        if cached:
            return self._cached_assessments([system], now=now, save=save)[0]
        return self._assess(system, now=now, save=save, chain=None)

    def _cached_assessments(self, systems: list[str], *, now: datetime | None,
                            save: bool) -> list[Assessment]:
        from trimtab.assess.cache import AssessmentCache
        from trimtab.assess.evidence import verified_chain

        if save or now is not None:
            raise ValueError("a cached assessment is taken now and never saved")
        if self._assessments is None:
            self._assessments = AssessmentCache()
        project = self.project

        def assess(names: list[str]) -> list[Assessment]:
            moment = datetime.now(UTC)
            chain = verified_chain(self.store, project) if len(names) > 1 else None
            return [self._assess(name, now=moment, save=False, chain=chain) for name in names]

        return self._assessments.get(self.store, project, systems, assess)

    def _assess(self, system: str, *, now: datetime | None, save: bool,
                chain: tuple[ChainReport, int] | None) -> Assessment:
        from trimtab.assess import portfolio
        from trimtab.assess.assessment import assess

        assessment = assess(self.store, self.project, system, now=now, chain=chain)
        if save:
            portfolio.save(self.store, assessment, current_actor())
        return assessment

    def assess_all(self, *, now: datetime | None = None, save: bool = True,
                   cached: bool = False) -> list[Assessment]:
        """Every declared system assessed at one moment, in declaration order. The
        audit chain is the store's, not a system's: it is verified once for all.
        ``cached``: as for ``assess``."""
        from trimtab.assess.evidence import verified_chain

        if cached:
            return self._cached_assessments(list(self.project.spec.systems), now=now,
                                            save=save)
        now = now or datetime.now(UTC)
        chain = verified_chain(self.store, self.project)
        return [self._assess(name, now=now, save=save, chain=chain)
                for name in self.project.spec.systems]

    def portfolio(self, *, now: datetime | None = None, save: bool = True) -> list[Ranked]:
        """Every declared system assessed and ranked by gap × impact."""
        from trimtab.assess import portfolio

        now = now or datetime.now(UTC)
        return portfolio.rank(self.store, self.project, self.assess_all(now=now, save=save),
                              now)

    def documents(self, system: str, *, kinds: list[str] | None = None, fmt: str = "md",
                  out: Path | None = None, as_of: datetime | None = None) -> list[Generated]:
        """Write the compliance documents for ``system`` from evidence (default: all
        kinds, Markdown, into docs/compliance/ beside trimtab.yaml) and record each
        one's hash; the same store state and ``as_of`` give the same bytes."""
        from trimtab.assess import documents

        folder = out or (self.project.root / "docs" / "compliance")
        return documents.generate(self.store, self.project, system,
                                  kinds=list(kinds or documents.KINDS), fmt=fmt, out=folder,
                                  as_of=as_of, actor=current_actor())

    def document_records(self, system: str) -> list[DocumentRecord]:
        """The compliance documents generated for ``system``, newest first (their hashes)."""
        from trimtab.assess import documents

        return documents.records(self.store, system)

    def assessment_history(self, system: str, limit: int = 50) -> list[StoredAssessment]:
        from trimtab.assess import portfolio

        return portfolio.history(self.store, system, limit)

