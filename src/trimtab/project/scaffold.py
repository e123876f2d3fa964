"""`trimtab init`: a working example project that runs fully offline."""

from __future__ import annotations

import json
from pathlib import Path

from trimtab.errors import TrimtabError

PROJECT_YAML = """\
# trimtab.yaml: your AI systems as code. Keep this file in Git.
# Reference: docs/project-file.md
version: 1
project: {project}

# Promotion order, lowest first. The last one is production.
environments: [dev, staging, production]

# Where the built-in `simulated` provider may answer; anywhere else its calls
# fail (503 provider_not_configured) instead of serving fake answers. This
# example runs offline end to end, so it allows production too: once a real
# provider serves production, remove `production` here.
allow_simulated: [dev, staging, production]

# Endpoints the runtime calls. `simulated` is built in and needs no network;
# real providers name the environment variable that holds their key, e.g.:
#   openai:
#     kind: openai
#     base_url: https://api.openai.com/v1
#     api_key_env: OPENAI_API_KEY
#     timeouts: {{connect: 5, read: 30}}
#     retries: {{max_retries: 2}}            # 429/5xx/timeouts, honouring Retry-After
#     circuit_breaker: {{failure_rate: 0.5, min_calls: 20, cooldown: 30}}
providers: {{}}

systems:
  complaint-router:
    description: Routes customer quality complaints to the team that owns the defect.
    owner: quality-team@example.com
    tier: 1              # 1 API-first, 2 managed inference, 3 self-hosted
    risk: limited        # minimal | limited | high (EU AI Act)
    customer_facing: false
    # target_stage: 3    # derived from risk when absent: 3, or 4 if high-risk/customer-facing
    logging: redacted    # what calls store: full | redacted | hashed | metadata
    # redact:            # your own identifiers, masked like e-mails, phones, IBANs, cards
    #   - {{name: order-id, pattern: 'ORD-\\d{{8}}'}}
    release:
      provider: simulated
      model: sim-router-1
      params:
        temperature: 0
        max_tokens: 200
        response_format: json
      prompts:
        system: prompts/complaint-router.system.md
        user: prompts/complaint-router.user.md
      fallbacks:
        - provider: simulated
          model: sim-router-small
      # The simulated model's answers (first matching rule wins, keywords match
      # word starts in any case), its latency, and the real model its tokens are
      # costed as. Real providers ignore this block.
      simulate:
        latency: {{median_ms: 40, p95_ms: 120}}
        price_as: gpt-4o-mini
        rules:
          - when: [spark, smoke, shock, burn, fire]
            reply:
              team: electrical
              severity: high
              reason: "Mentions '{{{{keyword}}}}': a possible electrical hazard."
          - when: [battery, charger, cable, plug, power]
            reply:
              team: electrical
              severity: medium
              reason: "Mentions '{{{{keyword}}}}': an electrical defect."
          - when: [leak, seal, drip, spill, dent]
            reply:
              team: packaging
              severity: medium
              reason: "Mentions '{{{{keyword}}}}': a packaging defect."
          - when: [hinge, crack, broke, gear, rattle]
            reply:
              team: mechanical
              severity: medium
              reason: "Mentions '{{{{keyword}}}}': a mechanical defect."
        default:
          team: other
          severity: low
          reason: No known defect keyword; needs a person to triage.
    # Eval suites: `trimtab eval complaint-router` runs every case through the
    # release and scores the answers (docs/evals.md).
    evals:
      routing:
        dataset: evals/complaint-router.jsonl
        scorers:
          - {{type: json}}
          - {{type: exact, field: team, threshold: 0.95}}
          - {{type: classification, field: severity, metric: macro_f1, threshold: 0.9}}
          - {{type: latency, max_ms: 2000}}
        fairness:
          - {{tag: channel, max_gap: 0.1}}
        # gate: {{environments: [production]}}   # promote to production only after a pass
"""

SYSTEM_PROMPT = """\
You route customer quality complaints for a manufacturer.
Answer with JSON: {"team": one of "packaging", "electrical", "mechanical", "other",
"severity": one of "low", "medium", "high", "reason": one short sentence}.
"""

USER_PROMPT = """\
Complaint from {{customer}} about product {{product}}:

{{text}}
"""

GITIGNORE = ".trimtab/\n"

#: The routing suite's cases (id, complaint, expected team and severity), written
#: one JSON object a line with the variables the prompts use and a channel tag.
EVAL_CASES = [
    ("c01", "The charger sparks when I plug it in.", "electrical", "high"),
    ("c02", "The seal on the lid leaks after a day.", "packaging", "medium"),
    ("c03", "The hinge broke on the second use.", "mechanical", "medium"),
    ("c04", "Battery drains overnight even when switched off.", "electrical", "medium"),
    ("c05", "Box arrived dented and the bottle had spilled.", "packaging", "medium"),
    ("c06", "Wrong colour delivered, please exchange.", "other", "low"),
    ("c07", "It rattles when the fan spins up.", "mechanical", "medium"),
    ("c08", "There is smoke coming from the power supply!", "electrical", "high"),
    ("c09", "The cable got very hot and smells like it might burn.", "electrical", "high"),
    ("c10", "Drip marks all over the carton when it arrived.", "packaging", "medium"),
    ("c11", "The gear grinds and a tooth is cracked.", "mechanical", "medium"),
    ("c12", "Invoice shows the wrong address.", "other", "low"),
    ("c13", "The plug does not fit the socket.", "electrical", "medium"),
    ("c14", "Got a mild shock touching the casing.", "electrical", "high"),
    ("c15", "The bottle cap leaked in transit.", "packaging", "medium"),
    ("c16", "The handle cracked after a week.", "mechanical", "medium"),
    ("c17", "Delivery was two days late.", "other", "low"),
    ("c18", "Spill inside the package, everything sticky.", "packaging", "medium"),
    ("c19", "The power button stopped working.", "electrical", "medium"),
    ("c20", "Instructions are only in French.", "other", "low"),
]
CUSTOMERS = ("Ana", "Ben", "Chloe", "Dev", "Ema")


def eval_cases() -> str:
    lines = []
    for i, (case_id, text, team, severity) in enumerate(EVAL_CASES):
        lines.append(json.dumps({
            "id": case_id,
            "variables": {"customer": CUSTOMERS[i % 5], "product": f"K-{200 + i % 3}",
                          "text": text},
            "expected": {"team": team, "severity": severity},
            "tags": {"channel": "email" if i % 2 == 0 else "phone"},
        }))
    return "\n".join(lines) + "\n"


def init_project(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the example files; refuse to overwrite an existing project unless forced."""
    target = directory / "trimtab.yaml"
    if target.exists() and not force:
        raise TrimtabError(
            f"{target} already exists; not overwriting it. "
            "Fix: run in an empty directory, or pass --force to replace the example files."
        )
    files = {
        target: PROJECT_YAML.format(project=_project_name(directory)),
        directory / "prompts" / "complaint-router.system.md": SYSTEM_PROMPT,
        directory / "prompts" / "complaint-router.user.md": USER_PROMPT,
        directory / "evals" / "complaint-router.jsonl": eval_cases(),
    }
    written = []
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    ignore = directory / ".gitignore"
    existing = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    if ".trimtab/" not in existing.splitlines():
        ignore.write_text(existing + ("" if existing.endswith("\n") or not existing else "\n")
                          + GITIGNORE, encoding="utf-8")
        written.append(ignore)
    return written


def _project_name(directory: Path) -> str:
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in directory.resolve().name.lower())
    return name.strip("-") or "my-ai-systems"
