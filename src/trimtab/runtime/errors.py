"""One exception type for everything a provider call can end in.

The router decides what to do next (retry, fall back, give up) from ``kind``
alone, so every provider maps its own failures onto the same small set.
Messages are scrubbed of keys at construction: an error is logged, recorded
and shown to people, so a key must never be able to reach one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from trimtab.runtime.redaction import scrub_secrets

ErrorKind = Literal[
    "timeout", "rate_limit", "server", "bad_request", "auth", "malformed", "connection",
    "circuit_open", "not_configured",
]

#: Worth another try on the same provider after a pause.
RETRYABLE: frozenset[str] = frozenset({"timeout", "rate_limit", "server", "connection"})
#: Worth trying the next provider in the chain. A 400 is the caller's own
#: request, so another provider would reject it too: it goes straight back.
#: Neither do ``auth`` (the upstream refused our key: 401/403) and
#: ``not_configured`` (its key variable is unset, or a simulated provider where
#: the project does not allow one): a fallback would hide a broken deployment
#: behind answers from elsewhere, so the call fails, recorded, and people see it.
FALLBACK: frozenset[str] = RETRYABLE | {"malformed", "circuit_open"}
#: Failures that say nothing against the upstream's health, so they never open
#: its circuit: it answered (the request or our key was wrong), or it was never
#: called (nothing to call it with).
NOT_UPSTREAM_FAULTS: frozenset[str] = frozenset({"bad_request", "auth", "not_configured"})


class ProviderError(Exception):
    """A failed provider call, classified.

    ``partial`` is true when a stream failed after some output was delivered:
    the caller has seen a truncated answer and must not treat it as complete.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        provider: str | None = None,
        model: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        partial: bool = False,
        secrets: Iterable[str] = (),
    ):
        self.kind = kind
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after
        self.partial = partial
        self.message = scrub_secrets(message, secrets)
        where = f"{provider}/{model}" if provider and model else (provider or model or "provider")
        code = f" HTTP {status}" if status else ""
        super().__init__(f"{where}: {kind}{code}: {self.message}")

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    @property
    def fallback_ok(self) -> bool:
        return self.kind in FALLBACK

    def to_dict(self) -> dict:
        """The shape a recorder or an HTTP error body can carry."""
        return {
            "kind": self.kind,
            "message": self.message,
            "provider": self.provider,
            "model": self.model,
            "status": self.status,
            "retry_after": self.retry_after,
            "partial": self.partial,
        }


def kind_for_status(status: int) -> ErrorKind:
    """HTTP status → kind. 529 is Anthropic's 'overloaded'; 408 is a server-side timeout."""
    if status == 429:
        return "rate_limit"
    if status == 408:
        return "timeout"
    if status in (401, 403):
        return "auth"
    if status >= 500:
        return "server"
    return "bad_request"
