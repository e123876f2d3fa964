"""Re-reading the store in the background, so a request never waits on it.

The key ring (who may call) and the budget guard (whose budget is spent) both
keep what they need in memory and re-read it every ``ttl`` seconds, off the
event loop, whether or not requests come: a gateway that idles overnight
still sees a revoke or a spent budget on its next request. A failed re-read
keeps the last known state (a database outage must not lock callers out or
let them in) and is logged once, until a read succeeds again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("trimtab.gateway")


class Refresher:
    """Runs the blocking ``refresh`` in a thread every ``ttl`` seconds while started.

    ``what`` names the data in log lines ("API keys"); ``keeping`` says, when a
    re-read fails, what is served meanwhile ("using the 3 known").
    """

    def __init__(self, refresh: Callable[[], object], ttl: float, what: str,
                 keeping: Callable[[], str]):
        self.refresh = refresh
        self.ttl = ttl
        self.what = what
        self.keeping = keeping
        self._task: asyncio.Task | None = None

    async def start(self, *, must_load: bool) -> None:
        """Read once now, then every ``ttl`` seconds. ``must_load``: a first read that
        fails stops the start (keys: never serve on none known); otherwise it is
        logged and retried on the next tick (budgets: serve, and enforce once readable)."""
        try:
            await asyncio.to_thread(self.refresh)
        except Exception as exc:  # noqa: BLE001 - a store that is down must not stop the start
            if must_load:
                raise
            log.warning("gateway: cannot read %s (%s); retrying in %gs", self.what,
                        type(exc).__name__, self.ttl)
        self._task = asyncio.get_running_loop().create_task(self._forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _forever(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.ttl)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as exc:  # noqa: BLE001 - keep the last known state
                if not failing:
                    log.warning("gateway: cannot re-read %s (%s); %s", self.what,
                                type(exc).__name__, self.keeping())
                failing = True
                continue
            if failing:
                log.info("gateway: %s readable again", self.what)
            failing = False
