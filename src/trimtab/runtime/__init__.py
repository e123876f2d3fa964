"""Calling models: providers, resilience, cost, privacy — as a library.

The SDK, the gateway and the recorder build on this; nothing here touches
the store. The usual entry point is a release snapshot::

    router = router_for_release(release.spec)
    result = await router.complete(ChatRequest(prompt_messages(release.spec["prompts"], v)))
    result.response.content, result.cost.usd, result.attempts

Only standard library, httptools and genai-prices underneath.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trimtab import plugins
from trimtab.runtime.config import ProviderSpec, SimulateSpec
from trimtab.runtime.cost import Cost, cost_of
from trimtab.runtime.errors import ErrorKind, ProviderError
from trimtab.runtime.messages import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    StreamAccumulator,
    Usage,
)
from trimtab.runtime.redaction import LoggingMode, Redactor, compile_rules, redact
from trimtab.runtime.resilience import (
    DEFAULT_BREAKERS,
    Attempt,
    BreakerRegistry,
    CallFailed,
    CallResult,
    CircuitBreaker,
    Provider,
    Router,
    StreamCall,
    Target,
)
from trimtab.runtime.simulated import RefusedSimulated
from trimtab.runtime.templates import TemplateError, prompt_messages, render

if TYPE_CHECKING:
    from trimtab.runtime.http1 import Client

__all__ = [
    "Attempt", "BreakerRegistry", "CallFailed", "CallResult", "ChatChunk", "ChatRequest",
    "ChatResponse", "CircuitBreaker", "Cost", "DEFAULT_BREAKERS", "ErrorKind", "LoggingMode",
    "PRICE_TABLE", "Provider", "ProviderError", "Redactor", "Router", "StreamAccumulator",
    "StreamCall", "Target", "TemplateError", "Usage", "compile_rules", "cost_of",
    "make_provider", "prompt_messages", "redact", "render", "router_for_release",
    "targets_for_release",
]

def __getattr__(name: str) -> Any:
    if name == "PRICE_TABLE":  # names genai-prices' version: loaded on first use
        from trimtab.runtime.cost import price_table

        globals()[name] = value = price_table()  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def make_provider(entry: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                  client: Client | None = None,
                  answers: SimulateSpec | Mapping[str, Any] | None = None,
                  rng: random.Random | None = None,
                  simulated_refused: str | None = None) -> Provider:
    """A provider from its release-snapshot entry (``{"name", "kind", ...}``).

    The kind is looked up in the ``trimtab.providers`` entry points (the
    built-in ones register there too) and called as
    ``factory(name, spec, env=, client=, answers=, rng=)``. ``env`` is where
    keys are looked up (default ``os.environ``); ``answers`` are the release's
    ``simulate:`` rules, used by simulated providers only. ``simulated_refused``,
    when given, is why a simulated provider may not answer here: it then fails
    every call with that reason (``not_configured``).
    """
    spec = ProviderSpec.model_validate({k: v for k, v in entry.items() if k != "name"})
    if spec.kind == "simulated" and simulated_refused is not None:
        return RefusedSimulated(str(entry["name"]), spec, simulated_refused)
    factory = plugins.load(plugins.PROVIDERS, spec.kind)
    return factory(str(entry["name"]), spec, env=env if env is not None else os.environ,
                   client=client, answers=answers, rng=rng)


def targets_for_release(spec: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                        client: Client | None = None,
                        rng: random.Random | None = None,
                        simulated_refused: str | None = None) -> list[Target]:
    """(provider, model, params) in chain order; fallbacks inherit the release's params.

    With ``simulated_refused`` (simulated providers may not answer here) a
    simulated fallback leaves the chain, so a real failure is what the caller
    sees, and a simulated primary fails every call with that reason.
    """
    if not spec.get("provider") or not spec.get("model"):
        raise ValueError(f"the release of {spec.get('system')!r} names no provider/model to call")
    providers: dict[str, Provider] = {}

    def provider(entry: Mapping[str, Any]) -> Provider:
        if entry["name"] not in providers:
            providers[entry["name"]] = make_provider(entry, env=env, client=client,
                                                     answers=spec.get("simulate"), rng=rng,
                                                     simulated_refused=simulated_refused)
        return providers[entry["name"]]

    base = dict(spec.get("params") or {})
    targets = [Target(provider(spec["provider"]), spec["model"], base)]
    for fallback in spec.get("fallbacks") or ():
        if simulated_refused is not None and fallback["provider"].get("kind") == "simulated":
            continue
        targets.append(Target(provider(fallback["provider"]), fallback["model"],
                              {**base, **(fallback.get("params") or {})}))
    return targets


def router_for_release(spec: Mapping[str, Any], *, env: Mapping[str, str] | None = None,
                       breakers: BreakerRegistry | None = None,
                       client: Client | None = None,
                       rng: random.Random | None = None,
                       simulated_refused: str | None = None) -> Router:
    """The router for a release snapshot: its model, then its fallbacks, in order."""
    return Router(targets_for_release(spec, env=env, client=client, rng=rng,
                                      simulated_refused=simulated_refused),
                  breakers=breakers, rng=rng)
