"""The text of each compliance document, built from evidence only.

Structure follows the source each regulator or framework names (EU AI Act
Annex IV and Articles 13, 50 and 72; the model card of Mitchell et al.; the
NIST AI RMF functions; ISO/IEC 42001 Annex A); the words are trimtab's. Where
evidence is absent the text says so with `MISSING_MARK` and what would fill it,
and the mark is counted, so a reader and check G4 both see the gaps.
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import yaml

from trimtab.assess.checks import NOT_APPLICABLE, STAGES

if TYPE_CHECKING:
    from trimtab.assess.documents import DocEvidence

MISSING_MARK = "**Missing:**"

TITLES = {
    "technical-documentation": "Technical documentation (EU AI Act Annex IV)",
    "model-card": "Model card",
    "instructions-for-use": "Instructions for use (EU AI Act Art. 13)",
    "post-market-monitoring": "Post-market monitoring plan (EU AI Act Art. 72)",
    "transparency-record": "Transparency record (EU AI Act Art. 50)",
    "nist-ai-rmf": "NIST AI RMF coverage",
    "iso-42001": "ISO/IEC 42001 Annex A applicability",
    "obligations-calendar": "Obligations calendar",
}


def missing(what: str, fix: str) -> str:
    return f"{MISSING_MARK} {what}. Fill it: {fix}"


def _header(ev: DocEvidence, kind: str) -> list[str]:
    return [f"# {ev.system}: {TITLES[kind]}", "",
            f"Project `{ev.project}`. Evidence as of {ev.as_of:%Y-%m-%d %H:%M} UTC, from the "
            f"trimtab store and trimtab.yaml. Owner: {ev.spec.owner or 'not declared'}.", ""]


def _compliance_field(ev: DocEvidence, field: str, label: str) -> str:
    value = getattr(ev.spec.compliance, field)
    if value:
        return value if isinstance(value, str) else "; ".join(value)
    return missing(label, f"`systems.{ev.system}.compliance.{field}` in trimtab.yaml")


def _releases_table(ev: DocEvidence, limit: int = 10) -> list[str]:
    if not ev.releases:
        return [missing("no release recorded", f"`trimtab release {ev.system}`")]
    rows = ["| release | created (UTC) | author | git commit | model |", "|---|---|---|---|---|"]
    for r in ev.releases[:limit]:
        spec = json.loads(r.spec_json)
        commit = (r.git_commit or "")[:12] + (" (dirty)" if r.git_dirty else "")
        rows.append(f"| `{r.id[:12]}` | {r.created_at:%Y-%m-%d %H:%M} | {r.author} | "
                    f"{commit or 'not in git'} | {spec.get('model') or '-'} |")
    return rows


def _changes_table(ev: DocEvidence, limit: int = 20) -> list[str]:
    if not ev.deployments:
        return [missing("no promotion or rollback recorded",
                        f"`trimtab promote {ev.system} RELEASE --env ENV`")]
    rows = ["| when (UTC) | environment | action | release | by | reason |",
            "|---|---|---|---|---|---|"]
    for d in ev.deployments[-limit:]:
        rows.append(f"| {d.created_at:%Y-%m-%d %H:%M} | {d.env} | {d.action} | "
                    f"`{d.release_id[:12]}` | {d.actor} | {d.reason or '-'} |")
    return rows


def _rules_table(ev: DocEvidence) -> list[str]:
    if not ev.rules:
        return [missing("no alert rule watches this system",
                        "add rules under `alerts:` in trimtab.yaml (see `trimtab assess`, O6)")]
    rows = ["| rule | metric | window | threshold | channels |", "|---|---|---|---|---|"]
    for name, rule in sorted(ev.rules.items()):
        channels = ", ".join(rule.channels) or "none (log only)"
        rows.append(f"| {name} | {rule.metric} | {rule.window} | {rule.comparator} "
                    f"{rule.threshold:g} | {channels} |")
    return rows


def _verdict(ev: DocEvidence, check_id: str):
    return next(v for v in ev.assessment.verdicts if v.check.id == check_id)


def _evidence_line(ev: DocEvidence, check_id: str) -> str:
    v = _verdict(ev, check_id)
    if v.state == NOT_APPLICABLE:  # neither evidence nor a gap: the practice is not this track's
        return f"not applicable: {v.evidence} (check {check_id}: n/a)"
    if v.passes:
        return f"{v.evidence} (check {check_id}: {v.state})"
    return missing(f"{v.check.title} (check {check_id}: {v.state}; {v.evidence})", v.fix)


def _usage(ev: DocEvidence) -> str:
    u = ev.usage
    if u.calls == 0:
        return missing(f"no calls recorded in {ev.production} in the 30 days before this date",
                       "route calls through the SDK or the gateway, or `ws.record(...)`")
    return (f"{u.calls:,} calls in {ev.production} in 30 days, {u.complete:,} fully logged, "
            f"{money(u.spend_micro_usd / 1_000_000)} spent")


def money(usd: float) -> str:
    """Whole cents for real money, significant digits for the small sums of a trial."""
    return f"${usd:,.2f}" if usd >= 1 or usd == 0 else f"${usd:.3g}"


# --- the documents ---------------------------------------------------------------


def technical_documentation(ev: DocEvidence) -> str:
    s = ev.spec
    declared = lambda field, label: _compliance_field(ev, field, label)  # noqa: E731
    active = ev.active(ev.production)
    role = s.compliance.role or missing("role", f"`systems.{ev.system}.compliance.role`")
    version = (f"`{active.release_id}`" if active else missing(
        "nothing in production", f"`trimtab promote {ev.system} RELEASE --env {ev.production}`"))
    retention = (f"{s.retention_days} days" if s.retention_days else missing(
        "retention period", f"`systems.{ev.system}.retention_days`"))
    lines = _header(ev, "technical-documentation")
    lines += ["## 1. General description", "",
              f"- Intended purpose: {declared('intended_purpose', 'intended purpose')}",
              f"- Description: {s.description}",
              f"- Provider or deployer: {role}",
              f"- Risk class declared: {s.risk}; tier {s.tier}; customer-facing: "
              f"{'yes' if s.customer_facing else 'no'}; kind: {s.kind}",
              f"- Version in production: {version}",
              f"- Users and affected persons: {declared('users', 'who uses it')}",
              "", "## 2. Elements and development", "",
              "Each release is a content-addressed snapshot of everything that changes "
              "behaviour (provider, model, parameters, prompt texts, artefact hashes); its id "
              "is the sha256 of that snapshot.", ""]
    lines += _releases_table(ev)
    lines += ["", f"- Data sources: {declared('data_sources', 'declared data sources')}",
              f"- Validation and testing: {_evidence_line(ev, 'O1')}",
              f"- Human oversight measures: {declared('human_oversight', 'oversight measures')}",
              "", "## 3. Monitoring, functioning and control", "",
              f"- Known limitations: {declared('known_limitations', 'known limitations')}",
              f"- Operation: {_usage(ev)}",
              f"- Human review of outputs: {_evidence_line(ev, 'O3')}",
              "", "## 4. Performance metrics", "",
              f"- Eval results: {_evidence_line(ev, 'O2')}",
              f"- Latency and error alerts: {_evidence_line(ev, 'O6')}",
              "", "## 5. Risk management", "",
              f"- Maturity: stage {ev.assessment.stage} ({STAGES[ev.assessment.stage]}) against a "
              f"target of {ev.assessment.target} ({STAGES[ev.assessment.target]}), "
              "assessed from evidence by `trimtab assess`.",
              f"- Rollback: {_evidence_line(ev, 'A5')}",
              f"- Incident runbook and drill: {_evidence_line(ev, 'G5')}",
              f"- Independent review: {_evidence_line(ev, 'G6')}",
              "", "## 6. Changes over the lifecycle", ""]
    lines += _changes_table(ev)
    lines += ["", "## 7. Logging and retention", "",
              f"- Call logging mode: {s.logging}; retention: {retention}",
              f"- Audit trail: {_evidence_line(ev, 'G3')}",
              "", "## 8. Post-market monitoring", "",
              "See the post-market monitoring plan generated with this document.", ""]
    lines += _rules_table(ev)
    return "\n".join(lines) + "\n"


def model_card(ev: DocEvidence) -> str:
    s = ev.spec
    active = ev.active(ev.production)
    model = "-"
    if active:
        release = next((r for r in ev.releases if r.id == active.release_id), None)
        if release:
            model = json.loads(release.spec_json).get("model") or "-"
    lines = _header(ev, "model-card")
    lines += ["## Model details", "",
              f"- System `{ev.system}` ({s.kind}), model `{model}`, owner {s.owner}.",
              f"- Release in {ev.production}: "
              f"{('`' + active.release_id[:12] + '`') if active else 'none'}.",
              "", "## Intended use", "",
              f"- Primary use: {_compliance_field(ev, 'intended_purpose', 'intended purpose')}",
              f"- Out of scope: {_compliance_field(ev, 'out_of_scope', 'out-of-scope uses')}",
              "", "## Factors", "",
              "Groups the metrics are reported for come from eval case tags "
              "(language, region, segment).",
              "", "## Metrics", "",
              f"- {_evidence_line(ev, 'O1')}", ""]
    lines += _groups_table(ev)
    lines += ["", "## Evaluation data", "", f"- {_evidence_line(ev, 'O2')}",
              "", "## Training data", "",
              f"- {_compliance_field(ev, 'data_sources', 'training or grounding data sources')}",
              "", "## Quantitative analyses", "", f"- {_usage(ev)}",
              "", "## Ethical considerations", "",
              f"- Risk class: {s.risk}. Human oversight: "
              f"{_compliance_field(ev, 'human_oversight', 'human oversight measures')}",
              "", "## Caveats and recommendations", "",
              f"- {_compliance_field(ev, 'known_limitations', 'known limitations')}", ""]
    return "\n".join(lines)


def _groups_table(ev: DocEvidence) -> list[str]:
    """Pass rate per tag group of the newest eval run on the production release,
    each with its Wilson 95% interval: the model card's metrics per group."""
    run = ev.eval_run
    if run is None or not ev.groups:
        what = ("no eval run on the release in production" if run is None
                else f"eval run {run.short_id} has no tagged cases")
        return ["- Per-group metrics with confidence intervals: " + missing(
            what, f"`trimtab eval {ev.system}` with `tags:` on every case, before promoting")]
    rows = [f"Eval run `{run.short_id}` of suite {run.suite} on release "
            f"`{run.release_id[:12]}`, {run.finished_at:%Y-%m-%d %H:%M} UTC: {run.passed_cases} "
            f"of {run.cases} cases passed.", "",
            "| tag | group | cases | pass rate | 95% interval (Wilson) |", "|---|---|---|---|---|"]
    for g in ev.groups:
        rows.append(f"| {g.tag} | {g.group} | {g.cases} | {g.passed / g.cases:.1%} | "
                    f"{g.low:.1%} to {g.high:.1%} |")
    return rows


