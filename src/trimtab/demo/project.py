# ruff: noqa: E501 - the project file below keeps one simulated answer a line, as a team would
"""The demo's project: four systems of three companies, their prompts, eval sets
and runbook, written as files a team would keep in Git.

Each system starts from the files here and the story (``story.py``) edits them
between releases, as a team would; the files on disk end as the newest release.
"""

from __future__ import annotations

import json
from pathlib import Path

PROJECT_YAML = """\
# trimtab.yaml of `trimtab demo`: four systems of three companies, served by the
# built-in simulated provider (offline). Reference: docs/project-file.md
version: 1
project: trimtab-demo
environments: [dev, staging, production]
allow_simulated: [dev, staging, production]
providers: {}

# Two-person rule for high-risk systems: a production promotion applies once
# someone other than the requester approves it.
policies:
  production:
    approvals: 1
    risk: [high]

# The webhook points nowhere on purpose: set it to your chat tool.
channels:
  team: {kind: webhook, url: "http://127.0.0.1:9/trimtab-demo", retries: 0, timeout: 1}

alerts:
  router-p95:
    system: complaint-router
    env: production
    metric: latency_p95
    window: 1h
    comparator: ">"
    threshold: 1500
    channels: [team]
  router-p99: {system: complaint-router, env: production, metric: latency_p99, window: 1h,
               comparator: ">", threshold: 4000, channels: [team]}
  router-errors: {system: complaint-router, env: production, metric: error_rate, window: 1h,
                  comparator: ">", threshold: 0.05, channels: [team]}
  router-quality: {system: complaint-router, metric: quality_score, score: review, window: 30d,
                   comparator: "<", threshold: 0.7, channels: [team]}
  router-inputs: {system: complaint-router, metric: drift, window: 2d, comparator: ">=",
                  threshold: 0.5, channels: [team]}
  triage-spend:
    system: customer-triage
    metric: spend_per_day
    window: 24h
    comparator: ">"
    threshold: 0.1      # USD; a normal day spends about 0.03
    severity: critical
    channels: [team]
  churn-accuracy: {system: churn-model, metric: accuracy, window: 7d, comparator: "<",
                   threshold: 0.75, channels: [team]}

systems:
  complaint-router:
    description: Routes quality complaints at a manufacturer to the team that owns the defect.
    owner: quality-team@manufacturer.example
    tier: 1
    risk: limited
    customer_facing: false
    target_stage: 3
    logging: redacted
    review: {per_week: 20}
    release:
      provider: simulated
      model: sim-router-1
      params: {temperature: 0, max_tokens: 200, response_format: json}
      prompts:
        system: prompts/complaint-router.system.md
        user: prompts/complaint-router.user.md
      fallbacks:
        - {provider: simulated, model: sim-router-small}
      simulate:
        latency: {median_ms: 60, p95_ms: 160}
        price_as: gpt-4o-mini
        rules:
          - when: [spark, smoke, shock, burn, fire]
            reply: {team: electrical, severity: high, reason: "Mentions '{{keyword}}': a possible hazard."}
          - when: [battery, charger, cable, plug, power, bluetooth, pairing, app]
            reply: {team: electrical, severity: medium, reason: "Mentions '{{keyword}}': an electrical defect."}
          - when: [leak, seal, drip, spill, dent]
            reply: {team: packaging, severity: medium, reason: "Mentions '{{keyword}}': a packaging defect."}
          - when: [hinge, crack, broke, gear, rattle]
            reply: {team: mechanical, severity: medium, reason: "Mentions '{{keyword}}': a mechanical defect."}
        default: {team: other, severity: low, reason: No known defect keyword; needs a person.}
    evals:
      routing:
        dataset: evals/complaint-router.jsonl
        concurrency: 32
        scorers:
          - {type: json}
          - {type: exact, field: team, threshold: 0.95}
          - {type: classification, field: severity, metric: macro_f1, threshold: 0.9}
        fairness:
          - {tag: channel, max_gap: 0.1}
        gate: {environments: [production]}

  compliance-assistant:
    description: Answers bank staff questions on internal compliance rules, citing the policy.
    owner: compliance-office@bank.example
    tier: 1
    risk: high
    customer_facing: false
    logging: redacted
    release:
      provider: simulated
      model: sim-assistant-1
      params: {temperature: 0, max_tokens: 400, response_format: json}
      prompts:
        system: prompts/compliance-assistant.system.md
        user: prompts/compliance-assistant.user.md
      simulate:
        latency: {median_ms: 50, p95_ms: 140}
        price_as: gpt-4o
        rules:
          - when: [gift, hospitality, dinner, ticket]
            reply: {topic: gifts, policy: GP-4.2, answer: "Gifts above EUR 50 need line-manager approval and a register entry."}
          - when: [sanction, embargo, russia, iran]
            reply: {topic: sanctions, policy: SP-2.1, answer: "Stop the payment and escalate to the sanctions desk at once."}
          - when: [cash, deposit, structuring, smurfing]
            reply: {topic: aml, policy: AML-3.4, answer: "File an internal suspicious activity report within 24 hours."}
          - when: [trade, shares, insider, blackout]
            reply: {topic: trading, policy: PT-1.3, answer: "Personal trades need pre-clearance; none during blackout periods."}
        default: {topic: other, policy: none, answer: "Ask the compliance office; this is not covered by a policy I know."}
    evals:
      answers:
        dataset: evals/compliance-assistant.jsonl
        concurrency: 32
        scorers:
          - {type: json}
          - {type: exact, field: topic, threshold: 0.95}
          - {type: exact, field: policy, threshold: 0.95}
        gate: {environments: [production]}

  customer-triage:
    description: Sorts customer requests at a logistics firm and drafts the first reply.
    owner: customer-ops@logistics.example
    tier: 1
    risk: limited
    customer_facing: true
    logging: redacted
    release:
      provider: simulated
      model: sim-triage-1
      params: {temperature: 0.2, max_tokens: 300, response_format: json}
      prompts:
        system: prompts/customer-triage.system.md
        user: prompts/customer-triage.user.md
      simulate:
        latency: {median_ms: 40, p95_ms: 120}
        price_as: gpt-4o-mini
        rules:
          - when: [late, delay, where, tracking]
            reply: {queue: delivery, priority: normal, draft: "Your parcel is on its way; here is the tracking link."}
          - when: [damaged, broken, crushed, wet]
            reply: {queue: claims, priority: high, draft: "Sorry about the damage; please send a photo and we open a claim."}
          - when: [invoice, charge, refund, bill]
            reply: {queue: billing, priority: normal, draft: "Our billing team checks the charge and replies within a day."}
          - when: [address, redirect, neighbour, pickup]
            reply: {queue: changes, priority: normal, draft: "We can redirect the parcel; confirm the new address here."}
        default: {queue: general, priority: low, draft: "Thanks for writing; a colleague replies soon."}

  churn-model:
    description: Scores which subscription customers will not renew (scikit-learn gradient boosting).
    owner: data-team@logistics.example
    kind: classic
    tier: 3
    risk: minimal
    logging: full
    release:
      params: {threshold: 0.4}
      artefacts:
        model: models/churn.joblib
"""

