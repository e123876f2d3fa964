"""Which release serves a call: held in memory for the hot path, kept current by the store.

A promote, canary or rollback in another process (CLI, CI, another gateway
replica) lands in the store and moves its change counter (store/changes.py).
A background thread per process waits on that signal (PostgreSQL's
LISTEN/NOTIFY, or the counter read every 0.2 s on SQLite) and re-reads the
routes it holds as soon as it moves, so every process serves the new state
within a second of the change, busy or idle, and calls never read the store
(only the first call of a (system, env) does, inline).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import weakref
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from trimtab.store import Store
from trimtab.store import changes as change_store
from trimtab.store import deployments as deployment_store
from trimtab.store import releases as release_store
from trimtab.store import suspensions as suspension_store
from trimtab.store import systems as system_store
from trimtab.store.releases import Release
from trimtab.store.suspensions import Suspension

log = logging.getLogger("trimtab")


@dataclass(frozen=True)
class Route:
    """The stable release of a (system, env), and a candidate beside it if any."""

    stable: Release | None
    candidate: Release | None = None
    mode: str | None = None  # canary | shadow
    percent: int = 0
    #: Set while the kill switch holds this (system, env): calls get its safe answer.
    suspended: Suspension | None = None

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
    """The routes this process has served, each tagged with the change counter it
    was read at; the watcher re-reads every route older than the counter."""

    def __init__(self, store: Store, *, poll: float = 0.2, recheck: float = 1.0):
        self.store = store
        self.poll = poll  # SQLite: seconds between looks at the change counter
        self.recheck = recheck  # PostgreSQL: seconds between looks besides NOTIFY
        self._lock = threading.Lock()
        self._routes: dict[tuple[str, str], Route] = {}
        self._seen: dict[tuple[str, str], int] = {}  # the counter each route was read at
        self._pid: int | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._listeners: list[Callable[[], None]] = []
        self._counter: int | None = None  # the change counter the listeners last had
        self._listener_failing = False
        _CACHES.add(self)

    def forked(self) -> None:
        """In a forked child: a lock the parent's watcher held at the fork would
        stay held for ever here (the first call hung); the next call starts a
        watcher of the child's own (see ``_start``)."""
        self._lock = threading.Lock()

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` in the watcher thread whenever the store's state moved
        since the watcher's last look (a promote, rollback, canary or suspend in
        any process; its first look counts as a move). The watcher starts now,
        not at the first call.

        For what must follow the deployments without serving a call first (metric
        series that start at zero); a listener that fails is logged, the next
        look calls it again."""
        with self._lock:
            self._listeners.append(listener)
        if self._pid != os.getpid():
            self._start()

    def route(self, system: str, env: str) -> Route:
        """The route from memory. Only a (system, env) never seen before is read
        in the caller's thread; the watcher keeps the others current, so a slow
        or unreachable store never stalls a call once its route is known."""
        if self._pid != os.getpid():
            self._start()
        key = (system, env)
        hit = self._routes.get(key)
        if hit is not None:
            return hit
        with self._lock:
            hit = self._routes.get(key)
            if hit is None:
                [(seen, hit)] = self._load([key], {})
                self._routes[key], self._seen[key] = hit, seen
            return hit

    def get(self, system: str, env: str) -> Release | None:
        return self.route(system, env).stable

    def invalidate(self) -> None:
        """Forget every route: the next call of each reads it afresh (this process
        just changed them, and wants to see its own change at once)."""
        with self._lock:
            self._routes.clear()
            self._seen.clear()

    def close(self) -> None:
        self._stop.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(self.recheck + 1)

    # --- the watcher ------------------------------------------------------------

    def _start(self) -> None:
        """Start the watcher: on first use, and again in a forked child, which
        inherits the routes but not the thread."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stop = threading.Event()
            feed = change_store.ChangeFeed(self.store, poll=self.poll, recheck=self.recheck)
            # The thread holds the cache weakly: one a caller forgot to close() is
            # collected with its workspace, and the thread then ends at its next look.
            self._watcher = threading.Thread(target=_watch, args=(weakref.ref(self), feed,
                                                                  self._stop),
                                             daemon=True, name="trimtab-active")
            self._watcher.start()

    def _catch_up_logged(self, feed: change_store.ChangeFeed, failing: bool) -> bool:
        """One look; whether the store is failing now (logged when that changes)."""
        try:
            self._catch_up(feed)
        except Exception as exc:  # noqa: BLE001 - keep serving what was active
            if not failing:
                log.warning("trimtab: cannot re-read the active releases (%s); serving the "
                            "last known ones until the store answers", type(exc).__name__)
            return True
        if failing:
            log.info("trimtab: active releases readable again")
        return False

    def _catch_up(self, feed: change_store.ChangeFeed) -> None:
        """Re-read every route older than the change counter; tell the listeners
        when the counter moved."""
        if not self._seen and not self._listeners:
            return
        now = feed.version()
        stale = [key for key, seen in list(self._seen.items()) if seen < now]
        if stale:
            self._refresh(stale)
        if self._counter is not None and now <= self._counter:
            return
        # The counter is taken as seen only once every listener has had it: one that
        # failed (the store went away between the looks) is called again at the next.
        failed = False
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # noqa: BLE001 - a listener must not stop the routes
                failed = True
                if not self._listener_failing:  # once per outage, not every look
                    log.exception("trimtab: a listener for release changes failed; "
                                  "calling it again at the next look")
        self._listener_failing = failed
        if not failed:
            self._counter = now

    def _refresh(self, stale: list[tuple[str, str]]) -> None:
        previous = dict(self._routes)
        fresh = self._load(stale, previous)
        with self._lock:
            for key, (seen, route) in zip(stale, fresh, strict=True):
                if key in self._seen and self._seen[key] < seen:  # not forgotten meanwhile
                    self._routes[key], self._seen[key] = route, seen

    def _load(self, keys: list[tuple[str, str]],
              previous: dict[tuple[str, str], Route]) -> list[tuple[int, Route]]:
        """Each route with the counter it is at least as new as: the counter is
        read first, in the same transaction."""
        known = {r.id: r for p in previous.values() for r in (p.stable, p.candidate)
                 if r is not None}
        with self.store.read() as conn:
            seen = change_store.version(conn)
            return [(seen, self._read(conn, system, env, known)) for system, env in keys]

    @staticmethod
    def _read(conn, system: str, env: str, known: dict[str, Release]) -> Route:
        found = system_store.find(conn, system)
        if found is None:
            return Route(None)
        suspended = suspension_store.current(conn, system, env)
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
            suspended=suspended,
        )


#: Every cache, for the fork handler (weak: one nobody holds just goes).
_CACHES: weakref.WeakSet[ActiveReleases] = weakref.WeakSet()


def _forked() -> None:
    for cache in list(_CACHES):
        cache.forked()


os.register_at_fork(after_in_child=_forked)


def _watch(ref: weakref.ref[ActiveReleases], feed: change_store.ChangeFeed,
           stop: threading.Event) -> None:
    """The watcher thread: a look at the change signal, then a wait for the next one."""
    failing = False
    try:
        while not stop.is_set():
            active = ref()
            if active is None:
                return
            failing = active._catch_up_logged(feed, failing)
            del active
            if not stop.is_set():
                feed.wait()
    finally:
        feed.release()
