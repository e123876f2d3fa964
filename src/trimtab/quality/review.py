"""Human review of a fixed sample: each ISO week, N calls of a system drawn at random
(seed recorded, so the same draw can be made again), stratified by release and
model so a small canary is not missed, plus every call a person or an alert
flagged; people give each a verdict, and the agreement between reviewers (and
between people and the sampled scorers, an LLM judge for one) says how far the
verdicts can be trusted."""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.project.evals import ReviewSpec
from trimtab.project.models import Project
from trimtab.quality.metrics import cohen_kappa, wilson
from trimtab.store import Store
from trimtab.store import calls as call_store
from trimtab.store import flags as flag_store
from trimtab.store import reviews as review_store
from trimtab.store import sampling as sampling_store
from trimtab.store.calls import Call
from trimtab.store.flags import Flag
from trimtab.store.reviews import Review, Sample

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """[Monday 00:00 UTC, next Monday) of an ISO week like 2026-W49."""
    match = WEEK.match(week)
    if not match:
        raise TrimtabError(f"--week {week!r}: not an ISO week. Fix: write it like 2026-W49.")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as exc:
        raise TrimtabError(f"--week {week!r}: {exc}.") from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    try:
        return start, start + timedelta(days=7)
    except OverflowError:  # the week ends past 9999-12-31, the last day a time can hold
        raise TrimtabError(f"--week {week!r}: ends after the year 9999. Fix: give an "
                           "earlier week, like 2026-W49.") from None


def allocate(counts: dict[str, int], size: int) -> dict[str, int]:
    """How many calls to draw from each stratum: proportional to its calls (largest
    remainder), at least one from each while the size allows."""
    total = sum(counts.values())
    if total <= size:
        return dict(counts)
    strata = sorted(counts)
    floor = 1 if size >= len(strata) else 0
    shares = {s: size * counts[s] / total for s in strata}
    taken = {s: min(counts[s], max(floor, int(shares[s]))) for s in strata}
    left = size - sum(taken.values())
    order = sorted(strata, key=lambda s: (-(shares[s] - int(shares[s])), s))
    while left > 0:
        progressed = False
        for s in order:
            if left and taken[s] < counts[s]:
                taken[s] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    while left < 0:  # the floor of one each overshot: trim the largest strata
        s = max(strata, key=lambda s: (taken[s], s))
        taken[s] -= 1
        left += 1
    return taken


def default_seed(system: str, env: str, week: str) -> int:
    return int(hashlib.sha256(f"{system}\n{env}\n{week}".encode()).hexdigest()[:12], 16)


def draw(store: Store, project: Project, system: str, *, actor: str, week: str | None = None,
         size: int | None = None, seed: int | None = None,
         now: datetime | None = None) -> tuple[Sample, bool]:
    """This week's sample (or ``week``'s): drawn and stored once; (sample, drawn now)."""
    policy = project.system(system).review or ReviewSpec()
    env = policy.env or project.production
    week = week or iso_week(now or datetime.now(UTC))
    start, end = week_bounds(week)
    with store.read() as conn:
        existing = review_store.find_sample(conn, system=system, env=env, week=week)
    if existing is not None:
        return existing, False
    size = size or policy.per_week
    seed = default_seed(system, env, week) if seed is None else seed
    with store.read() as conn:
        found = review_store.population(conn, system=system, env=env, start=start, end=end)
    groups: dict[str, list[str]] = {}
    for call_id, release_id, model in found:
        key = {"release": release_id[:12], "model": model}
        stratum = json.dumps({k: key[k] for k in policy.stratify}, sort_keys=True)
        groups.setdefault(stratum, []).append(call_id)
    rng = random.Random(seed)
    taken = allocate({k: len(v) for k, v in groups.items()}, size)
    items: list[tuple[str, str]] = []
    for stratum in sorted(groups):
        items += [(c, stratum) for c in sorted(rng.sample(groups[stratum], taken[stratum]))]
    strata = [{**json.loads(k), "calls": len(groups[k]), "drawn": taken[k]} for k in sorted(groups)]
    with store.read() as conn:
        flagged = flag_store.in_week(conn, system=system, env=env, start=start, end=end)
    chosen = {c for c, _ in items}
    joined = [(c, flag_store.stratum(source)) for c, source in flagged if c not in chosen]
    if joined:  # flagged calls always join, beside the random draw
        items += joined
        strata.append({"flagged": True, "calls": len(flagged), "drawn": len(joined)})
    if not items:
        # A sample is drawn once a week and kept: an empty one would stand for the whole
        # week, and the calls that come later could not be sampled until the next.
        raise TrimtabError(
            f"no call of {system!r} in {env} in week {week} to sample, and none flagged: "
            "nothing was stored. Fix: draw the sample once calls are recorded, or name a "
            "week that had calls (--week).")
    with store.write() as conn:
        sample = review_store.save_sample(conn, system=system, env=env, week=week, seed=seed,
                                          population_size=len(found), strata=strata,
                                          items=items, actor=actor)
    return sample, True


