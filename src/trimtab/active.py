"""Which release is active, cached for the hot path and refreshed within seconds.

A promote or rollback in another process (CLI, CI, another gateway replica)
lands in the store; each runtime re-reads at most every ``ttl`` seconds, so a
rollback takes effect everywhere within that time without any messaging.
"""

from __future__ import annotations

import threading
import time

from trimtab.store import Store
from trimtab.store import deployments as deployment_store
from trimtab.store import releases as release_store
from trimtab.store import systems as system_store
from trimtab.store.releases import Release


class ActiveReleases:
    def __init__(self, store: Store, ttl: float = 2.0):
        self.store = store
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[float, Release | None]] = {}

    def get(self, system: str, env: str) -> Release | None:
        key = (system, env)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
            release = self._load(system, env, hit[1] if hit else None)
            self._cache[key] = (time.monotonic(), release)
            return release

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def _load(self, system: str, env: str, previous: Release | None) -> Release | None:
        with self.store.read() as conn:
            found = system_store.find(conn, system)
            current = deployment_store.active(conn, found.id, env) if found else None
            if current is None:
                return None
            if previous is not None and previous.id == current.release_id:
                return previous
            return release_store.resolve(conn, current.release_id)
