"""Sampled scoring of real outputs: a share of each system's calls, scored in the
background by the scorers its ``scoring:`` block chooses.

`trimtab serve` and `trimtab monitor` call ``tick`` for every system with a
``scoring:`` block once per monitor cycle, in the monitor's thread: the caller's
path never waits on a judge. A tick is bounded (it reads at most READ_LIMIT
calls and scores at most ``per_tick``) and resumable: the cursor it moves and
the scores it writes are stored together, so a restarted monitor goes on where
the last one stopped and never scores a call twice.

Which calls are drawn: per release, a seeded coin per call (a hash of the seed,
the system and the call id below the rate) held to the release's share: a
release that fell behind floor(n * rate) draws its next call, one that is a
call ahead draws none. Every release gets its share within one call (a 10-call
canary at 10% gets one, however the coins fall), the positions stay random, so
periodic traffic cannot alias with the draw, and the same seed draws the same
calls again.

The scores are ``scores`` rows (actor ``trimtab:sampled``, the scorer's name,
the call's release, pass/fail), so ``quality_score`` alert rules read them
like any other score; ``by_release`` reads them per release.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.project.models import Project
from trimtab.quality.answers import Answer, Verdict
from trimtab.quality.datasets import Case
from trimtab.quality.judge import Judge
from trimtab.quality.scorers import Scorer, build
from trimtab.store import Store
from trimtab.store import sampling as sampling_store
from trimtab.store.calls import Call
from trimtab.store.sampling import ReleaseQuality

log = logging.getLogger("trimtab.quality.sampling")

#: Calls a tick reads at most (their id, time and release; most are not drawn).
READ_LIMIT = 20_000
#: Calls scored at once within a tick.
CONCURRENCY = 4
#: Text kept in a score's comment.
MAX_DETAIL = 500


def coin(seed: int, system: str, call_id: str) -> float:
    """A call's draw in [0, 1), fixed by the seed."""
    digest = hashlib.sha256(f"{seed}\n{system}\n{call_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def take(seen: int, taken: int, rate: float, draw: float) -> bool:
    """Whether a release's ``seen``-th call is drawn, ``taken`` drawn before it: by
    its coin, within one call of the share, and always when the share is behind."""
    due = math.floor(seen * rate + 1e-9)
    return taken < due or (draw < rate and taken <= due)


@dataclass
class Tick:
    """One tick of one system: what was read, drawn and scored, and whether it was stored
    (False when another monitor stored the same calls first)."""

    system: str
    read: int = 0
    drawn: int = 0
    scored: int = 0
    unscorable: int = 0  # drawn, but the logging mode kept no answer text
    errors: int = 0  # verdicts not stored: the scorer could not judge (a judge's call failed)
    stored: bool = False
    scores: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "scores"} | {
            "scores": [{k: v for k, v in s.items() if k != "system"} for s in self.scores]}


def answer_of(call: Call) -> tuple[Case, Answer] | None:
    """The call as a case and an answer a scorer reads; None when its answer text was
    not kept (logging mode hashed or metadata)."""
    if call.logging_mode not in ("full", "redacted") or call.response is None:
        return None
    stored: Any = call.response  # the answer's text; a message when it called tools
    if stored.startswith("{") and '"role"' in stored:
        try:
            message = json.loads(stored)
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("role") == "assistant":
            stored = message.get("content")
    if not isinstance(stored, str):
        return None
    messages: list[dict[str, Any]] = []
    if call.request:
        try:
            request = json.loads(call.request)
        except ValueError:
            request = None
        if isinstance(request, dict) and isinstance(request.get("messages"), list):
            messages = [m for m in request["messages"] if isinstance(m, dict)]
    tags = json.loads(call.tags) if call.tags else {}
    case = Case(id=call.id, line=0, messages=messages or None,
                tags={k: str(v) for k, v in tags.items()} if isinstance(tags, dict) else {})
    cost = None if call.cost_micro_usd is None else _usd(call.cost_micro_usd)
    return case, Answer(stored, latency_ms=call.latency_ms, cost_usd=cost,
                        input_tokens=call.input_tokens, output_tokens=call.output_tokens,
                        messages=messages, model=call.model, fallback_used=call.fallback_used)


def _usd(micro: int):
    from decimal import Decimal

    return Decimal(micro) / Decimal(1_000_000)


def scorers_for(project: Project, system: str) -> list[Scorer]:
    spec = project.system(system).scoring
    if spec is None:
        raise TrimtabError(f"system {system!r} has no `scoring:` block. Fix: add one (see "
                           "docs/evals.md, Sampled scoring of real outputs).")
    built = []
    for i, scorer_spec in enumerate(spec.scorers):
        scorer = build(scorer_spec, project.root,
                       lambda s: Judge(s, project.root, project.provider(s.provider)))
        if scorer.needs_expected:
            raise TrimtabError(f"{project.path.name}: systems.{system}.scoring.scorers[{i}]: "
                               f"the {scorer.name} scorer needs an expected answer, which a "
                               "real call does not have. Fix: choose another scorer.")
        built.append(scorer)
    return built


