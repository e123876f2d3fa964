"""The project file, trimtab.yaml: the team's AI systems declared as code, in Git.

Loading reports every problem at once, each with file:line:column, the field
path, what is wrong and how to fix it, because a CI run that shows one error
per push wastes a morning.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trimtab import yamlsource
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


class ProjectFile(_Strict):
    version: Literal[1] = 1
    project: str
    environments: list[str] = Field(default_factory=lambda: ["dev", "staging", "production"])
    providers: dict[str, ProviderSpec] = Field(default_factory=dict)
    artefact_store: str | None = None
    systems: dict[str, SystemSpec] = Field(default_factory=dict)


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
    if located.data is not None and not isinstance(located.data, dict):
        problems.append(
            f"{located.where(())}: the file must be a mapping with `project:` and `systems:` "
            "at the top. Fix: start from `trimtab init`."
        )
    if problems:
        raise ProjectError(problems)
    try:
        spec = ProjectFile.model_validate(located.data)
    except ValidationError as exc:
        raise ProjectError([_describe(err, located) for err in exc.errors()]) from None
    problems = _check_semantics(spec, located, path.parent)
    if problems:
        raise ProjectError(problems)
    return Project(path, spec)


# --- problem messages ------------------------------------------------------


def _describe(err: dict[str, Any], located: yamlsource.Located) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    field = yamlsource.dotted(loc)
    given = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return (
            f"{located.where(loc, key=True)}: {field}: unknown key {loc[-1]!r}."
            f"{_suggest(str(loc[-1]), allowed)} Allowed here: {', '.join(allowed)}."
        )
    if kind == "missing":
        return (
            f"{located.where(loc[:-1])}: {field}: required key {loc[-1]!r} is missing. "
            f"Fix: add `{loc[-1]}:` under {yamlsource.dotted(loc[:-1])}."
        )
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return (
            f"{located.where(loc)}: {field}: {given!r} is not allowed. "
            f"Fix: use one of {expected}."
        )
    return f"{located.where(loc)}: {field}: {err['msg'].lower()}, got {given!r}. Fix: {_fix(kind)}"


def _fix(kind: str) -> str:
    return {
        "string_type": "write a string (quote it if it looks like a number or yes/no).",
        "int_type": "write a whole number without quotes.",
        "bool_type": "write true or false.",
        "dict_type": "write a mapping of `key: value` lines, indented under this key.",
        "list_type": "write a list, one `- item` per line.",
        "float_type": "write a number.",
    }.get(kind, "see docs/project-file.md for this field.")


def _allowed_keys(loc: tuple) -> list[str]:
    """The field names a mapping at ``loc`` may have, by walking the models."""
    annotation: Any = ProjectFile
    for part in loc:
        annotation = _unwrap_optional(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            annotation = field.annotation if field else None
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return []
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _suggest(word: str, choices) -> str:
    """Typos (difflib) and abbreviations ('prod' for 'production') both get a hint."""
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close and len(word) >= 3:
        close = [c for c in choices if c.startswith(word)][:1]
    return f" Did you mean {close[0]!r}?" if close else ""


def _check_semantics(spec: ProjectFile, located: yamlsource.Located, root: Path) -> list[str]:
    """What types alone cannot say: names, references between sections, files on disk."""
    problems: list[str] = []

    def problem(loc: tuple, message: str, *, key: bool = False) -> None:
        problems.append(f"{located.where(loc, key=key)}: {yamlsource.dotted(loc)}: {message}")

    if not spec.environments:
        problem(("environments",), "at least one environment is needed. "
                "Fix: environments: [dev, staging, production]")
    seen: set[str] = set()
    for i, env in enumerate(spec.environments):
        if not NAME.match(env):
            problem(("environments", i), f"{env!r} is not a valid name. Fix: use lowercase "
                    "letters, digits, '.', '_' or '-'.")
        if env in seen:
            problem(("environments", i), f"environment {env!r} is listed twice. Fix: remove one.")
        seen.add(env)
    providers = {*BUILTIN_PROVIDERS, *spec.providers}
    for name, provider in spec.providers.items():
        loc = ("providers", name)
        if provider.kind == "anthropic" and provider.api_key_env is None:
            problem(loc, "an Anthropic provider needs `api_key_env:`, the name of the "
                    "environment variable that holds the key.")
        if provider.api_key_env is not None and not ENV_VAR.match(provider.api_key_env):
            problem(loc + ("api_key_env",), "this must be the NAME of an environment variable "
                    "(e.g. OPENAI_API_KEY), never the key itself. Fix: export the key in that "
                    "variable and write its name here.")
    for name, system in spec.systems.items():
        loc = ("systems", name)
        if not NAME.match(name):
            problem(loc, f"{name!r} is not a valid system name. Fix: use lowercase letters, "
                    "digits, '.', '_' or '-' (e.g. complaint-router).", key=True)
        release = system.release
        rloc = loc + ("release",)
        if system.kind == "llm":
            for required in ("provider", "model"):
                if getattr(release, required) is None:
                    problem(rloc, f"an llm system needs `{required}:` in its release. "
                            f"Fix: add `{required}: ...` (e.g. provider: simulated, "
                            "model: sim-1).")
        elif not release.artefacts:
            problem(rloc, "a classic system needs at least one artefact (the model file). "
                    "Fix: artefacts: {model: models/churn.joblib}")
        refs = [(rloc + ("provider",), release.provider)] + [
            (rloc + ("fallbacks", i, "provider"), f.provider)
            for i, f in enumerate(release.fallbacks)
        ]
        for ref_loc, ref in refs:
            if ref is not None and ref not in providers:
                problem(ref_loc, f"unknown provider {ref!r}.{_suggest(ref, providers)} Fix: "
                        "declare it under `providers:` or use one of: "
                        f"{', '.join(sorted(providers))}.")
        for section in ("prompts", "artefacts"):
            for key, rel in getattr(release, section).items():
                file_loc = rloc + (section, key)
                target = (root / rel)
                if not target.is_file():
                    problem(file_loc, f"file {rel!r} does not exist (looked in {root}). "
                            "Fix: create it or correct the path, relative to trimtab.yaml.")
                elif section == "prompts":
                    try:
                        target.read_text(encoding="utf-8")
                    except UnicodeDecodeError:
                        problem(file_loc, f"prompt file {rel!r} is not UTF-8 text.")
    _check_runtime(spec, problem)
    return problems


_SECRET_HEADERS = {"authorization", "api-key", "x-api-key", "proxy-authorization"}
_SIM_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
_SIM_VARIABLES = {"keyword", "match", "input", "model"}


def _check_runtime(spec: ProjectFile, problem) -> None:
    """Runtime settings: keys stay out of the file, patterns compile, rules can answer."""
    for name, provider in spec.providers.items():
        loc = ("providers", name)
        if provider.simulate is not None and provider.kind != "simulated":
            problem(loc + ("simulate",), f"`simulate:` only applies to kind: simulated, this "
                    f"provider is kind: {provider.kind}. Fix: remove it.", key=True)
        for header in provider.headers:
            if header.lower() in _SECRET_HEADERS:
                problem(loc + ("headers", header), "a credential header must not be written in "
                        "the project file. Fix: put the key in an environment variable, name it "
                        "in `api_key_env:` (and `api_key_header:` if it is not a Bearer token).",
                        key=True)
        for model, price in provider.prices.items():
            for field, value in price:
                if isinstance(value, TieredPriceSpec):
                    starts = [t.start for t in value.tiers]
                    if starts != sorted(set(starts)):
                        problem(loc + ("prices", model, field, "tiers"), "tiers must be listed "
                                "by increasing `start`, each start once. Fix: reorder them.")
    for name, system in spec.systems.items():
        loc = ("systems", name)
        seen: set[str] = set()
        for i, rule in enumerate(system.redact):
            if not NAME.match(rule.name) or rule.name in seen:
                problem(loc + ("redact", i, "name"), f"{rule.name!r} must be a unique name of "
                        "lowercase letters, digits, '.', '_' or '-' (e.g. employee-id).")
            seen.add(rule.name)
            _check_regex(rule.pattern, loc + ("redact", i, "pattern"), problem)
        simulate = system.release.simulate
        if simulate is None:
            continue
        sloc = loc + ("release", "simulate")
        for i, rule in enumerate(simulate.rules):
            rloc = sloc + ("rules", i)
            if not rule.when and rule.regex is None:
                problem(rloc, "a rule needs `when:` (keywords) or `regex:`. Fix: add "
                        "when: [leak, seal].")
            if rule.reply is None and rule.tool is None:
                problem(rloc, "a rule needs `reply:` (text or a JSON mapping) or `tool:`.")
            groups = _check_regex(rule.regex, rloc + ("regex",), problem) if rule.regex else set()
            _check_placeholders(rule.reply, rloc + ("reply",), _SIM_VARIABLES | groups, problem)
        _check_placeholders(simulate.default, sloc + ("default",), _SIM_VARIABLES, problem)


def _check_regex(pattern: str, loc: tuple, problem) -> set[str]:
    try:
        return set(re.compile(pattern).groupindex)
    except re.error as exc:
        problem(loc, f"not a valid regular expression: {exc}. Fix: check brackets and escapes "
                "(in YAML, single-quote the pattern so backslashes stay as written).")
        return set()


def _check_placeholders(reply: Any, loc: tuple, allowed: set[str], problem) -> None:
    texts = [reply] if isinstance(reply, str) else []
    if isinstance(reply, dict):
        texts = [v for v in _leaves(reply) if isinstance(v, str)]
    for text in texts:
        for unknown in sorted(set(_SIM_PLACEHOLDER.findall(text)) - allowed):
            problem(loc, f"unknown placeholder {{{{{unknown}}}}}. Fix: use one of "
                    f"{', '.join(sorted(allowed))} (regex named groups count too).")


def _leaves(value: Any):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value