def instructions_for_use(ev: DocEvidence) -> str:
    s = ev.spec
    lines = _header(ev, "instructions-for-use")
    lines += ["## Provider and contact", "", f"- {s.owner}", "",
              "## Intended purpose", "",
              f"- {_compliance_field(ev, 'intended_purpose', 'intended purpose')}", "",
              "## Performance and limitations", "",
              f"- {_compliance_field(ev, 'known_limitations', 'known limitations')}",
              f"- Measured quality: {_evidence_line(ev, 'O1')}", "",
              "## Human oversight", "",
              f"- {_compliance_field(ev, 'human_oversight', 'human oversight measures')}",
              f"- Stopping the system: `trimtab suspend {ev.system} --env {ev.production} "
              "--reason TEXT` answers every call with the declared safe fallback; "
              f"`trimtab rollback {ev.system} --env {ev.production}` returns to the previous "
              "release.", "",
              "## Logs", "",
              f"- Every call is recorded (mode `{s.logging}`) with release, model, latency, "
              "tokens, cost and status; deployers keep the logs under their control for the "
              "period the law sets.", ""]
    return "\n".join(lines)


def post_market_monitoring(ev: DocEvidence) -> str:
    lines = _header(ev, "post-market-monitoring")
    lines += ["## What is watched, and who is told", ""]
    lines += _rules_table(ev)
    lines += ["", "## Drift", "",
              f"- {_evidence_line(ev, 'O7')}",
              (f"- Latest drift check: {ev.latest_drift.time:%Y-%m-%d}, "
               f"{ev.latest_drift.n_columns_drifted} of {ev.latest_drift.n_columns_tested} "
               "columns drifted" if ev.latest_drift else
               "- " + missing("no drift check yet", f"`trimtab drift check {ev.system}`")),
              "", "## Human review", "", f"- {_evidence_line(ev, 'O3')}",
              "", "## Quality alerts", "", f"- {_evidence_line(ev, 'O4')}",
              "", "## Serious incidents", "", f"- {_evidence_line(ev, 'G5')}",
              f"- Notification channels declared: {', '.join(ev.channels) or 'none'}", ""]
    return "\n".join(lines)