@dataclass
class Pending:
    sample: Sample
    call: Call
    left: int  # including this one
    flag: Flag | None = None  # why it joined the sample, when someone flagged it


def next_call(store: Store, system: str, reviewer: str) -> Pending | None:
    """The first call of the newest sample this reviewer has not reviewed yet.
    A sampled call that retention pruned since the draw is passed over: it can
    no longer be shown, and naming it stopped every reviewer at it."""
    with store.read() as conn:
        sample = review_store.latest_sample(conn, system=system)
        if sample is None:
            raise TrimtabError(f"no review sample of {system!r} yet. Fix: trimtab review sample "
                               f"{system}")
        ids = review_store.items(conn, sample.id)
        done = review_store.reviewed_by(conn, reviewer, ids)
        todo = [c for c in ids if c not in done]
        kept = call_store.existing(conn, todo)
        todo = [c for c in todo if c in kept]
        if not todo:
            return None
        return Pending(sample, call_store.get(conn, todo[0]), len(todo),
                       flag_store.for_call(conn, todo[0]))


#: What one review may hold, the same from the CLI, Python and the HTTP review route
#: (web/work_schemas.py ReviewIn): a label is a short tag to count by, not prose.
MAX_LABELS = 20
MAX_LABEL = 100
MAX_COMMENT = 2000
_BAD_LABEL = re.compile(r"[\x00-\x1f\x7f,]")


def record(store: Store, call_id: str, *, reviewer: str, verdict: str, score: int | None,
           labels: list[str], comment: str | None) -> Review:
    if verdict not in ("pass", "fail"):
        raise TrimtabError(f"verdict {verdict!r}: use pass or fail.")
    if score is not None and not 1 <= score <= 5:
        raise TrimtabError(f"score {score}: use 1 to 5.")
    check_fields(labels, comment)
    with store.write() as conn:
        call = call_store.get(conn, call_id)
        sample = review_store.latest_sample(conn, system=call.system)
        in_sample = sample.id if sample and call.id in review_store.items(conn, sample.id) \
            else None
        return review_store.add(conn, call, reviewer=reviewer, verdict=verdict, score=score,
                                labels=labels, comment=comment, sample_id=in_sample)


def check_fields(labels: list[str], comment: str | None) -> None:
    """Refuse labels and a comment a review may not hold (before a command shows a
    call it will not be able to record)."""
    if comment is not None and len(comment) > MAX_COMMENT:
        raise TrimtabError(f"--comment: {len(comment):,} characters, more than "
                           f"{MAX_COMMENT:,}. Fix: shorten it; a review's comment says why "
                           "in a few sentences.")
    if comment is not None and "\x00" in comment:
        raise TrimtabError("--comment holds a NUL character. Fix: remove it.")
    if len(labels) > MAX_LABELS:
        raise TrimtabError(f"--label: {len(labels)} labels, more than {MAX_LABELS}. Fix: keep "
                           "the ones to count reviews by.")
    for label in labels:
        shown = f"{label[:40]!r}{'…' if len(label) > 40 else ''}"
        if not label.strip():
            raise TrimtabError("--label '': a label is empty. Fix: give a word, or leave "
                               "--label out.")
        if len(label) > MAX_LABEL:
            raise TrimtabError(f"--label {shown}: {len(label):,} characters, more than "
                               f"{MAX_LABEL}. Fix: a short tag; say more with --comment.")
        if _BAD_LABEL.search(label):
            raise TrimtabError(f"--label {shown}: holds a comma or a control character. "
                               "Fix: give each label with its own --label.")


def flag(store: Store, call_id: str, *, actor: str, reason: str | None = None,
         source: str = "user") -> tuple[Flag, bool]:
    """Flag a call for review: it joins its week's sample (now, or when it is drawn).
    (the flag, whether it is new); flagging a call again changes nothing."""
    if source not in flag_store.SOURCES:
        raise TrimtabError(f"flag source {source!r}: use one of {', '.join(flag_store.SOURCES)}.")
    if reason is not None and len(reason) > 2000:
        raise TrimtabError("the reason is longer than 2000 characters. Fix: shorten it.")
    with store.write() as conn:
        call = call_store.get(conn, call_id)
        return flag_store.add(conn, call, source=source, reason=reason, actor=actor)


@dataclass
class JudgeAgreement:
    """A sampled scorer (an LLM judge, say) against people on the calls both judged:
    how often they agree (Wilson 95% interval) and Cohen's kappa."""

    scorer: str
    calls: int
    agreed: int
    interval: tuple[float, float]
    kappa: float | None

    @property
    def rate(self) -> float | None:
        return self.agreed / self.calls if self.calls else None

    def to_dict(self) -> dict[str, Any]:
        return {"scorer": self.scorer, "calls": self.calls, "agreed": self.agreed,
                "agreement": self.rate, "interval": list(self.interval), "kappa": self.kappa}


