"""The project file, trimtab.yaml: the team's AI systems declared as code, in Git.

The models here say what the file may hold; ``trimtab.project.checks`` finds
everything wrong with it in one round, each with file:line:column, the field
path, what is wrong and how to fix it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trimtab.errors import NotFound, TrimtabError
from trimtab.project.alert_rules import AlertRuleSpec, ChannelSpec
from trimtab.project.budgets import BudgetSpec
from trimtab.project.evals import EvalSuiteSpec, ReviewSpec, SamplingSpec
from trimtab.project.governance import (
    AuditSpec,
    IncidentsSpec,
    PolicySpec,
    RetentionSpec,
    SuspendedSpec,
)
from trimtab.project.naming import NAME, suggest  # noqa: F401  (NAME: the checks use it)
from trimtab.runtime.config import (  # noqa: F401  (re-exported: the file's schema embeds them)
    ENV_VAR,
    BreakerSpec,
    LatencySpec,
    PriceSpec,
    ProviderSpec,
    RetrySpec,
    SimEndpointSpec,
    SimErrorsSpec,
    SimRuleSpec,
    SimToolSpec,
    SimulateSpec,
    TieredPriceSpec,
    TierSpec,
    TimeoutSpec,
)

BUILTIN_PROVIDERS = {"simulated": "simulated"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


#: In every provider snapshot; the other fields appear only when set, so
#: releases made before they existed keep their ids.
_PROVIDER_CORE = {"kind", "base_url", "api_key_env"}


class FallbackSpec(_Strict):
    provider: str
    model: str
    params: dict[str, Any] = Field(default_factory=dict)


class ReleaseSpec(_Strict):
    """What a release snapshots: everything that changes behaviour."""

    provider: str | None = None
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    prompts: dict[str, str] = Field(default_factory=dict)
    fallbacks: list[FallbackSpec] = Field(default_factory=list)
    artefacts: dict[str, str] = Field(default_factory=dict)
    simulate: SimulateSpec | None = None


class RedactRuleSpec(_Strict):
    name: str
    pattern: str
    replace: str | None = None


class TransparencySpec(_Strict):
    """EU AI Act Art. 50: what the people using the system are told and shown."""

    discloses_ai_interaction: bool | None = Field(
        None, description="people are told they interact with an AI system")
    marks_synthetic_output: bool | None = Field(
        None, description="generated text/images are marked machine-readably as AI output")
    deep_fake_disclosure: bool | None = None


class ComplianceSpec(_Strict):
    """What only the team knows and the documents need: never guessed, so an
    absent field is printed as missing in every generated document."""

    role: Literal["provider", "deployer"] | None = None
    regimes: list[Literal["eu-ai-act", "nist-ai-rmf", "iso-42001", "gdpr", "nis2"]] = Field(
        default_factory=list)
    intended_purpose: str | None = None
    out_of_scope: list[str] = Field(default_factory=list)
    users: str | None = Field(None, description="who uses it and who is affected")
    data_sources: list[str] = Field(default_factory=list)
    human_oversight: str | None = None
    known_limitations: list[str] = Field(default_factory=list)
    transparency: TransparencySpec = Field(default_factory=TransparencySpec)


class SystemSpec(_Strict):
    description: str
    owner: str
    kind: Literal["llm", "classic"] = "llm"
    tier: Literal[1, 2, 3]
    risk: Literal["minimal", "limited", "high"]
    customer_facing: bool = False
    target_stage: Literal[1, 2, 3, 4] | None = None
    recording: Literal["required", "best_effort"] | None = Field(None, description=(
        "a call whose record cannot be written (the spool's disk is full): required fails "
        "it with 503 recording_unavailable, best_effort answers it and counts the drop; "
        "default: required at target stage 4, else best_effort"))
    release: ReleaseSpec
    logging: Literal["full", "redacted", "hashed", "metadata"] = "redacted"
    redact: list[RedactRuleSpec] = Field(default_factory=list)
    retention_days: int | None = Field(None, ge=1)
    when_suspended: SuspendedSpec | None = None
    compliance: ComplianceSpec = Field(default_factory=ComplianceSpec)
    evals: dict[str, EvalSuiteSpec] = Field(default_factory=dict)
    review: ReviewSpec | None = None
    scoring: SamplingSpec | None = None

    def privacy(self) -> dict[str, Any]:
        """What the recorder needs, only the parts set (so older release ids hold)."""
        return self.model_dump(include={"logging", "redact", "retention_days"},
                               exclude_defaults=True)

    @property
    def resolved_target_stage(self) -> int:
        """3 unless high-risk or customer-facing (then 4): the maturity model's default."""
        if self.target_stage is not None:
            return self.target_stage
        return 4 if self.risk == "high" or self.customer_facing else 3

    @property
    def recording_required(self) -> bool:
        """Whether a call must fail rather than be answered unrecorded: a stage-4
        system's audit trail must be complete, unless the file says otherwise."""
        if self.recording is not None:
            return self.recording == "required"
        return self.resolved_target_stage == 4

    def declared(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "owner": self.owner,
            "tier": self.tier,
            "risk": self.risk,
            "customer_facing": self.customer_facing,
            "target_stage": self.resolved_target_stage,
        }


class InputLimitSpec(_Strict):
    """What one request body may hold, checked before any provider is called: past a limit
    the gateway answers 400, so no client can make it recurse, stall or store too much.
    The defaults are OpenAI's own (2,048 messages, 10 MiB strings) or well above what a
    chat or a record needs."""

    max_depth: int = Field(64, ge=4, le=512, description="nesting of arrays and objects")
    max_messages: int = Field(2048, ge=1, description="messages in one chat request")
    max_items: int = Field(10_000, ge=1, description="elements of any other array or object")
    max_string: int = Field(10 << 20, ge=1024, description="characters in one string or key")


