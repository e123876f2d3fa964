"""The alert loop: evaluate every rule, then send what the outbox holds.

``trimtab monitor`` runs ``run_monitor`` in the foreground; ``trimtab serve``
starts it in a thread with its own stop event; ``trimtab check`` runs one
cycle. They take the store and the project file, not the workspace. A channel
that fails is recorded and retried on later cycles (up to ``MAX_ATTEMPTS``);
an evaluation that fails (store unreachable, project file broken mid-edit) is
logged and tried again next interval. Nothing here stops the loop except the
stop event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from trimtab.errors import TrimtabError
from trimtab.observe import channels as notify
from trimtab.observe.alerts import AlertStatus, evaluate
from trimtab.store import alerts as alert_store

if TYPE_CHECKING:
    from trimtab.project.models import Project
    from trimtab.store import Store

log = logging.getLogger("trimtab.observe.alerts")

#: Cycles a channel delivery is tried before it is given up (each try makes the
#: channel's own retries). A rule's command is tried once.
MAX_ATTEMPTS = 5
#: A delivery left 'sending' this long belongs to a monitor that died.
STALE_CLAIM = timedelta(minutes=10)
RUN_TARGET = "run:"
RETRY_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class Sent:
    """One delivery attempt: which event went where, and how it went."""

    event_id: int
    rule: str
    system: str
    state: str
    target: str
    ok: bool
    detail: str
    attempt: int
    gave_up: bool

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Cycle:
    statuses: list[AlertStatus]
    sent: list[Sent] = field(default_factory=list)

    @property
    def firing(self) -> list[AlertStatus]:
        return [s for s in self.statuses if s.firing]


def deliver(store: Store, project: Project, *, now: datetime | None = None,
            sleep: Callable[[float], object] = time.sleep) -> list[Sent]:
    """Send every due delivery once; record each outcome."""
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    with store.read() as conn:
        due = alert_store.due(conn, now=clock(), stale=STALE_CLAIM)
    sent = []
    for delivery in due:
        if delivery.status == "failed" and clock() - delivery.updated_at < _retry_delay(delivery):
            continue
        with store.ingest() as conn:
            if not alert_store.claim(conn, delivery, now=clock()):
                continue  # another monitor has it
            event = alert_store.get_event(conn, delivery.event_id)
        attempt = delivery.attempts + 1
        if delivery.target == RUN_TARGET and delivery.status == "sending":
            # Claimed long ago and never finished: its monitor died while the command ran
            # (or the command is still running). A command is never run twice.
            detail = (f"started at {delivery.updated_at:%Y-%m-%d %H:%M:%S} UTC, no outcome "
                      "recorded since: its monitor stopped, or the command still runs; not "
                      "run again (a command never runs twice)")
            with store.ingest() as conn:
                alert_store.finish(conn, event.id, delivery.target, status="gave_up",
                                   detail=detail, now=clock())
            log.warning("alert %s %s (%s) -> %s: %s", event.rule, event.state, event.system,
                        delivery.target, detail)
            sent.append(Sent(event_id=event.id, rule=event.rule, system=event.system,
                             state=event.state, target=delivery.target, ok=False,
                             detail=detail, attempt=attempt, gave_up=True))
            continue
        try:
            outcome, final = _attempt(project, delivery.target, event, sleep)
        except Exception as exc:  # noqa: BLE001 - one bad delivery must not stop the rest
            log.exception("delivery of alert event %s to %s failed", event.id, delivery.target)
            outcome, final = notify.Outcome(False, f"{type(exc).__name__}: {exc}"), False
        final = final or attempt >= MAX_ATTEMPTS
        gave_up = not outcome.ok and final
        status = "sent" if outcome.ok else "gave_up" if gave_up else "failed"
        with store.ingest() as conn:
            alert_store.finish(conn, event.id, delivery.target, status=status,
                               detail=outcome.detail, now=clock())
        if not outcome.ok:
            log.warning("alert %s %s (%s) -> %s: %s; %s", event.rule, event.state, event.system,
                        delivery.target, outcome.detail,
                        "gave up" if gave_up else f"will retry (attempt {attempt} of "
                        f"{MAX_ATTEMPTS})")
        sent.append(Sent(event_id=event.id, rule=event.rule, system=event.system,
                         state=event.state, target=delivery.target, ok=outcome.ok,
                         detail=outcome.detail, attempt=attempt, gave_up=gave_up))
    return sent


def _retry_delay(delivery) -> timedelta:
    """30s after the first failed cycle, then 1m, 2m, 4m: a channel that is down
    for a few minutes still gets the event, without a retry every cycle."""
    return RETRY_AFTER * 2 ** max(delivery.attempts - 1, 0)


def _attempt(project, target: str, event, sleep) -> tuple[notify.Outcome, bool]:
    """Send one delivery; (outcome, whether it must not be tried again)."""
    if target == RUN_TARGET:
        rule = project.spec.alerts.get(event.rule)
        if rule is None or rule.run is None:
            return notify.Outcome(False, "the rule no longer has a `run:` command"), True
        return notify.run_command(rule.run, event.document, project.root), True
    channel = project.spec.channels.get(target)
    if channel is None:
        return notify.Outcome(False, f"channel {target!r} is no longer declared in the "
                              "project file"), True
    return notify.send(channel, event.document, sleep=sleep), False


def run_cycle(store: Store, project: Project, *, now: datetime | None = None,
              sleep: Callable[[float], object] = time.sleep) -> Cycle:
    """Evaluate every rule once, then deliver what is due."""
    statuses = evaluate(store, project, now=now)
    for status in statuses:
        if status.event is not None:
            log.info("alert %s %s for %s: %s", status.rule, status.event.state, status.system,
                     status.event.document["summary"])
    return Cycle(statuses, deliver(store, project, now=now, sleep=sleep))


def _housekeeping(chores: Callable[[], object]) -> None:
    """The workspace's scheduled chores (signed audit checkpoints), never fatal."""
    try:
        chores()
    except TrimtabError as exc:
        log.error("scheduled housekeeping skipped: %s", exc)
    except Exception:  # noqa: BLE001 - the loop must outlive any one failure
        log.exception("scheduled housekeeping failed")


def run_monitor(
    store: Store,
    project: Callable[[], Project],
    interval: float | timedelta = 30.0,
    stop_event: threading.Event | None = None,
    *,
    on_cycle: Callable[[Cycle], object] | None = None,
    chores: Callable[[], object] | None = None,
) -> None:
    """Evaluate and notify every ``interval`` until ``stop_event`` is set.

    Safe to run in a thread (``trimtab serve`` does): it only returns when the
    event is set, and pauses between channel retries wake up on it too.
    ``project`` is asked for the project file each cycle, so an edit of
    trimtab.yaml applies from the next one; ``chores`` (the workspace's
    scheduled housekeeping) run after each cycle.
    """
    stop = stop_event or threading.Event()
    seconds = interval.total_seconds() if isinstance(interval, timedelta) else float(interval)
    if seconds <= 0:
        raise TrimtabError("the monitor interval must be positive (e.g. 30s).")
    while not stop.is_set():
        try:
            cycle = run_cycle(store, project(), sleep=stop.wait)
        except TrimtabError as exc:
            log.error("alert evaluation skipped: %s", exc)
        except Exception:  # noqa: BLE001 - the loop must outlive any one failure
            log.exception("alert evaluation failed; trying again in %gs", seconds)
        else:
            if on_cycle is not None:
                try:
                    on_cycle(cycle)
                except Exception:  # noqa: BLE001
                    log.exception("monitor callback failed")
        if chores is not None:
            _housekeeping(chores)
        stop.wait(seconds)
