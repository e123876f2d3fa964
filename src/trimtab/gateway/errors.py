"""Every failure the gateway can answer with, in OpenAI's error format.

Clients written for OpenAI branch on the status code (their SDKs raise
``RateLimitError`` on 429, retry 5xx, give up on 4xx) and show
``error.message``, so each of trimtab's failures maps onto the status an
OpenAI client already handles, and the message says what to fix. Messages
come from our own text or from ProviderError (already scrubbed of provider
keys); the client's own key is never echoed.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from trimtab.errors import PluginError, RecordingUnavailable, StoreUnavailable, TrimtabError
from trimtab.runtime import CallFailed, ProviderError, TemplateError
from trimtab.sdk.results import NoActiveRelease

log = logging.getLogger("trimtab.gateway")


class GatewayError(Exception):
    """An HTTP error answer: status, OpenAI error body, extra headers."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}

    def body(self) -> bytes:
        return json.dumps(self.to_dict()).encode()


def bad_request(message: str, param: str | None = None,
                code: str = "invalid_request") -> GatewayError:
    return GatewayError(400, message, param=param, code=code)


#: Upstream failure kind → (status, type, code). An upstream ``auth`` failure
#: is the gateway's own configuration (the provider key), not the client's
#: key, so it is a 502 and never a 401 that would make the client drop its key.
_UPSTREAM: dict[str, tuple[int, str, str]] = {
    "bad_request": (400, "invalid_request_error", "upstream_bad_request"),
    "rate_limit": (429, "rate_limit_error", "rate_limit_exceeded"),
    "timeout": (504, "server_error", "upstream_timeout"),
    "circuit_open": (503, "server_error", "circuit_open"),
    "suspended": (503, "server_error", "system_suspended"),
    "auth": (502, "server_error", "upstream_auth"),
    # The provider's key variable is unset, or a simulated provider where the
    # project does not allow one: the gateway's configuration, never a fake answer.
    "not_configured": (503, "server_error", "provider_not_configured"),
    "server": (502, "server_error", "upstream_error"),
    "malformed": (502, "server_error", "upstream_malformed"),
    "connection": (502, "server_error", "upstream_connection"),
}


def from_exception(exc: BaseException, *, messages_given: bool = True) -> GatewayError:
    """The answer for an exception raised while serving a call."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, CallFailed):
        status, type_, code = _UPSTREAM.get(exc.kind, (502, "server_error", "upstream_error"))
        headers = {}
        if status in (429, 503) and exc.kind != "not_configured":
            wait = exc.retry_after if exc.retry_after is not None else 1.0
            headers["retry-after"] = str(max(1, math.ceil(wait)))
        return GatewayError(status, str(exc), type=type_, code=code, headers=headers)
    if isinstance(exc, StoreUnavailable):
        # Only a (system, env) this process has never routed needs the store.
        return GatewayError(503, "the store is unreachable and this system's active release "
                            "is not known yet; retry shortly", type="server_error",
                            code="store_unavailable", headers={"retry-after": "5"})
    if isinstance(exc, RecordingUnavailable):
        # The spool's disk is full: this system's calls are not answered unrecorded.
        return GatewayError(503, str(exc), type="server_error", code="recording_unavailable",
                            headers={"retry-after": "5"})
    if isinstance(exc, PluginError):
        # A release names a provider kind this gateway's environment lacks: its setup,
        # not the client's request.
        return GatewayError(503, str(exc), type="server_error", code="provider_unavailable")
    if isinstance(exc, NoActiveRelease):
        return GatewayError(409, str(exc), param="model", code="no_active_release")
    if isinstance(exc, TemplateError):
        return bad_request(str(exc), "variables", "missing_variable")
    if isinstance(exc, ProviderError):  # refused before any upstream call
        return bad_request(exc.message, "messages")
    if isinstance(exc, TrimtabError):
        return bad_request(str(exc), None if messages_given else "messages")
    log.error("gateway: unexpected %s while serving a call", type(exc).__name__,
              exc_info=exc)
    return GatewayError(500, f"internal error ({type(exc).__name__}); the gateway log has "
                        "the details", type="server_error", code="internal_error")