@dataclass
class ReviewStats:
    system: str
    reviews: int
    calls: int
    passed: int  # calls whose verdicts were all pass
    interval: tuple[float, float]
    agreement: list[tuple[str, str, int, float | None]]  # reviewer a, b, shared calls, kappa
    judges: list[JudgeAgreement] = field(default_factory=list)

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.calls if self.calls else None


def stats(store: Store, system: str, *, since: datetime | None = None) -> ReviewStats:
    """Pass rate over reviewed calls with its Wilson 95% interval, and Cohen's kappa for
    every two reviewers who judged the same calls."""
    with store.read() as conn:
        given = review_store.for_system(conn, system, since=since)
    by_call: dict[str, dict[str, str]] = {}
    for review in given:
        by_call.setdefault(review.call_id, {})[review.reviewer] = review.verdict
    passed = sum(all(v == "pass" for v in verdicts.values()) for verdicts in by_call.values())
    reviewers = sorted({r.reviewer for r in given})
    agreement = []
    for i, a in enumerate(reviewers):
        for b in reviewers[i + 1:]:
            pairs = [(v[a], v[b]) for v in by_call.values() if a in v and b in v]
            if pairs:
                agreement.append((a, b, len(pairs), cohen_kappa(pairs)))
    people = {call: "pass" if all(v == "pass" for v in verdicts.values()) else "fail"
              for call, verdicts in by_call.items()}
    with store.read() as conn:
        scored = sampling_store.verdicts(conn, system=system, call_ids=sorted(people))
    by_scorer: dict[str, list[tuple[str, str]]] = {}
    for call_id, scorer, passed_it in scored:
        by_scorer.setdefault(scorer, []).append(("pass" if passed_it else "fail",
                                                 people[call_id]))
    judges = []
    for scorer, pairs in sorted(by_scorer.items()):
        agreed = sum(a == b for a, b in pairs)
        judges.append(JudgeAgreement(scorer, len(pairs), agreed, wilson(agreed, len(pairs)),
                                     cohen_kappa(pairs)))
    return ReviewStats(system, len(given), len(by_call), passed,
                       wilson(passed, len(by_call)), agreement, judges)


@dataclass
class ReviewProgress:
    """How far the newest sample is worked, and the pass rate week by week."""
    system: str
    sample: Sample | None
    reviewed: int  # sampled calls with at least one review
    mine: int | None  # sampled calls ``reviewer`` reviewed (None: no reviewer asked about)
    weeks: list[tuple[str, int, int]]  # (ISO week, reviewed calls, passed calls), oldest first
    #: Sampled calls retention pruned before anyone reviewed them: never reviewable.
    gone: int = 0
    #: Calls ``reviewer`` can still review (None: no reviewer asked about); 0: done.
    left: int | None = None

    @property
    def reviewable(self) -> int:
        """The sample's size less what retention took unreviewed: what "all reviewed"
        means now (a pruned call counted in the size kept a sample from ever being done)."""
        return (self.sample.size if self.sample else 0) - self.gone

    def to_dict(self) -> dict[str, object]:
        return {"system": self.system,
                "sample": self.sample.to_dict() if self.sample else None,
                "size": self.sample.size if self.sample else 0,
                "reviewed": self.reviewed, "mine": self.mine, "gone": self.gone,
                "reviewable": self.reviewable, "left": self.left,
                "weeks": [{"week": w, "calls": n, "passed": p,
                           "pass_rate": p / n if n else None} for w, n, p in self.weeks]}


def progress(store: Store, system: str, *, reviewer: str | None = None, weeks: int = 8,
             now: datetime | None = None) -> ReviewProgress:
    """The newest sample's progress (by anyone, and by ``reviewer``) and the trend: per
    ISO week of the last ``weeks``, the reviewed calls and those whose verdicts all passed."""
    now = now or datetime.now(UTC)
    since, _ = week_bounds(iso_week(now - timedelta(weeks=weeks - 1)))
    with store.read() as conn:
        sample = review_store.latest_sample(conn, system=system)
        ids = set(review_store.items(conn, sample.id)) if sample else set()
        start = min(since, sample.drawn_at - timedelta(days=7)) if sample else since
        given = review_store.for_system(conn, system, since=start)
        kept = call_store.existing(conn, sorted(ids))
    reviewed = {r.call_id for r in given if r.call_id in ids}
    gone = len(ids - kept - reviewed)
    mine_ids = None if reviewer is None else \
        {r.call_id for r in given if r.call_id in ids and r.reviewer == reviewer}
    mine = None if mine_ids is None else len(mine_ids)
    left = None if mine_ids is None else len(kept - mine_ids)
    verdicts: dict[str, dict[str, list[str]]] = {}
    for r in given:
        if r.time >= since:
            verdicts.setdefault(iso_week(r.time), {}).setdefault(r.call_id, []).append(r.verdict)
    trend = []
    for back in range(weeks - 1, -1, -1):
        week = iso_week(now - timedelta(weeks=back))
        calls = verdicts.get(week, {})
        trend.append((week, len(calls), sum(all(v == "pass" for v in vs)
                                            for vs in calls.values())))
    return ReviewProgress(system, sample, len(reviewed), mine, trend, gone, left)