PROMPTS = {
    "complaint-router.system.md": (
        "You route customer quality complaints for a manufacturer.\n"
        'Answer with JSON: {"team": one of "packaging", "electrical", "mechanical", "other",\n'
        '"severity": one of "low", "medium", "high", "reason": one short sentence}.\n'),
    "complaint-router.user.md": (
        "Complaint from {{customer}} about product {{product}}:\n\n{{text}}\n"),
    "compliance-assistant.system.md": (
        "You answer bank staff questions on the bank's internal compliance policies.\n"
        'Answer with JSON: {"topic", "policy": the policy id, "answer": two sentences}.\n'
        "Never give legal advice; name the policy you rely on.\n"),
    "compliance-assistant.user.md": "Question from {{department}}:\n\n{{question}}\n",
    "customer-triage.system.md": (
        "You sort customer requests for a parcel delivery company and draft a first reply.\n"
        'Answer with JSON: {"queue", "priority", "draft"}. Be polite and brief.\n'),
    "customer-triage.user.md": "Request via {{channel}} from {{customer}}:\n\n{{text}}\n",
}

#: Complaints the router sees, by share of traffic before the new product line.
COMPLAINTS = [
    "The charger sparks when I plug it in.",
    "The seal on lid 4 leaks after a day.",
    "The hinge broke on the second use.",
    "Battery drains overnight even when switched off.",
    "Box arrived dented and the bottle had spilled.",
    "Wrong colour delivered, please exchange.",
    "It rattles when the fan spins up.",
    "There is smoke coming from the power supply!",
    "The gear grinds and a tooth is cracked.",
    "The cable got very hot near the plug.",
]
#: After the K-300 launch (the drift event): app and pairing complaints arrive.
NEW_LINE_COMPLAINTS = [
    "The K-300 app does not find the device.",
    "Bluetooth pairing fails after the update.",
    "The app shows the wrong temperature.",
    "Pairing works but the app crashes on start.",
]
QUESTIONS = [
    ("retail banking", "A client offered me concert tickets, may I accept the gift?"),
    ("payments", "A payment to a supplier in Iran came in, what do I do about sanctions?"),
    ("branch", "A customer deposits cash just under the limit every day, is that structuring?"),
    ("treasury", "Can I buy shares of a client during the blackout period?"),
    ("hr", "Is a team dinner paid by a vendor hospitality I must register?"),
    ("payments", "An embargo list hit came up on a transfer, who decides?"),
    ("retail banking", "Which form do I use for a new savings product?"),
    ("markets", "My partner wants to trade shares of a company we advise, insider rules?"),
]
REQUESTS = [
    ("email", "My parcel is late, where is it? Tracking says nothing."),
    ("chat", "The box arrived crushed and the vase inside is broken."),
    ("email", "I was charged twice on my invoice, please refund."),
    ("web", "Can you redirect my parcel to my neighbour at number 12?"),
    ("chat", "Delivery delay again, third time this month."),
    ("email", "The parcel was left outside and got wet."),
    ("web", "I want to change the address for tomorrow's pickup."),
    ("chat", "Do you deliver on Sundays?"),
]