def tick(store: Store, project: Project, system: str, *,
         now: datetime | None = None) -> Tick:
    """Draw and score the next calls of ``system``; store them with the cursor."""
    spec = project.system(system).scoring
    if spec is None:
        raise TrimtabError(f"system {system!r} has no `scoring:` block.")
    rate = spec.rate
    env = spec.env or project.production
    until = (now or datetime.now(UTC)) - spec.settle_delta
    with store.read() as conn:
        was = sampling_store.cursor(conn, system)
        found = sampling_store.candidates(conn, system=system, env=env, after=was,
                                          until=until, limit=READ_LIMIT)
        counted = sampling_store.counts(conn, system)
    result = Tick(system)
    if not found:
        return result
    chosen: list[str] = []
    last = found[-1]
    for call_id, moment, release in found:
        seen, taken = counted.get(release, (0, 0))
        seen += 1
        if take(seen, taken, rate, coin(spec.seed, system, call_id)):
            taken += 1
            chosen.append(call_id)
        counted[release] = (seen, taken)
        result.read += 1
        if len(chosen) >= spec.per_tick:
            last = (call_id, moment, release)
            break
    with store.read() as conn:
        picked = sampling_store.calls_by_id(conn, chosen)
    result.drawn = len(picked)
    rows: list[dict[str, Any]] = []
    if picked:
        scorers = scorers_for(project, system)
        scored = asyncio.run(_score_all(scorers, picked))
        for call, verdicts in scored:
            if verdicts is None:
                result.unscorable += 1
                continue
            result.scored += 1
            for name, verdict in verdicts.items():
                if verdict.error:
                    result.errors += 1
                    log.warning("sampled scoring of %s: %s on call %s: %s", system, name,
                                call.id, verdict.detail)
                    continue
                rows.append(_row(call, name, verdict))
    summary = {"env": env, "read": result.read, "drawn": result.drawn, "scored": result.scored,
               "unscorable": result.unscorable, "errors": result.errors, "rate": rate,
               "seed": spec.seed, "through": last[0]}
    with store.write() as conn:
        result.stored = sampling_store.advance(conn, system, was=was, to=(last[1], last[0]),
                                               counted=counted, rows=rows, summary=summary)
    if result.stored:
        result.scores = rows
    else:
        log.info("scoring of %s: another monitor stored these calls first", system)
    return result


def _row(call: Call, name: str, verdict: Verdict) -> dict[str, Any]:
    detail = verdict.detail[:MAX_DETAIL] or None
    return {"call_id": call.id, "system": call.system, "env": call.env, "name": name,
            "value": float(verdict.score), "comment": detail, "release_id": call.release_id,
            "passed": verdict.passed}


async def _score_all(scorers: list[Scorer], picked: list[Call]
                     ) -> list[tuple[Call, dict[str, Verdict] | None]]:
    bound = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Call) -> tuple[Call, dict[str, Verdict] | None]:
        made = answer_of(call)
        if made is None:
            return call, None
        case, answer = made
        async with bound:
            return call, {s.name: await s.score(case, answer) for s in scorers}

    try:
        return list(await asyncio.gather(*(one(c) for c in picked)))
    finally:
        for scorer in scorers:
            await scorer.aclose()


def tick_all(store: Store, project: Project, *, now: datetime | None = None) -> list[Tick]:
    """A tick of every system with a ``scoring:`` block; one failing system is logged
    and the others still run (the monitor's loop must outlive any one failure)."""
    done = []
    for name, system in project.spec.systems.items():
        if system.scoring is None:
            continue
        try:
            done.append(tick(store, project, name, now=now))
        except TrimtabError as exc:
            log.error("sampled scoring of %s skipped: %s", name, exc)
        except Exception:  # noqa: BLE001
            log.exception("sampled scoring of %s failed", name)
    return done


def by_release(store: Store, system: str, *, window: timedelta = timedelta(days=7),
               end: datetime | None = None, name: str | None = None) -> list[ReleaseQuality]:
    """``quality_score`` per release: each sampled scorer's mean and passes over ``window``."""
    if window <= timedelta(0):
        raise TrimtabError("the window must be positive (e.g. 24h, 7d).")
    end = end or datetime.now(UTC)
    with store.read() as conn:
        return sampling_store.by_release(conn, system=system, start=end - window, end=end,
                                         name=name)
