"""The demo's story: four weeks in the life of four systems, told through the
public Workspace API.

Changes (releases, evals, promotions, the rollback, approvals, the incident)
happen now, in the order a team would have made them; the production traffic
they shaped is back-dated over the weeks before (``history.py``), and the
alert, drift and label checks that watched it run at the moments they would
have run. Each system ends at a different maturity stage, so ``trimtab
assess`` has something to say about each.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from trimtab.actor import acting_as
from trimtab.demo import history
from trimtab.demo.history import Phase
from trimtab.demo.project import (
    COMPLAINTS,
    NEW_LINE_COMPLAINTS,
    QUESTIONS,
    REQUESTS,
    edit,
)

if TYPE_CHECKING:
    from trimtab.recorder.records import CallRecord
    from trimtab.workspace import Workspace

DAYS = 28
ROUTER, ASSISTANT, TRIAGE, CHURN = (
    "complaint-router", "compliance-assistant", "customer-triage", "churn-model")
MARIA = "maria.quality@manufacturer.example"
RITA = "rita.reviewer@manufacturer.example"
JONAS = "jonas.engineer@bank.example"
PETRA = "petra.risk@bank.example"
LENA = "lena.ops@logistics.example"
DEV = "dev.data@logistics.example"
#: Calls a day at scale 1 (a weekday; weekends are quieter).
PER_DAY = {ROUTER: 420, ASSISTANT: 160, TRIAGE: 900, CHURN: 520}

Progress = Callable[[str, float], None]


@dataclass
class Story:
    """What the demo made, for the CLI to print and the tests to check."""

    directory: Path
    releases: dict[str, list[str]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    labels: int = 0
    failed_gate: str = ""
    pending_approval: str = ""
    incidents: list[str] = field(default_factory=list)
    stages: dict[str, tuple[int, int]] = field(default_factory=dict)


def build(ws: Workspace, *, scale: float = 1.0, seed: int = 7,
          progress: Progress | None = None, now: datetime | None = None) -> Story:
    """Tell the whole story in ``ws`` (a workspace on an empty demo directory,
    whose files ``write_files`` wrote); ``progress(what, share)`` hears each step."""
    step = progress or (lambda what, share: None)
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    story = Story(ws.root)
    root = ws.root
    days = history.day_starts(now, DAYS)

    step("registering four systems", 0.02)
    with acting_as(MARIA):
        ws.sync()
    templates: dict[str, list[CallRecord]] = {}
    capture = _Capture()
    ws.subscribe(capture)

    step("complaint-router: three releases, a rollback", 0.08)
    router = _router(ws, root, capture, templates, story)
    step("compliance-assistant: approvals and a failing gate", 0.08)
    assistant = _assistant(ws, root, capture, templates, story)
    step("customer-triage: a hotfix and a canary", 0.05)
    triage = _triage(ws, root, capture, templates, story)
    with acting_as(DEV):
        churn, _ = ws.release(CHURN, note="retrained on 2026-Q3 renewals")
        for env in ("dev", "staging"):
            ws.promote(CHURN, churn.id, env, reason="batch scoring job reads it")
    story.releases[CHURN] = [churn.id]
    ws.unsubscribe(capture)

    step("back-dating four weeks of production traffic", 0.02)
    records = _traffic(rng, now, days, scale, templates, router, assistant, triage)
    emitted, shown = 0, 0.0
    total = max(1, sum(len(r) for r in records.values()))
    for system, batch in records.items():
        story.calls[system] = len(batch)
        for record in batch:
            ws.emit(record)
            emitted += 1
            if emitted % 5000 == 0:
                shown += 0.35 * 5000 / total
                step("back-dating four weeks of production traffic", 0.35 * 5000 / total)
    step("back-dating four weeks of production traffic", 0.35 - shown)
    predictions = _predictions(ws, rng, now, days, scale)
    story.calls[CHURN] = len(predictions)
    step("writing calls to the store", 0.05)
    if not ws.flush(timeout=300):
        raise RuntimeError("demo: the recorder did not write the calls within 5 minutes")

    step("labels arriving for churn predictions", 0.08)
    story.labels = _labels(ws, rng, now, predictions)
    step("alerts, drift and reviews over the weeks", 0.08)
    _watch(ws, rng, now, days, story)
    step("documents, drills and the maturity assessment", 0.05)
    _governance(ws, now, days, story)
    with acting_as(MARIA):
        for ranked in ws.portfolio():
            a = ranked.assessment
            story.stages[a.system] = (a.stage, a.target)
    step("done", 0.14)
    return story


class _Capture:
    """Keeps the records of the calls the story makes in dev: the templates."""

    def __init__(self) -> None:
        self.records: list[CallRecord] = []

    def __call__(self, record: CallRecord) -> None:
        self.records.append(record)

    def take(self) -> list[CallRecord]:
        taken, self.records = self.records, []
        return taken


def _run_in_dev(ws: Workspace, capture: _Capture, system: str, release: str,
                inputs: list[dict], templates: dict[str, list[CallRecord]], user: str,
                env: str = "dev") -> None:
    """Each input through the release in dev, once, concurrently: real calls through
    the SDK and the simulated provider, kept (in input order) as the templates."""
    import asyncio

    client = ws.system(system, env=env)
    capture.take()

    async def run_all() -> None:
        await asyncio.gather(*(client.arun(v, user=user, tags={"case": str(i)})
                               for i, v in enumerate(inputs)))

    ws.caller.run_sync(run_all())
    by_case = {r.tags["case"]: r for r in capture.take() if r.system == system and r.tags}
    templates[release] = [replace_tags(by_case[str(i)]) for i in range(len(inputs))]


def replace_tags(record: CallRecord) -> CallRecord:
    from dataclasses import replace

    return replace(record, tags=None)


def _promote_through(ws: Workspace, system: str, release: str, reason: str) -> object:
    for env in ("dev", "staging"):
        ws.promote(system, release, env, reason=reason)
    return ws.promote(system, release, "production", reason=reason)


# --- the systems ----------------------------------------------------------------------


def _router(ws, root: Path, capture, templates, story) -> dict[str, str]:
    inputs = [{"customer": f"customer-{i}", "product": "K-300" if text in NEW_LINE_COMPLAINTS
               else f"K-{200 + i % 3}", "text": text}
              for i, text in enumerate(COMPLAINTS + NEW_LINE_COMPLAINTS)]
    made = {}
    with acting_as(MARIA):
        for key, note in (("r1", "first release"), ("r2", "few-shot examples in the prompt"),
                          ("r3", "shorter few-shot block, same routing")):
            if key == "r2":
                edit(root / "prompts/complaint-router.system.md", "one short sentence}.\n",
                     "one short sentence}.\nExamples:\n- 'The lid leaks' -> packaging, "
                     "medium.\n- 'It sparks' -> electrical, high.\n")
                edit(root / "trimtab.yaml", "{median_ms: 60, p95_ms: 160}",
                     "{median_ms: 180, p95_ms: 360}")
            if key == "r3":
                edit(root / "prompts/complaint-router.system.md",
                     "- 'The lid leaks' -> packaging, medium.\n", "")
                edit(root / "trimtab.yaml", "{median_ms: 180, p95_ms: 360}",
                     "{median_ms: 64, p95_ms: 170}")
            release, _ = ws.release(ROUTER, note=note)
            made[key] = release.id
            ws.eval(ROUTER, release=release.id)
            ws.promote(ROUTER, release.id, "dev", reason=note)
            _run_in_dev(ws, capture, ROUTER, release.id, inputs, templates, MARIA)
            ws.promote(ROUTER, release.id, "staging", reason=note)
            ws.promote(ROUTER, release.id, "production", reason=note)
            if key == "r2":
                ws.rollback(ROUTER, "production", reason="p95 latency tripled with the "
                            "few-shot prompt (alert router-p95)")
    story.releases[ROUTER] = list(made.values())
    return made


def _assistant(ws, root: Path, capture, templates, story) -> dict[str, str]:
    inputs = [{"department": d, "question": q} for d, q in QUESTIONS]
    made = {}
    yaml = root / "trimtab.yaml"
    with acting_as(JONAS):
        r1, _ = ws.release(ASSISTANT, note="pilot with the retail branches")
        made["r1"] = r1.id
        ws.eval(ASSISTANT, release=r1.id)
        ws.promote(ASSISTANT, r1.id, "dev", reason="pilot")
        _run_in_dev(ws, capture, ASSISTANT, r1.id, inputs, templates, JONAS)
        request = _promote_through(ws, ASSISTANT, r1.id, "pilot with the retail branches")
    with acting_as(PETRA):
        ws.approve(request.id, comment="eval green, runbook reviewed")

    # A cheaper model that forgets the sanctions rules: the gate refuses it.
    edit(yaml, "model: sim-assistant-1", "model: sim-assistant-mini")
    edit(yaml, _SANCTIONS, "")
    from trimtab.quality.gates import GateClosed

    with acting_as(JONAS):
        r2, _ = ws.release(ASSISTANT, note="cheaper model (sim-assistant-mini)")
        made["r2"] = r2.id
        ws.eval(ASSISTANT, release=r2.id)
        try:
            _promote_through(ws, ASSISTANT, r2.id, "halve the cost")
        except GateClosed as closed:
            story.failed_gate = str(closed)
    edit(yaml, "model: sim-assistant-mini", "model: sim-assistant-1")  # reverted
    edit(yaml, "          - when: [cash,", _SANCTIONS + "          - when: [cash,")
    edit(root / "prompts/compliance-assistant.system.md", "Never give legal advice",
         "Quote the policy id first. Never give legal advice")
    with acting_as(JONAS):
        r3, _ = ws.release(ASSISTANT, note="quote the policy id first")
        made["r3"] = r3.id
        ws.eval(ASSISTANT, release=r3.id)
        ws.promote(ASSISTANT, r3.id, "dev", reason="policy ids")
        _run_in_dev(ws, capture, ASSISTANT, r3.id, inputs, templates, JONAS)
        request = _promote_through(ws, ASSISTANT, r3.id, "staff asked for the policy id")
    with acting_as(PETRA):
        ws.approve(request.id, comment="checked ten answers by hand")
    edit(root / "prompts/compliance-assistant.system.md", "two sentences}",
         "two sentences in the staff member's language}")
    with acting_as(JONAS):
        r4, _ = ws.release(ASSISTANT, note="answer in the staff member's language")
        made["r4"] = r4.id
        ws.eval(ASSISTANT, release=r4.id)
        pending = _promote_through(ws, ASSISTANT, r4.id, "German-speaking branches join")
    story.pending_approval = pending.id
    story.releases[ASSISTANT] = list(made.values())
    return made


_SANCTIONS = ("          - when: [sanction, embargo, russia, iran]\n"
              "            reply: {topic: sanctions, policy: SP-2.1, answer: \"Stop the payment "
              "and escalate to the sanctions desk at once.\"}\n")


def _triage(ws, root: Path, capture, templates, story) -> dict[str, str]:
    inputs = [{"channel": channel, "customer": f"customer-{i}", "text": text}
              for i, (channel, text) in enumerate(REQUESTS)]
    made = {}
    with acting_as(LENA):
        r1, _ = ws.release(TRIAGE, note="launch")
        made["r1"] = r1.id
        # Straight to production, the night the old rules broke: what keeps it at stage 1.
        ws.promote(TRIAGE, r1.id, "production", skip_order=True,
                   reason="hotfix: the old rules broke on the new contact form")
        _run_in_dev(ws, capture, TRIAGE, r1.id, inputs, templates, LENA, env="production")
        edit(root / "prompts/customer-triage.system.md", "Be polite and brief.",
             "Be polite and brief. Give the tracking link when there is one.")
        r2, _ = ws.release(TRIAGE, note="tracking link in delivery replies")
        made["r2"] = r2.id
        ws.promote(TRIAGE, r2.id, "dev", reason="tracking links")
        _run_in_dev(ws, capture, TRIAGE, r2.id, inputs, templates, LENA)
        ws.promote(TRIAGE, r2.id, "staging", reason="tracking links")
        ws.promote(TRIAGE, r2.id, "production", canary=20, reason="tracking links, 20% first")
    story.releases[TRIAGE] = list(made.values())
    return made


# --- the traffic --------------------------------------------------------------------


def _traffic(rng: random.Random, now: datetime, days: list[datetime], scale: float,
             templates, router: dict[str, str], assistant: dict[str, str],
             triage: dict[str, str]) -> dict[str, list[CallRecord]]:
    end = now + timedelta(seconds=1)
    d = days
    old = [1.0] * len(COMPLAINTS) + [0.0] * len(NEW_LINE_COMPLAINTS)
    drifted = [1.0] * len(COMPLAINTS) + [3.5] * len(NEW_LINE_COMPLAINTS)  # the K-300 launch
    router_phases = [
        Phase(d[0], d[14], router["r1"], 300, 800, old),
        Phase(d[14], d[17] + timedelta(hours=10), router["r2"], 900, 1800, old),
        Phase(d[17] + timedelta(hours=10), d[21], router["r1"], 300, 800, old),
        Phase(d[21], d[-4], router["r3"], 320, 850, old),
        Phase(d[-4], end, router["r3"], 320, 850, drifted),
    ]
    even_q = [1.0] * len(QUESTIONS)
    assistant_phases = [
        Phase(d[0], d[18], assistant["r1"], 250, 700, even_q),
        Phase(d[18], end, assistant["r3"], 250, 700, even_q),
    ]
    even_r = [3, 2, 2, 1, 2, 1, 1, 1]
    triage_phases = [
        Phase(d[0], d[-10], triage["r1"], 200, 600, even_r),
        Phase(d[-10], d[-9], triage["r1"], 260, 900, even_r, cost_factor=9.0),  # the spike
        Phase(d[-9], d[-3], triage["r1"], 200, 600, even_r),
        Phase(d[-3], end, triage["r1"], 200, 600, even_r, canary_id=triage["r2"],
              canary_share=0.2),
    ]
    plants = ("linz", "brno", "graz")
    return {
        ROUTER: list(history.llm_calls(
            rng, history.times(rng, now, DAYS, PER_DAY[ROUTER] * scale), router_phases,
            templates, user=lambda r: f"agent-{r.randrange(1, 13):02d}",
            tags=lambda r, t: {"channel": r.choice(("email", "phone", "web")),
                               "plant": r.choice(plants)})),
        ASSISTANT: list(history.llm_calls(
            rng, history.times(rng, now, DAYS, PER_DAY[ASSISTANT] * scale), assistant_phases,
            templates, user=lambda r: f"staff-{r.randrange(1, 240):04d}",
            tags=lambda r, t: {"department": str((t.request or {}).get("department", "?"))
                               if isinstance(t.request, dict) else "?"})),
        TRIAGE: list(history.llm_calls(
            rng, history.times(rng, now, DAYS, PER_DAY[TRIAGE] * scale), triage_phases,
            templates, user=lambda r: f"cust-{r.randrange(1, 5000):05d}",
            tags=lambda r, t: {"channel": r.choice(("email", "chat", "web"))})),
    }


def _predictions(ws, rng: random.Random, now: datetime, days: list[datetime],
                 scale: float) -> list[tuple[str, datetime, str, str]]:
    """The churn model's predictions, recorded with ws.record as the scoring job
    makes them: (call id, time, customer id, predicted class)."""
    out = []
    plans = ("basic", "plus", "business")
    for n, t in enumerate(history.times(rng, now, DAYS, PER_DAY[CHURN] * scale)):
        late = rng.random() < (0.45 if t >= days[-7] else 0.2)  # a rough fortnight for delivery
        features = {"tenure_months": rng.randint(1, 72), "plan": rng.choice(plans),
                    "monthly_spend": round(rng.lognormvariate(3.4, 0.5), 2),
                    "tickets_90d": rng.choice((0, 0, 0, 1, 1, 2, 3, 5)),
                    "late_deliveries_90d": rng.randint(1, 6) if late else 0}
        p = min(0.97, 0.08 + 0.07 * features["tickets_90d"]
                + 0.09 * features["late_deliveries_90d"] + rng.random() * 0.2)
        predicted = "yes" if p >= 0.4 else "no"
        customer = f"C-{10000 + n}"
        call = ws.record(CHURN, features, {"churn": predicted, "p": round(p, 3)},
                         round(rng.uniform(2.0, 9.0), 2), env="production",
                         model="churn-gbm-2026q3", user="scoring-job",
                         tags={"customer_id": customer}, time=t,
                         id=history.call_id(rng, t))
        out.append((call, t, customer, predicted))
    return out


def _labels(ws, rng: random.Random, now: datetime,
            predictions: list[tuple[str, datetime, str, str]]) -> int:
    """The truth arrives at the renewal date, a week after the prediction: daily
    batches by call id, the newest one as the CRM's CSV export keyed by customer."""
    by_day: dict[datetime, list[tuple[str, str, str]]] = defaultdict(list)
    for call, t, customer, predicted in predictions:
        known = t + timedelta(days=7)
        if known >= now:
            continue
        truth = predicted if rng.random() < 0.84 else ("no" if predicted == "yes" else "yes")
        by_day[known.replace(hour=18, minute=0, second=0, microsecond=0)].append(
            (call, customer, truth))
    stored = 0
    arrivals = sorted(by_day)
    with acting_as(DEV):
        for at in arrivals[:-1]:
            stored += ws.label({call: truth for call, _, truth in by_day[at]},
                               system=CHURN, output_field="churn", at=min(at, now)).new
        if arrivals:
            at = arrivals[-1]
            export = ws.root / "labels" / f"renewals-{at:%Y-%m-%d}.csv"
            export.parent.mkdir(exist_ok=True)
            with open(export, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["customer_id", "label"])
                writer.writerows((customer, truth) for _, customer, truth in by_day[at])
            stored += ws.label_file(export, system=CHURN, key="customer_id", output_field="churn",
                                    at=min(at, now)).new
    return stored


