"""The project file, trimtab.yaml: the team's AI systems declared as code, in Git.

The models here say what the file may hold; ``trimtab.project_checks`` finds
everything wrong with it in one round, each with file:line:column, the field
path, what is wrong and how to fix it.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trimtab import yamlsource
from trimtab.alert_rules import AlertRuleSpec, ChannelSpec
from trimtab.errors import ProjectError, TrimtabError

PROJECT_FILE = "trimtab.yaml"
BUILTIN_PROVIDERS = {"simulated": "simulated"}
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- runtime settings (trimtab.runtime reads these from the release snapshot) ---


class TimeoutSpec(_Strict):
    """Seconds. ``read`` is the longest silence between bytes (a hung upstream)."""

    connect: float = Field(5.0, gt=0)
    read: float = Field(60.0, gt=0)
    total: float | None = Field(None, gt=0, description="whole non-streamed call")


class RetrySpec(_Strict):
    max_retries: int = Field(2, ge=0, le=10)
    backoff: float = Field(0.5, ge=0, description="first pause in seconds; doubles, with jitter")
    max_backoff: float = Field(8.0, ge=0)
    max_retry_after: float = Field(30.0, ge=0, description="longest Retry-After honoured")


class BreakerSpec(_Strict):
    failures: int = Field(5, ge=1, description="consecutive failures that open the circuit")
    cooldown: float = Field(30.0, ge=0, description="seconds open before one probe call")


class LatencySpec(_Strict):
    median_ms: float = Field(0.0, ge=0)
    p95_ms: float | None = Field(None, ge=0, description="absent: every call takes median_ms")


class SimErrorsSpec(_Strict):
    rate: float = Field(0.0, ge=0, le=1)
    kinds: dict[Literal["server", "rate_limit", "timeout", "connection"], float] = Field(
        default_factory=lambda: {"server": 1.0})
    retry_after: float = Field(1.0, ge=0, description="Retry-After sent with simulated 429s")


class SimEndpointSpec(_Strict):
    """How a simulated endpoint behaves: latency, failures, token counting."""

    latency: LatencySpec = Field(default_factory=LatencySpec)
    errors: SimErrorsSpec = Field(default_factory=SimErrorsSpec)
    seed: int | None = None
    chars_per_token: int = Field(4, ge=1)


class TierSpec(_Strict):
    start: int = Field(ge=0, description="input tokens above which the whole call costs `price`")
    price: float = Field(ge=0)


class TieredPriceSpec(_Strict):
    base: float = Field(ge=0)
    tiers: list[TierSpec]


class PriceSpec(_Strict):
    """USD per million tokens, overriding the price package for one model."""

    input_mtok: float | TieredPriceSpec
    output_mtok: float | TieredPriceSpec
    cache_read_mtok: float | TieredPriceSpec | None = None
    cache_write_mtok: float | TieredPriceSpec | None = None
    reasoning_mtok: float | TieredPriceSpec | None = None


class ProviderSpec(_Strict):
    """An endpoint the runtime calls. The key lives in an environment variable."""

    kind: Literal["openai", "anthropic", "simulated"]
    base_url: str | None = None
    api_key_env: str | None = Field(None, description="name of the env var holding the key")
    api_key_header: str | None = Field(None, description="e.g. api-key for Azure; else Bearer")
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str] = Field(default_factory=dict, description="e.g. api-version for Azure")
    timeouts: TimeoutSpec = Field(default_factory=TimeoutSpec)
    retries: RetrySpec = Field(default_factory=RetrySpec)
    circuit_breaker: BreakerSpec = Field(default_factory=BreakerSpec)
    simulate: SimEndpointSpec | None = None
    prices: dict[str, PriceSpec] = Field(default_factory=dict)


#: In every provider snapshot; the other fields appear only when set, so
#: releases made before they existed keep their ids.
_PROVIDER_CORE = {"kind", "base_url", "api_key_env"}


class FallbackSpec(_Strict):
    provider: str
    model: str
    params: dict[str, Any] = Field(default_factory=dict)


class SimToolSpec(_Strict):
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class SimRuleSpec(_Strict):
    """First matching rule answers: any keyword (word start, any case) or the regex."""

    when: list[str] = Field(default_factory=list)
    regex: str | None = None
    reply: str | dict[str, Any] | None = None
    tool: SimToolSpec | None = None


class SimulateSpec(_Strict):
    """A simulated model: deterministic answers (a mapping reply is sent as JSON),
    its own latency (else the provider's) and a real model whose prices it is costed at."""

    match: Literal["last_user", "all"] = "last_user"
    rules: list[SimRuleSpec] = Field(default_factory=list)
    default: str | dict[str, Any] | None = None
    latency: LatencySpec | None = None
    price_as: str | None = None


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


class SystemSpec(_Strict):
    description: str
    owner: str
    kind: Literal["llm", "classic"] = "llm"
    tier: Literal[1, 2, 3]
    risk: Literal["minimal", "limited", "high"]
    customer_facing: bool = False
    target_stage: Literal[1, 2, 3, 4] | None = None
    release: ReleaseSpec
    logging: Literal["full", "redacted", "hashed", "metadata"] = "redacted"
    redact: list[RedactRuleSpec] = Field(default_factory=list)
    retention_days: int | None = Field(None, ge=1)

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


class GatewaySpec(_Strict):
    """How ``trimtab gateway`` treats model names that are not ``trimtab/<system>``."""

    passthrough: bool = Field(True, description="false: only trimtab/<system> models are served")
    default_provider: str | None = Field(
        None, description="provider for bare model names; default: the only non-simulated one")
    models: list[str] = Field(default_factory=list, description="listed in GET /v1/models")
    logging: Literal["full", "redacted", "hashed", "metadata"] = "redacted"


class ProjectFile(_Strict):
    version: Literal[1] = 1
    project: str
    environments: list[str] = Field(default_factory=lambda: ["dev", "staging", "production"])
    providers: dict[str, ProviderSpec] = Field(default_factory=dict)
    artefact_store: str | None = None
    systems: dict[str, SystemSpec] = Field(default_factory=dict)
    channels: dict[str, ChannelSpec] = Field(default_factory=dict)
    alerts: dict[str, AlertRuleSpec] = Field(default_factory=dict)
    gateway: GatewaySpec = Field(default_factory=GatewaySpec)


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
            raise TrimtabError(
                f"{self.path.name}: no system named {name!r}.{_suggest(name, self.spec.systems)} "
                f"Declared systems: {', '.join(self.spec.systems) or 'none'}."
            ) from None

    def check_env(self, env: str) -> None:
        if env not in self.spec.environments:
            raise TrimtabError(
                f"unknown environment {env!r}.{_suggest(env, self.spec.environments)} "
                f"{self.path.name} declares: {', '.join(self.spec.environments)}. "
                "Fix: use one of those, or add it under `environments:`."
            )

    def provider(self, name: str) -> dict[str, Any]:
        if name in self.spec.providers:
            spec = self.spec.providers[name]
            return {"name": name, **spec.model_dump(include=_PROVIDER_CORE),
                    **spec.model_dump(exclude=_PROVIDER_CORE, exclude_defaults=True)}
        return {
            "name": name, "kind": BUILTIN_PROVIDERS[name], "base_url": None, "api_key_env": None,
        }


def find_project_file(start: Path | None = None) -> Path | None:
    """TRIMTAB_PROJECT, else trimtab.yaml in the working directory or a parent."""
    explicit = os.environ.get("TRIMTAB_PROJECT")
    if explicit:
        path = Path(explicit)
        return path / PROJECT_FILE if path.is_dir() else path
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def load_project(path: Path) -> Project:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrimtabError(
            f"{path}: no such project file. Fix: run `trimtab init` to create one."
        ) from None
    except UnicodeDecodeError as exc:
        raise TrimtabError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    located = yamlsource.load(path, text)
    problems = list(located.problems)
    spec = None
    if isinstance(located.data, dict):
        from trimtab import project_checks  # it imports the models above

        spec, found = project_checks.validate(located.data, located, path.parent)
        problems = project_checks.in_file_order(problems + found, path.name)
    elif located.data is not None:
        problems.append(
            f"{located.where(())}: the file must be a mapping with `project:` and `systems:` "
            "at the top. Fix: start from `trimtab init`."
        )
    if problems or spec is None:
        raise ProjectError(problems)
    return Project(path, spec)


# --- hints ------------------------------------------------------------------


def _suggest(word: str, choices) -> str:
    """Typos (difflib) and abbreviations ('prod' for 'production') both get a hint."""
    choices = list(choices)
    # As difflib.get_close_matches, but a tie goes to the choice listed first.
    ratios = [difflib.SequenceMatcher(None, c, word).ratio() for c in choices]
    best = max(ratios, default=0.0)
    close = [c for c, r in zip(choices, ratios, strict=True) if r >= 0.6 and r == best][:1]
    if not close and len(word) >= 3:
        close = [c for c in choices if c.startswith(word)][:1]
    return f" Did you mean {close[0]!r}?" if close else ""
