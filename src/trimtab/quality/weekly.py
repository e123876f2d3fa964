"""A weekly quality score per system: the share of calls judged good each ISO week,
with its Wilson 95% interval and the trend against the week before.

Two judges, side by side: people (the reviewed calls; a call passes when every
reviewer passed it) and the sampled scorers (a call passes when every scorer
passed it). The headline ``score`` is people's when they reviewed that week,
else the scorers'. A change is called significant only when the two weeks'
intervals do not overlap, so a team is not sent chasing noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.quality.metrics import wilson
from trimtab.quality.review import iso_week, week_bounds
from trimtab.store import Store
from trimtab.store import reviews as review_store
from trimtab.store import sampling as sampling_store

MAX_WEEKS = 104


@dataclass
class WeekScore:
    week: str
    reviewed: int
    reviewed_passed: int
    scored: int
    scored_passed: int
    source: str | None = None  # people | scorers | None (no data)
    trend: str | None = None  # up | down | flat | None (nothing to compare with)
    change: float | None = None
    significant: bool = False

    def _share(self, which: str) -> tuple[int, int]:
        return ((self.reviewed_passed, self.reviewed) if which == "people"
                else (self.scored_passed, self.scored))

    @property
    def score(self) -> float | None:
        if self.source is None:
            return None
        passed, total = self._share(self.source)
        return passed / total

    @property
    def interval(self) -> tuple[float, float] | None:
        return None if self.source is None else wilson(*self._share(self.source))

    def to_dict(self) -> dict[str, Any]:
        people = wilson(self.reviewed_passed, self.reviewed) if self.reviewed else None
        scorers = wilson(self.scored_passed, self.scored) if self.scored else None
        return {
            "week": self.week, "score": self.score, "source": self.source,
            "interval": list(self.interval) if self.interval else None,
            "trend": self.trend, "change": self.change, "significant": self.significant,
            "people": {"calls": self.reviewed, "passed": self.reviewed_passed,
                       "interval": list(people) if people else None},
            "scorers": {"calls": self.scored, "passed": self.scored_passed,
                        "interval": list(scorers) if scorers else None},
        }


def weekly(store: Store, system: str, *, weeks: int = 8,
           now: datetime | None = None) -> list[WeekScore]:
    """The last ``weeks`` ISO weeks of ``system``, oldest first (this week included)."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise TrimtabError(f"--weeks {weeks}: use 1-{MAX_WEEKS}.")
    now = now or datetime.now(UTC)
    labels = [iso_week(now - timedelta(weeks=i)) for i in range(weeks - 1, -1, -1)]
    start, end = week_bounds(labels[0])[0], week_bounds(labels[-1])[1]
    with store.read() as conn:
        given = review_store.for_system(conn, system, since=start)
        sampled = sampling_store.sampled_verdicts(conn, system=system, start=start, end=end)
    people: dict[str, dict[str, bool]] = {}
    for review in given:
        calls = people.setdefault(iso_week(review.time), {})
        calls[review.call_id] = calls.get(review.call_id, True) and review.verdict == "pass"
    scorers: dict[str, dict[str, bool]] = {}
    for call_id, moment, passed in sampled:
        calls = scorers.setdefault(iso_week(moment), {})
        calls[call_id] = calls.get(call_id, True) and passed
    rows = []
    for label in labels:
        by_people, by_scorers = people.get(label, {}), scorers.get(label, {})
        row = WeekScore(label, len(by_people), sum(by_people.values()), len(by_scorers),
                        sum(by_scorers.values()))
        row.source = "people" if row.reviewed else "scorers" if row.scored else None
        rows.append(row)
    _trends(rows)
    return rows


def _trends(rows: list[WeekScore]) -> None:
    """Each week against the last earlier week with data from the same source."""
    last: dict[str, WeekScore] = {}
    for row in rows:
        if row.source is None:
            continue
        before = last.get(row.source)
        if before is not None:
            assert row.score is not None and before.score is not None
            row.change = row.score - before.score
            row.trend = "up" if row.change > 1e-9 else "down" if row.change < -1e-9 else "flat"
            (lo, hi), (blo, bhi) = row.interval, before.interval  # type: ignore[misc]
            row.significant = lo > bhi or hi < blo
        last[row.source] = row
