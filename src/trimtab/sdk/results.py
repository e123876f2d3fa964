"""What a call gives back: its result, and the errors a caller catches when no release
is active or the kill switch holds the system."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.runtime import CallFailed, ChatResponse, ProviderError, Usage


class NoActiveRelease(TrimtabError):
    """Nothing is promoted for this system in this environment yet."""


class SystemSuspended(CallFailed):
    """The kill switch holds this system and its declared safe answer is an error
    (`trimtab suspend`): catch it as the application's stop signal. The gateway
    answers it as a 503."""

    def __init__(self, message: str):
        ProviderError.__init__(self, "suspended", message,  # type: ignore[arg-type]
                               provider="trimtab", model="suspended", status=503)
        self.attempts = []
        self.last = self


@dataclass
class RunResult:
    """What one call of a system returned, and how."""

    text: str | None
    call_id: str
    release_id: str | None  # None for a direct (passthrough) call
    route: str  # primary | canary
    provider: str
    model: str
    latency_ms: float
    usage: Usage | None
    cost_usd: Decimal | None
    attempts: list[dict[str, Any]]
    fallback_used: bool
    json: Any = None
    json_error: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    ttft_ms: float | None = None
    response: ChatResponse | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text, "json": self.json, "call_id": self.call_id,
            "release_id": self.release_id, "route": self.route, "provider": self.provider,
            "model": self.model, "latency_ms": self.latency_ms,
            "usage": self.usage.to_openai() if self.usage else None,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
            "attempts": self.attempts, "fallback_used": self.fallback_used,
        }


def parse_json(text: str | None) -> tuple[Any, str | None]:
    if text is None:
        return None, "the answer has no text"
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"the answer is not valid JSON: {exc}"
