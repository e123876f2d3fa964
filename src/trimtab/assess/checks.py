"""The maturity checks, as data: which stage each belongs to, which track it
applies to, how costly it is to fix and the exact fix.

The stage of a system is never declared: it is the highest stage whose checks,
and those of every stage below, all pass (the weakest link decides). Keeping the
catalogue as data means the CLI, the JSON output, the Markdown plan and the
dashboard all say the same thing about a check.
"""

from __future__ import annotations

from dataclasses import dataclass

STAGES = {0: "None yet", 1: "Manual", 2: "Automated", 3: "Observed", 4: "Governed"}

LLM, CLASSIC = "llm", "classic"

# Check states. A check passes when it is `automated`, or `manual` where the
# check is not about automation; `n/a` never counts for or against a stage.
AUTOMATED, MANUAL, MISSING, NOT_APPLICABLE = "automated", "manual", "missing", "n/a"
#: Shown for a check whose evidence trimtab does not record yet: it fails, and
#: says so, rather than guessing.
NO_SOURCE = "no evidence source yet"


@dataclass(frozen=True)
class Check:
    id: str
    stage: int
    title: str
    #: Tracks the check applies to; on the others it is `n/a`.
    tracks: tuple[str, ...]
    #: Passes only when `automated` (the rule for automation checks from stage 2 up).
    needs_automation: bool
    #: Rough effort to fix, smallest first: the next step is the cheapest failing check.
    cost: int
    #: The command or trimtab.yaml snippet that fixes it; {system}, {env} and
    #: {production} are filled in per system.
    fix: str


BOTH = (LLM, CLASSIC)