# --- watching it ----------------------------------------------------------------------


def _watch(ws, rng: random.Random, now: datetime, days: list[datetime], story: Story) -> None:
    """What the monitor and the team did over the weeks, at the times they did it."""
    moments = [days[15] + timedelta(hours=11), days[17] + timedelta(hours=15),
               days[-10] + timedelta(hours=23), days[-8] + timedelta(hours=12)]
    with acting_as(MARIA):
        for moment in moments:
            if moment < now:
                ws.check_alerts(now=moment)
        ws.drift_baseline(ROUTER, env="production", since=days[0], until=days[7],
                          name="launch-weeks")
        ws.drift(ROUTER, env="production", current=timedelta(days=3), end=days[-4])
        ws.drift(ROUTER, env="production", current=timedelta(days=3), end=now)
        incident = ws.open_incident(
            ROUTER, severity="medium", summary="Complaints routed late while r2 was live "
            "(p95 over 1.5 s)", aware_at=days[15] + timedelta(hours=11, minutes=20))
        ws.note_incident(incident.id, "router-p95 fired; the few-shot prompt triples latency")
        ws.note_incident(incident.id, "rolled production back to r1; p95 back under 800 ms")
        ws.close_incident(incident.id, root_cause="few-shot examples doubled the prompt",
                          actions="r3 keeps one example; latency is in the eval suite now")
        story.incidents.append(incident.id)
    with acting_as(LENA):
        incident = ws.open_incident(
            TRIAGE, severity="high", summary="Canary drafts quoted another customer's "
            "address in redirect replies", categories=["personal-data-breach"],
            aware_at=now - timedelta(hours=20))
        ws.note_incident(incident.id, "3 drafts found by the support lead; agents had not "
                         "sent them")
        ws.note_incident(incident.id, "DPO informed; checking whether the 72 h notice applies")
        story.incidents.append(incident.id)
    _reviews(ws, rng, now)
    with acting_as(MARIA):
        ws.check_alerts(now=now)


