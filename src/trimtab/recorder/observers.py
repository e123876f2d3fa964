"""Who hears of each call record once it is spooled: the exporters (Prometheus,
OpenTelemetry) and whatever else an application subscribes.

An observer that fails is logged and skipped: exporting telemetry must never
fail the call it describes. An exporter that buffers (OpenTelemetry's batch
span processor) also gives how to flush and close it, so that a workspace's
``flush()`` and ``close()`` push out what it holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from trimtab.recorder.records import CallRecord

log = logging.getLogger("trimtab")

Observer = Callable[[CallRecord], Any]


class Observers(list):
    """The observers, in the order they subscribed (a list, as ``ws.observers``
    always was), with the flush and close hooks of those that buffer."""

    def __init__(self) -> None:
        super().__init__()
        self._hooks: list[tuple[Observer, Callable[[float], bool], Callable[[], None]]] = []

    def subscribe(self, observer: Observer, *, flush: Callable[[float], bool] | None = None,
                  close: Callable[[], None] | None = None) -> None:
        self.append(observer)
        if flush is not None and close is not None:
            self._hooks.append((observer, flush, close))

    def unsubscribe(self, observer: Observer) -> None:
        """Take ``observer`` out, with its hooks (compared by equality: a bound
        method is a new object each time it is looked up)."""
        if observer in self:
            self.remove(observer)
        self._hooks = [hooks for hooks in self._hooks if hooks[0] != observer]

    def notify(self, record: CallRecord) -> None:
        for observer in self:
            try:
                observer(record)
            except Exception:  # noqa: BLE001 - telemetry must not break calls
                log.exception("call observer %r failed", observer)

    def flush(self, timeout: float) -> bool:
        """Push out what the buffering exporters hold; False if any did not finish."""
        done = True
        for _, flush, _ in list(self._hooks):
            try:
                done = bool(flush(timeout)) and done
            except Exception:  # noqa: BLE001 - telemetry must not break the caller
                log.exception("telemetry flush %r failed", flush)
                done = False
        return done

    def close(self) -> None:
        hooks, self._hooks = self._hooks, []
        for _, _, close in hooks:
            try:
                close()
            except Exception:  # noqa: BLE001
                log.exception("telemetry close %r failed", close)
