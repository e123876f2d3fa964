"""Weeks of production traffic, back-dated: the calls a team would have recorded.

Every answer comes from the simulated provider: the story runs each input of a
system's pool through the release in dev once, through the SDK (``template``),
and history calls are copies of those records with their own time, latency,
user and tags. Times follow a working week (quiet weekends, busy mornings),
ids are time-ordered by the call's own time like the recorder's, and the
records go through the recorder's spool in bulk, so tens of thousands of calls
take seconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from trimtab.recorder.records import CallRecord

#: Monday first: a weekday carries the traffic, a weekend a fraction of it.
WEEKDAY = (1.0, 1.08, 1.02, 0.97, 0.86, 0.28, 0.18)
#: Share of a day's calls per hour (UTC), office hours with a lunch dip.
HOURLY = (1, 1, 1, 1, 1, 2, 4, 8, 12, 13, 12, 10, 8, 10, 12, 11, 9, 6, 4, 3, 2, 2, 1, 1)
Z95 = 1.6448536269514722


@dataclass(frozen=True)
class Phase:
    """One stretch of a system's traffic: which release answers, how fast, and
    what the inputs look like (indexes into the template pool, with weights)."""

    start: datetime
    end: datetime
    release_id: str
    median_ms: float
    p95_ms: float
    weights: Sequence[float]
    canary_id: str | None = None
    canary_share: float = 0.0
    cost_factor: float = 1.0  # a cost spike: whole e-mail threads sent as the input


def day_starts(now: datetime, days: int) -> list[datetime]:
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def times(rng: random.Random, now: datetime, days: int, per_day: float) -> list[datetime]:
    """Call times over the last ``days`` days (today up to ``now``), ascending."""
    out: list[datetime] = []
    hours = range(24)
    for start in day_starts(now, days):
        n = round(per_day * WEEKDAY[start.weekday()] * rng.uniform(0.9, 1.1))
        for hour in sorted(rng.choices(hours, HOURLY, k=n)):
            t = start + timedelta(hours=hour, seconds=rng.random() * 3600)
            if t < now:
                out.append(t)
    out.sort()
    return out


def call_id(rng: random.Random, at: datetime) -> str:
    """The recorder's id format (ids.new_call_id), ordered by the call's own time."""
    micros = int(at.timestamp() * 1_000_000)
    return f"{micros:014x}{rng.getrandbits(72):018x}"


def latency(rng: random.Random, median_ms: float, p95_ms: float) -> float:
    sigma = math.log(p95_ms / median_ms) / Z95
    return round(rng.lognormvariate(math.log(median_ms), sigma), 1)


def llm_calls(rng: random.Random, when: list[datetime], phases: Sequence[Phase],
              templates: dict[str, list[CallRecord]], *,
              user: Callable[[random.Random], str],
              tags: Callable[[random.Random, CallRecord], dict[str, str]],
              error_rate: float = 0.008) -> Iterator[CallRecord]:
    """Copies of the template records, one per time, shaped by the phase it falls in."""
    phase_at = iter(phases)
    phase = next(phase_at)
    for t in when:
        while t >= phase.end:
            phase = next(phase_at)
        if t < phase.start:
            continue
        release, route = phase.release_id, "primary"
        if phase.canary_id and rng.random() < phase.canary_share:
            release, route = phase.canary_id, "canary"
        pool = templates[release]
        template = pool[rng.choices(range(len(pool)), phase.weights)[0]]
        yield _copy(rng, template, t, phase, release, route, user(rng), tags(rng, template),
                    failed=rng.random() < error_rate)


def _copy(rng: random.Random, template: CallRecord, t: datetime, phase: Phase, release: str,
          route: str, user: str, tags: dict[str, str], *, failed: bool) -> CallRecord:
    fields: dict[str, Any] = {
        "id": call_id(rng, t), "time": t, "env": "production", "release_id": release,
        "route": route, "user_id": user, "tags": tags,
        "latency_ms": latency(rng, phase.median_ms, phase.p95_ms),
    }
    if phase.cost_factor != 1.0 and template.input_tokens:
        fields["input_tokens"] = int(template.input_tokens * phase.cost_factor)
        fields["cost_micro_usd"] = int((template.cost_micro_usd or 0) * phase.cost_factor)
    if failed:
        fields.update(status="error", error="simulated server error", error_kind="server",
                      http_status=503, response=None, output_tokens=0, cost_micro_usd=0,
                      attempt_count=3)
    elif rng.random() < 0.02 and template.model and template.model.endswith("-1"):
        # the primary model timed out; the fallback answered
        fields.update(model=template.model.removesuffix("-1") + "-small", fallback_used=True,
                      attempt_count=2, latency_ms=fields["latency_ms"] * 1.8,
                      cost_micro_usd=(template.cost_micro_usd or 0) // 3)
    return replace(template, **fields)