def transparency_record(ev: DocEvidence) -> str:
    t = ev.spec.compliance.transparency
    lines = _header(ev, "transparency-record")
    lines += ["| obligation | declared |", "|---|---|"]
    for field, label in (("discloses_ai_interaction", "People are told they interact with AI"),
                         ("marks_synthetic_output", "Synthetic output is marked as such"),
                         ("deep_fake_disclosure", "Deep fakes are disclosed")):
        value = getattr(t, field)
        shown = {True: "yes", False: "no"}.get(value) or missing(
            "not declared", f"`systems.{ev.system}.compliance.transparency.{field}`")
        lines.append(f"| {label} | {shown} |")
    lines.append("")
    return "\n".join(lines)


_NIST = (
    ("GOVERN", "Policies, accountability and roles are in place", ("M1", "G2", "G3")),
    ("MAP", "Context, purpose and risks of the system are known", ("M1",)),
    ("MEASURE", "Risks are measured, tested and tracked", ("O1", "O2", "O3", "O6", "O7")),
    ("MANAGE", "Risks are treated, monitored and responded to", ("A5", "O8", "G1", "G5")),
)

_ISO = (
    ("A.2", "Policies related to AI", ("G3",)),
    ("A.3", "Internal organization: roles and responsibilities", ("M1", "G2")),
    ("A.4", "Resources for AI systems (data, tools, people)", ("A1",)),
    ("A.5", "Assessing impacts of AI systems", ("G6",)),
    ("A.6", "AI system life cycle: design, verification, deployment, operation",
     ("A2", "A3", "O1")),
    ("A.7", "Data for AI systems", ("O2",)),
    ("A.8", "Information for interested parties", ("G4",)),
    ("A.9", "Use of AI systems: responsible operation and monitoring", ("O4", "O6", "O7")),
    ("A.10", "Third-party and customer relationships", ()),
)


