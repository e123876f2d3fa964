"""Who may call the gateway: virtual keys, checked without a database read per request.

The live keys are re-read in the background every ``ttl`` seconds (see
refresher.py), so a revoke reaches every replica within that time and the request path only
does dictionary lookups. A key text is checked against its stored hash once
(one read, off the event loop); after that it is known. While the store is
unreachable the last known keys keep working, so a database outage does
not lock out applications that were already calling.

The gateway is open (no key needed) only while no key has ever been
created: revoking the last key must not unlock it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from trimtab.gateway.errors import GatewayError
from trimtab.gateway.refresher import Refresher

if TYPE_CHECKING:
    from trimtab.store.keys import ApiKey
    from trimtab.workspace import Workspace

log = logging.getLogger("trimtab.gateway")

#: Refused key texts remembered between refreshes; past this, the oldest are forgotten.
MAX_REFUSED = 10_000


def unauthorized(message: str) -> GatewayError:
    return GatewayError(401, message, type="invalid_request_error", code="invalid_api_key")


class KeyRing:
    def __init__(self, ws: Workspace, ttl: float = 2.0):
        self.ws = ws
        self.ttl = ttl
        self.live: dict[str, ApiKey] = {}
        self.any_keys = False
        self.loaded = False
        self.loaded_at = float("-inf")
        self._known: dict[str, str] = {}  # key text → key id, checked against its hash
        self._refused: dict[str, None] = {}
        self._refresher = Refresher(self.refresh, ttl, "API keys",
                                    lambda: f"using the {len(self.live)} known")

    @property
    def open(self) -> bool:
        return self.loaded and not self.any_keys

    def refresh(self) -> None:
        """Re-read the keys (blocking: call from a thread or at start-up)."""
        keys = self.ws.keys()
        was_open = self.open
        self.live = {k.id: k for k in keys if k.revoked_at is None}
        self.any_keys = bool(keys)
        self.loaded, self.loaded_at = True, time.monotonic()
        self._refused = {}
        if was_open and not self.open:
            log.warning("gateway: an API key exists now; every request needs one")

    async def start(self) -> None:
        await self._refresher.start(must_load=True)

    async def stop(self) -> None:
        await self._refresher.stop()

    async def check(self, authorization: bytes | None) -> ApiKey | None:
        """The caller's key; None when the gateway is open. Raises a 401 otherwise."""
        if not self.loaded:  # served without a lifespan start-up: never open by accident
            await asyncio.to_thread(self.refresh)
        if not self.any_keys:
            return None
        if not authorization:
            raise unauthorized("missing API key. Fix: send `Authorization: Bearer <key>` "
                               "with a key from `trimtab keys create`.")
        scheme, _, text = authorization.decode("latin-1").partition(" ")
        text = text.strip()
        if scheme.lower() != "bearer" or not text:
            raise unauthorized("the Authorization header must be `Bearer <key>`.")
        key_id = self._known.get(text)
        if key_id is None:
            key_id = await self._first_check(text)
        key = self.live.get(key_id)
        if key is None:
            raise unauthorized("this API key has been revoked. Fix: ask for a new one "
                               "(`trimtab keys create`).")
        return key

    async def _first_check(self, text: str) -> str:
        if text in self._refused:
            raise unauthorized("invalid API key.")
        try:
            key = await asyncio.to_thread(self.ws.authenticate, text)
        except Exception as exc:  # noqa: BLE001 - the store is down; known keys still work
            log.warning("gateway: cannot check a new API key (%s)", type(exc).__name__)
            raise GatewayError(503, "cannot check this API key now: the store is unreachable. "
                               "Try again shortly.", type="server_error",
                               code="store_unavailable", headers={"retry-after": "5"}) from None
        if key is None:
            if len(self._refused) >= MAX_REFUSED:
                self._refused.pop(next(iter(self._refused)))
            self._refused[text] = None
            raise unauthorized("invalid API key.")
        self._known[text] = key.id
        self.live.setdefault(key.id, key)  # created since the last refresh
        return key.id
