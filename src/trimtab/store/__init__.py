"""The only package that speaks SQL. Everything else calls these functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimtab import lazy_exports

# module -> the public names it provides; each loads on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.errors": ("StoreUnavailable",),
    "trimtab.store.alerts": ("AlertEvent", "AlertState"),
    "trimtab.store.audit": ("AuditEntry", "ChainReport"),
    "trimtab.store.calls": ("Call",),
    "trimtab.store.deployments": ("Deployment",),
    "trimtab.store.drift": ("DriftBaseline", "DriftResult"),
    "trimtab.store.engine": ("Store",),
    "trimtab.store.keys": ("ApiKey",),
    "trimtab.store.privileges": ("RolePlan",),
    "trimtab.store.releases": ("Release",),
    "trimtab.store.scores": ("Score",),
    "trimtab.store.systems": ("System",),
}

__all__ = [
    "AlertEvent",
    "AlertState",
    "ApiKey",
    "AuditEntry",
    "Call",
    "ChainReport",
    "Deployment",
    "DriftBaseline",
    "DriftResult",
    "Release",
    "RolePlan",
    "Score",
    "Store",
    "StoreUnavailable",
    "System",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.errors import StoreUnavailable
    from trimtab.store.alerts import AlertEvent, AlertState
    from trimtab.store.audit import AuditEntry, ChainReport
    from trimtab.store.calls import Call
    from trimtab.store.deployments import Deployment
    from trimtab.store.drift import DriftBaseline, DriftResult
    from trimtab.store.engine import Store
    from trimtab.store.keys import ApiKey
    from trimtab.store.privileges import RolePlan
    from trimtab.store.releases import Release
    from trimtab.store.scores import Score
    from trimtab.store.systems import System