def _reviews(ws, rng: random.Random, now: datetime) -> None:
    """Three weekly samples of the router's production calls, worked by a reviewer."""
    weeks = sorted({(now - timedelta(weeks=w)).strftime("%G-W%V") for w in range(3)})
    with acting_as(MARIA):
        for week in weeks:
            ws.review_sample(ROUTER, week=week, seed=rng.randrange(1000))
    with acting_as(RITA):
        for _ in range(36):
            pending = ws.review_next(ROUTER)
            if pending is None:
                break
            answer = pending.call.response if isinstance(pending.call.response, dict) else {}
            wrong = "app" in str(pending.call.request).lower() and rng.random() < 0.7
            if wrong:
                ws.review(pending.call.id, "fail", score=2, labels=["wrong-team"],
                          comment="app problems belong to the firmware team, not electrical")
            else:
                ws.review(pending.call.id, "pass", score=rng.choice((4, 5, 5)),
                          labels=[str(answer.get("team", "other"))])


def _governance(ws, now: datetime, days: list[datetime], story: Story) -> None:
    with acting_as(PETRA):
        ws.documents(ASSISTANT)
        ws.record_drill(ASSISTANT, scenario="wrong sanctions answer reached staff",
                        participants=[PETRA, JONAS, "oncall@bank.example"],
                        findings="suspend took 40 s; the runbook lacked the on-call number",
                        held_at=days[10] + timedelta(hours=14), restore_minutes=6)


def systems_in(story: Story) -> Iterable[str]:
    return (ROUTER, ASSISTANT, TRIAGE, CHURN)