CHECKS: tuple[Check, ...] = (
    Check("M1", 1, "registered with owner, purpose, tier, risk and environments", BOTH, False, 1,
          "declare description, owner, tier and risk under systems.{system} in trimtab.yaml, "
          "then run `trimtab sync`"),
    Check("M2", 1, "a release is active in production", BOTH, False, 2,
          "trimtab release {system} && trimtab promote {system} RELEASE --env {production}"),
    Check("A1", 2, "production runs a content-addressed release pinning an exact model", BOTH,
          False, 1,
          "pin a dated model name under systems.{system}.release.model (not an alias such as "
          "`gpt-4o-latest`), then `trimtab release {system}` and promote it"),
    Check("A2", 2, "production changes go through trimtab promote/rollback", BOTH, True, 2,
          "trimtab promote {system} RELEASE --env {production} (from CI: set TRIMTAB_CI_URL or "
          "run in GitHub Actions/GitLab CI so the run is linked)"),
    Check("A3", 2, "the production release ran in a lower environment first", BOTH, False, 2,
          "trimtab promote {system} RELEASE --env {before_production} before promoting it to "
          "{production}"),
    Check("A4", 2, "95% of production calls in 7 days are fully logged", BOTH, True, 3,
          "route calls through the SDK (`ws.system('{system}').run(...)`), the gateway, "
          "`trimtab.instrument(client, '{system}')` or `ws.record(...)` with model, tokens and "
          "cost"),
    Check("A5", 2, "a rollback path exists: the previous release is retrievable", BOTH, False, 2,
          "keep the previous release promoted once in {production}; the runbook command is "
          "`trimtab rollback {system} --env {production}`"),
    Check("O1", 3, "every change to prompt, model or config had an eval run on its digest", BOTH,
          True, 4, "declare an eval suite under systems.{system}.evals and run "
          "`trimtab eval {system}` in CI on every change (a classic model: `trimtab eval "
          "{system} --predictions FILE` with its predictions on the holdout set)"),
    Check("O2", 3, "eval datasets are versioned and results sliced by a tag", BOTH, False, 3,
          "give every eval case `tags:` (language, region, segment) and keep the dataset in Git"),
    Check("O3", 3, "a review sample was drawn this week and worked within 30 days", (LLM,), False,
          3, "declare `review: {{per_week: 20}}` under systems.{system}, run `trimtab review "
          "sample {system}` weekly and work it with `trimtab review next {system}`"),
    Check("O4", 3, "a quality alert exists with a channel and was evaluated in 24 h", BOTH, True,
          2, "alerts: {{{system}-quality: {{system: {system}, metric: quality_score, score: "
          "review, window: 7d, comparator: '<', threshold: 0.8, channels: [team]}}}} (a classic "
          "model: `metric: accuracy` on its labels, see `trimtab label`) and run "
          "`trimtab monitor`"),
    Check("O5", 3, "95% of calls' cost is attributed to model and user or tag", (LLM,), False, 2,
          "pass `user=` and `tags=` on every call (SDK, gateway `user` field or `X-Trimtab-Tags`)"),
    Check("O6", 3, "p95 and p99 latency and error-rate alerts exist with a channel", BOTH, False,
          1, "alerts: {{{system}-p95: {{system: {system}, env: {production}, metric: "
          "latency_p95, window: 15m, comparator: '>', threshold: 2000, channels: [team]}}}} "
          "(and the same for latency_p99 and error_rate)"),
    Check("O7", 3, "a drift baseline exists and drift is checked on schedule with an alert",
          BOTH, True, 3, "trimtab drift baseline {system} --env {production}, run `trimtab drift "
          "{system}` on a schedule (cron or CI, at least weekly) and add an alert rule with "
          "`metric: drift` for {system}, which `trimtab monitor` evaluates"),
    Check("O8", 3, "a rollback (real or drill) ran in the last 90 days", BOTH, False, 2,
          "rehearse it: `trimtab rollback {system} --env {before_production}` then promote "
          "again; record how long the restore took"),
    Check("G1", 4, "promotion to production requires passing eval gates", BOTH, True, 3,
          "give a suite `gate: {{environments: [{production}]}}` (systems.{system}.evals) so "
          "`trimtab promote` refuses a release without a passing run"),
    Check("G2", 4, "every production promotion was approved by a second person", BOTH, True, 3,
          "set an approval policy for {production} (two approvers) and use `trimtab approve`"),
    Check("G3", 4, "the audit chain verifies and covers every change", BOTH, True, 1,
          "trimtab audit checkpoint, and `audit: {{checkpoint_every: 1d}}` in trimtab.yaml so "
          "the monitor keeps signing; `trimtab audit verify` names any first bad entry"),
    Check("G4", 4, "compliance documents were generated within 12 months and name an owner",
          BOTH, False, 2, "trimtab docs {system}"),
    Check("G5", 4, "an incident runbook exists and a drill was recorded within 12 months", BOTH,
          False, 3, "trimtab incident runbook {system} (edit it, keep it in Git), then rehearse "
          "it and `trimtab incident drill {system} -s SCENARIO -p PEOPLE -f FINDINGS`"),
    Check("G6", 4, "an independent review was recorded within 12 months, findings tracked",
          BOTH, False, 4,
          "have someone outside the team review {system}, then `trimtab assurance record "
          "{system} --reviewer NAME --organisation ORG --scope TEXT --finding TEXT` and close "
          "each finding by its due date: `trimtab assurance close FINDING --resolution TEXT`"),
)

BY_ID = {check.id: check for check in CHECKS}


@dataclass(frozen=True)
class Skip:
    """A heavy component a small team should not run until a named problem needs it."""

    component: str
    #: The `scale:` field of trimtab.yaml that, once past `needed_at`, makes it worth it.
    signal: str
    needed_at: int
    reason: str


SKIPS: tuple[Skip, ...] = (
    Skip("feature store", "models_sharing_features", 10,
         "it pays off when many models reuse the same features online and offline; with a "
         "handful of systems, features computed next to each model are easier to change"),
    Skip("experiment tracker", "training_runs_per_month", 20,
         "prompts and configs are already versioned as releases with eval runs attached; a "
         "tracker earns its keep with frequent training runs to compare"),
    Skip("model-registry platform", "models_in_production", 20,
         "content-addressed releases with promotion and rollback already are a registry for a "
         "few systems"),
    Skip("pipeline orchestrator", "retraining_pipelines", 3,
         "scheduled jobs and CI cover a few retraining or batch steps; an orchestrator is for "
         "many dependent pipelines"),
    Skip("online A/B platform", "predictions_per_day", 10_000_000,
         "canary releases with per-release metrics answer 'is the new one worse?' at this "
         "volume; statistically powered online experiments need far more traffic"),
)