class GatewaySpec(_Strict):
    """How ``trimtab gateway`` treats model names that are not ``trimtab/<system>``,
    and what a request body may hold (``limits``)."""

    passthrough: bool = Field(True, description="false: only trimtab/<system> models are served")
    default_provider: str | None = Field(
        None, description="provider for bare model names; default: the only non-simulated one")
    models: list[str] = Field(default_factory=list, description="listed in GET /v1/models")
    logging: Literal["full", "redacted", "hashed", "metadata"] = "redacted"
    limits: InputLimitSpec = Field(default_factory=InputLimitSpec)
    shutdown_grace: float = Field(30.0, ge=0, le=3600, description=(
        "seconds SIGTERM waits for calls in flight before cancelling (and recording) them"))
    drain_timeout: float = Field(30.0, ge=0, le=3600, description=(
        "seconds a stopping gateway waits for the store to take what is spooled; what "
        "it did not take stays spooled for the next recording process"))
    metrics: Literal["keys", "public"] = Field(
        "keys", description="GET /metrics needs a gateway key once one exists; public: anyone")


class ScaleSpec(_Strict):
    """The problems that would make a heavy component worth running; `trimtab
    assess` advises skipping each one until its number is reached."""

    models_sharing_features: int = Field(0, ge=0)
    training_runs_per_month: int = Field(0, ge=0)
    models_in_production: int = Field(0, ge=0)
    retraining_pipelines: int = Field(0, ge=0)
    predictions_per_day: int = Field(0, ge=0)


class ProjectFile(_Strict):
    version: Literal[1] = 1
    project: str
    environments: list[str] = Field(default_factory=lambda: ["dev", "staging", "production"])
    allow_simulated: list[str] = Field(
        default_factory=list, description="environments where the built-in simulated provider "
        "may answer; elsewhere its calls fail with 503 provider_not_configured")
    providers: dict[str, ProviderSpec] = Field(default_factory=dict)
    artefact_store: str | None = None
    systems: dict[str, SystemSpec] = Field(default_factory=dict)
    channels: dict[str, ChannelSpec] = Field(default_factory=dict)
    alerts: dict[str, AlertRuleSpec] = Field(default_factory=dict)
    budgets: dict[str, BudgetSpec] = Field(
        default_factory=dict, description="monthly USD budgets per system or team")
    gateway: GatewaySpec = Field(default_factory=GatewaySpec)
    audit: AuditSpec = Field(default_factory=AuditSpec)
    policies: dict[str, PolicySpec] = Field(default_factory=dict)
    retention: RetentionSpec = Field(default_factory=RetentionSpec)
    incidents: IncidentsSpec = Field(default_factory=IncidentsSpec)
    scale: ScaleSpec = Field(default_factory=ScaleSpec)


class Project:
    """A loaded, validated project: the file's content plus where it lives."""

    def __init__(self, path: Path, spec: ProjectFile):
        self.path = path
        self.root = path.parent
        self.spec = spec

    @property
    def environments(self) -> list[str]:
        return list(self.spec.environments)

    @property
    def production(self) -> str:
        """The last environment in promotion order."""
        return self.spec.environments[-1]

    def system(self, name: str) -> SystemSpec:
        try:
            return self.spec.systems[name]
        except KeyError:
            raise NotFound(
                f"{self.path.name}: no system named {name!r}.{suggest(name, self.spec.systems)} "
                f"Declared systems: {', '.join(self.spec.systems) or 'none'}."
            ) from None

    def check_env(self, env: str) -> None:
        if env not in self.spec.environments:
            raise TrimtabError(
                f"unknown environment {env!r}.{suggest(env, self.spec.environments)} "
                f"{self.path.name} declares: {', '.join(self.spec.environments)}. "
                "Fix: use one of those, or add it under `environments:`."
            )

    def simulated_refusal(self, env: str) -> str | None:
        """Why a simulated provider may not answer in ``env``; None where it may."""
        allowed = self.spec.allow_simulated
        if env in allowed:
            return None
        return (f"the simulated provider does not answer in {env!r}: {self.path.name} allows "
                f"it in {', '.join(allowed) or 'no environment'} (allow_simulated). Fix: point "
                f"the release at a real provider, or add {env} to allow_simulated where fake "
                "answers are meant.")

    def provider(self, name: str) -> dict[str, Any]:
        if name in self.spec.providers:
            spec = self.spec.providers[name]
            return {"name": name, **spec.model_dump(include=_PROVIDER_CORE),
                    **spec.model_dump(exclude=_PROVIDER_CORE, exclude_defaults=True)}
        return {
            "name": name, "kind": BUILTIN_PROVIDERS[name], "base_url": None, "api_key_env": None,
        }


#: A prompt is text a model reads, stored whole in every release that uses it.
MAX_PROMPT_BYTES = 1024 * 1024


class PromptTooLarge(ValueError):
    def __init__(self, size: int):
        super().__init__(f"{size:,} bytes; at most {MAX_PROMPT_BYTES:,}")
        self.size = size


def read_prompt(path: Path) -> str:
    """A prompt file's text (universal newlines, as release ids have always been
    computed), read with a bound; PromptTooLarge past MAX_PROMPT_BYTES,
    UnicodeDecodeError when it is not UTF-8."""
    size = path.stat().st_size
    if size > MAX_PROMPT_BYTES:
        raise PromptTooLarge(size)
    with path.open(encoding="utf-8") as handle:
        text = handle.read(MAX_PROMPT_BYTES + 1)
    if len(text.encode("utf-8")) > MAX_PROMPT_BYTES:  # it grew since stat
        raise PromptTooLarge(path.stat().st_size)
    return text
