"""The OpenAI-compatible HTTP gateway: ``trimtab gateway``.

Any OpenAI client can call a system's active release as
``model="trimtab/<system>"`` (or a provider's model as it is), with
virtual keys, per-user attribution, retries, fallback, canary and shadow,
and every call recorded. ``Gateway(ws)`` is the ASGI app; ``serve`` runs it.
"""

from __future__ import annotations

from trimtab.gateway.app import Gateway
from trimtab.gateway.server import serve

__all__ = ["Gateway", "serve"]
