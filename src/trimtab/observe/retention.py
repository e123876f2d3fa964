"""Retention: each system's raw calls are kept as long as it declares, then pruned.

A system's ``retention_days`` is its policy, so it always wins; a declared
system without one gets its risk level's default from ``retention:`` in
trimtab.yaml (high-risk: 180 days unless set higher, the EU AI Act's floor for
their logs, Arts. 19 and 26(6); minimal and limited: kept unless set); an
explicit ``older_than`` only reaches the systems that have neither (a call log
with no retention keeps everything). A system the store registered but the
project file does not declare (decommissioned, or pruned with only
TRIMTAB_DATABASE_URL) gets its registered risk's default: a high-risk
system's logs outlive its entry in trimtab.yaml. Calls under a legal hold (an incident's
freeze, store/holds.py) are never pruned, whatever the policy. Rollups are
aggregates (counts, token and cost sums, latency sketches) with no prompt or
answer text, so they stay:
metrics over old windows remain after their raw calls are gone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.project.governance import RetentionSpec
from trimtab.project.models import SystemSpec
from trimtab.store import Store
from trimtab.store import calls as call_store
from trimtab.store import systems as system_store


@dataclass(frozen=True)
class Pruned:
    """One system's outcome. ``before`` is None when nothing applies to it."""

    system: str
    before: datetime | None
    policy: dict[str, Any]
    calls: int  # deleted; in a dry run, that would be
    dry_run: bool
    held: int = 0  # older than ``before`` but kept by a legal hold (store/holds.py)

    @property
    def rule(self) -> str:
        if "default_for_risk" in self.policy:
            return (f"retention.{self.policy['default_for_risk']}: "
                    f"{self.policy['retention_days']} (default for its risk)")
        if "retention_days" in self.policy:
            return f"retention_days: {self.policy['retention_days']}"
        if "older_than" in self.policy:
            return f"--older-than {self.policy['older_than']}"
        return "keeps everything (no retention_days)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system, "before": self.before.isoformat() if self.before else None,
            "rule": self.rule, "calls": self.calls, "held": self.held,
            "dry_run": self.dry_run,
        }


def prune(
    store: Store,
    declared: Mapping[str, SystemSpec],
    *,
    defaults: RetentionSpec | None = None,
    actor: str,
    older_than: timedelta | None = None,
    system: str | None = None,
    dry_run: bool = False,
) -> list[Pruned]:
    """Prune every system in the call log (or just ``system``), one transaction and
    one audit entry per system that lost calls."""
    if older_than is not None and older_than <= timedelta(0):
        raise TrimtabError("--older-than must be a positive span. Fix: e.g. --older-than 90d.")
    now = datetime.now(UTC)
    with store.read() as conn:
        logged = call_store.systems(conn)
        registered = {s.name: s.risk for s in system_store.list_all(conn)}
    names = sorted({*logged, *declared})
    if system is not None:
        if system not in names:
            raise TrimtabError(
                f"no calls are recorded for system {system!r} and the project file does not "
                f"declare it. Systems with calls: {', '.join(logged) or 'none'}."
            )
        names = [system]
    results = []
    for name in names:
        policy = _policy(declared.get(name), older_than, defaults or RetentionSpec(),
                         registered.get(name))
        if policy is None:
            results.append(Pruned(name, None, {}, 0, dry_run))
            continue
        before = now - policy.pop("span")
        if dry_run:
            with store.read() as conn:
                count = call_store.count_before(conn, name, before)
                held = call_store.count_before(conn, name, before, held=True)
        else:
            with store.write() as conn:
                count = call_store.prune(conn, name, before, actor=actor, policy=policy)
                held = call_store.count_before(conn, name, before, held=True)
        results.append(Pruned(name, before, policy, count, dry_run, held))
    return results


def _policy(spec: SystemSpec | None, older_than: timedelta | None,
            defaults: RetentionSpec, registered_risk: str | None) -> dict[str, Any] | None:
    """Why and how far back: the declared retention, else its risk's default
    (the declared risk, else the one the store registered), else the explicit span."""
    if spec is not None and spec.retention_days is not None:
        return {"retention_days": spec.retention_days,
                "span": timedelta(days=spec.retention_days)}
    risk = spec.risk if spec is not None else registered_risk
    if risk in RetentionSpec.model_fields and defaults.days(risk) is not None:
        days = defaults.days(risk)
        return {"retention_days": days, "default_for_risk": risk,
                "span": timedelta(days=days)}
    if older_than is not None:
        return {"older_than": _span_text(older_than), "span": older_than}
    return None


def _span_text(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