def _router_cases() -> list[dict]:
    rows = [
        ("The charger sparks when I plug it in.", "electrical", "high"),
        ("The seal on the lid leaks after a day.", "packaging", "medium"),
        ("The hinge broke on the second use.", "mechanical", "medium"),
        ("Battery drains overnight even when switched off.", "electrical", "medium"),
        ("Box arrived dented and the bottle had spilled.", "packaging", "medium"),
        ("Wrong colour delivered, please exchange.", "other", "low"),
        ("It rattles when the fan spins up.", "mechanical", "medium"),
        ("There is smoke coming from the power supply!", "electrical", "high"),
        ("Drip marks all over the carton when it arrived.", "packaging", "medium"),
        ("Invoice shows the wrong address.", "other", "low"),
        ("Got a mild shock touching the casing.", "electrical", "high"),
        ("The handle cracked after a week.", "mechanical", "medium"),
    ]
    return [{"id": f"c{i + 1:02d}",
             "variables": {"customer": "Ana", "product": "K-200", "text": text},
             "expected": {"team": team, "severity": severity},
             "tags": {"channel": "email" if i % 2 == 0 else "phone"}}
            for i, (text, team, severity) in enumerate(rows)]


def _assistant_cases() -> list[dict]:
    rows = [
        ("May I accept a gift of two football tickets from a client?", "gifts", "GP-4.2"),
        ("A transfer goes to a company on the Russia sanctions list.", "sanctions", "SP-2.1"),
        ("A customer splits cash deposits to stay under the limit.", "aml", "AML-3.4"),
        ("Can I trade shares during the blackout period?", "trading", "PT-1.3"),
        ("A vendor invites the team to a hospitality event.", "gifts", "GP-4.2"),
        ("The payment matched an embargo list entry.", "sanctions", "SP-2.1"),
        ("Someone deposits cash for a third party every week.", "aml", "AML-3.4"),
        ("Does insider information cover my partner's trades?", "trading", "PT-1.3"),
    ]
    return [{"id": f"q{i + 1:02d}",
             "variables": {"department": "retail banking", "question": question},
             "expected": {"topic": topic, "policy": policy}}
            for i, (question, topic, policy) in enumerate(rows)]


RUNBOOK = """\
# Runbook: compliance-assistant

## Stop it
`trimtab suspend compliance-assistant --env production --reason "..."`: staff get
the safe answer ("ask the compliance office") within a second.

## Roll back
`trimtab rollback compliance-assistant --env production --reason "..."` (an
approver's role: the environment is protected).

## Who to call
Compliance office on-call, then the model risk team. Open an incident with
`trimtab incident open compliance-assistant` as soon as a wrong answer reached staff.
"""


def write_files(directory: Path) -> None:
    """The project as a team keeps it in Git (overwrites the demo's own files only)."""
    files = {
        "trimtab.yaml": PROJECT_YAML,
        "evals/complaint-router.jsonl": _jsonl(_router_cases()),
        "evals/compliance-assistant.jsonl": _jsonl(_assistant_cases()),
        "runbooks/compliance-assistant.md": RUNBOOK,
        ".gitignore": ".trimtab/\n",
        "models/churn.joblib": "gradient boosting, 200 trees, trained on 2026-Q3 renewals\n",
    }
    files.update({f"prompts/{name}": text for name, text in PROMPTS.items()})
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def edit(path: Path, old: str, new: str) -> None:
    """Change one file the way a person would between two releases."""
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise AssertionError(f"demo: {old!r} not found in {path}")  # a bug in the story
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