def _coverage_table(ev: DocEvidence, rows, head: str) -> list[str]:
    out = [f"| {head} | what it asks | evidence | status |", "|---|---|---|---|"]
    for key, asks, checks in rows:
        if not checks:
            out.append(f"| {key} | {asks} | - | "
                       + missing("trimtab holds no evidence for this", "document it yourself")
                       + " |")
            continue
        # A check that does not apply to the system's track is neither evidence nor a gap.
        verdicts = [v for v in (_verdict(ev, c) for c in checks) if v.counts]
        checks = tuple(v.check.id for v in verdicts)
        if not verdicts:
            out.append(f"| {key} | {asks} | - | not applicable to {ev.spec.kind} systems |")
            continue
        passing = [v.check.id for v in verdicts if v.passes]
        status = ("evidence" if len(passing) == len(verdicts) else
                  missing(f"checks {', '.join(v.check.id for v in verdicts if not v.passes)} "
                          "fail", f"`trimtab assess {ev.system}`"))
        out.append(f"| {key} | {asks} | {', '.join(checks)} | {status} |")
    return out


def nist_ai_rmf(ev: DocEvidence) -> str:
    lines = _header(ev, "nist-ai-rmf")
    lines += _coverage_table(ev, _NIST, "function")
    return "\n".join(lines) + "\n"


def iso_42001(ev: DocEvidence) -> str:
    lines = _header(ev, "iso-42001")
    lines += _coverage_table(ev, _ISO, "control")
    return "\n".join(lines) + "\n"


@cache
def obligations_data() -> dict:
    text = resources.files("trimtab.assess").joinpath("obligations.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def obligations_calendar(ev: DocEvidence) -> str:
    data = obligations_data()
    role = ev.spec.compliance.role
    lines = _header(ev, "obligations-calendar")
    lines += [f"Obligations table version {data['version']}. Dates as in the legal texts at "
              "that version; check the current text before relying on one.", ""]
    if role is None:
        lines += [missing("role", f"`systems.{ev.system}.compliance.role: provider` or "
                          "`deployer`; until then both roles are listed"), ""]
    roles = [role] if role else ["provider", "deployer"]
    today = ev.as_of.date()
    lines += ["| from | regime | obligation | reference | applies as | status |",
              "|---|---|---|---|---|---|"]
    for item in data["obligations"]:
        applies = [r for r in item["roles"] if r in roles]
        if not applies or ev.spec.risk not in item["risks"]:
            continue
        start = date.fromisoformat(item["from"])
        status = "in force" if start <= today else f"from {start:%Y-%m-%d}"
        lines.append(f"| {start:%Y-%m-%d} | {item['regime']} | {item['title']} | "
                     f"{item['reference']} | {', '.join(applies)} | {status} |")
    lines += ["", f"## Recurring, for a stage-{ev.assessment.target} target", "",
              "| every | duty |", "|---|---|"]
    for item in data["recurring"]:
        if ev.assessment.target in item["stages"]:
            lines.append(f"| {item['every_days']} days | {item['title']} |")
    lines.append("")
    return "\n".join(lines)


RENDERERS = {
    "technical-documentation": technical_documentation,
    "model-card": model_card,
    "instructions-for-use": instructions_for_use,
    "post-market-monitoring": post_market_monitoring,
    "transparency-record": transparency_record,
    "nist-ai-rmf": nist_ai_rmf,
    "iso-42001": iso_42001,
    "obligations-calendar": obligations_calendar,
}
