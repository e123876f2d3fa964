"""Which release serves a call, cached for the hot path and refreshed within seconds.

A promote, canary or rollback in another process (CLI, CI, another gateway
replica) lands in the store; each runtime re-reads at most every ``ttl``
seconds, so a rollback takes effect everywhere within that time without any
messaging between processes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import zlib
from dataclasses import dataclass

from trimtab.store import Store
from trimtab.store import deployments as deployment_store
from trimtab.store import releases as release_store
from trimtab.store import systems as system_store
from trimtab.store.releases import Release

log = logging.getLogger("trimtab")


@dataclass(frozen=True)
class Route:
    """The stable release of a (system, env), and a candidate beside it if any."""

    stable: Release | None
    candidate: Release | None = None
    mode: str | None = None  # canary | shadow
    percent: int = 0

    def _hit(self, system: str, user: str | None) -> bool:
        if user:  # sticky: a user sees the same release on every call
            return zlib.crc32(f"{system}\0{user}".encode()) % 100 < self.percent
        return random.random() * 100 < self.percent

    def pick(self, system: str, user: str | None) -> tuple[Release | None, str]:
        """The release that answers this call, and how it was chosen."""
        if self.mode == "canary" and self._hit(system, user):
            return self.candidate, "canary"
        return self.stable, "primary"

    def shadow(self, system: str, user: str | None) -> Release | None:
        """The release to call in the background as well, if this call is sampled."""
        if self.mode == "shadow" and self._hit(system, user):
            return self.candidate
        return None


class ActiveReleases:
    def __init__(self, store: Store, ttl: float = 2.0):
        self.store = store
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, Route]] = {}
        self._refreshing: set[tuple[str, str]] = set()

    def route(self, system: str, env: str) -> Route:
        """The route from memory. Only a (system, env) never seen before is read
        in the caller's thread; a stale one is served while a background thread
        re-reads it, so a slow or unreachable store never stalls a call (or the
        gateway's event loop) once a route is known."""
        key = (system, env)
        hit = self._cache.get(key)
        if hit is not None:
            if time.monotonic() - hit[0] >= self.ttl:
                self._refresh_soon(key, hit[1])
            return hit[1]
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                hit = self._cache[key] = (time.monotonic(), self._load(system, env, None))
            return hit[1]

    def _refresh_soon(self, key: tuple[str, str], previous: Route) -> None:
        with self._lock:
            if key in self._refreshing:
                return
            self._refreshing.add(key)
        threading.Thread(target=self._refresh, args=(key, previous), daemon=True,
                         name="trimtab-active").start()

    def _refresh(self, key: tuple[str, str], previous: Route) -> None:
        try:
            route = self._load(*key, previous)
        except Exception as exc:  # noqa: BLE001 - keep serving what was active
            log.warning("trimtab: cannot re-read the active release of %s in %s (%s); "
                        "serving the last known one", *key, type(exc).__name__)
            route = previous
        with self._lock:
            self._cache[key] = (time.monotonic(), route)
            self._refreshing.discard(key)

    def get(self, system: str, env: str) -> Release | None:
        return self.route(system, env).stable

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def _load(self, system: str, env: str, previous: Route | None) -> Route:
        known = {}
        if previous is not None:
            known = {r.id: r for r in (previous.stable, previous.candidate) if r is not None}
        with self.store.read() as conn:
            found = system_store.find(conn, system)
            if found is None:
                return Route(None)
            stable = deployment_store.active(conn, found.id, env)
            split = deployment_store.candidate(conn, found.id, env)

            def release(deployment) -> Release | None:
                if deployment is None:
                    return None
                return known.get(deployment.release_id) or release_store.resolve(
                    conn, deployment.release_id
                )

            return Route(
                stable=release(stable), candidate=release(split),
                mode=split.action if split else None, percent=split.percent or 0 if split else 0,
            )
