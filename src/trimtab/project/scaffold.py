"""`trimtab init`: a working example project that runs fully offline."""

from __future__ import annotations

from pathlib import Path

from trimtab.errors import TrimtabError

PROJECT_YAML = """\
# trimtab.yaml: your AI systems as code. Keep this file in Git.
# Reference: docs/project-file.md
version: 1
project: {project}

# Promotion order, lowest first. The last one is production.
environments: [dev, staging, production]

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
