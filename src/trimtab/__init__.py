"""trimtab: right-sized MLOps for teams that run a handful of AI systems.

Public names load on first use (PEP 562): ``import trimtab`` stays cheap, so
``trimtab --help`` and a script that only records calls do not pay for
SQLAlchemy and pydantic before they need them. To export a name, add it to
``_EXPORTS`` (and ``__all__``), never as a top-level import here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# module -> the public names it provides.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.observe.alerts": ("AlertStatus",),
    "trimtab.sdk.calling": ("SystemClient",),
    "trimtab.sdk.results": ("NoActiveRelease", "RunResult", "SystemSuspended"),
    "trimtab.observe.cost_report": ("CostReport",),
    "trimtab.releases.diffs": ("SpecDiff",),
    "trimtab.observe.drift.monitor": ("DriftCheck",),
    "trimtab.observe.label_metrics": ("LabelMetrics",),
    "trimtab.quality.labels": ("Labelled",),
    "trimtab.errors": (
        "ArtefactCorruptError", "ProjectError", "RecordingUnavailable", "SchemaTooNewError",
        "TrimtabError",
    ),
    "trimtab.telemetry.otel": ("install_otel",),
    "trimtab.project.loader": ("load_project",),
    "trimtab.project.models": ("Project",),
    "trimtab.telemetry.prometheus": ("install_prometheus", "metrics_response"),
    "trimtab.observe.retention": ("Pruned",),
    "trimtab.runtime.errors": ("ProviderError",),
    "trimtab.runtime.resilience": ("CallFailed",),
    "trimtab.store.alerts": ("AlertEvent", "AlertState"),
    "trimtab.store.audit": ("AuditEntry", "ChainReport"),
    "trimtab.store.deployments": ("Deployment",),
    "trimtab.store.drift": ("DriftBaseline", "DriftResult"),
    "trimtab.store.engine": ("Store",),
    "trimtab.store.releases": ("Release",),
    "trimtab.store.scores": ("Score",),
    "trimtab.store.systems": ("System",),
    "trimtab.workspace": (
        "Workspace", "active_release", "connect", "instrument", "run_monitor",
    ),
}

__all__ = [
    "AlertEvent",
    "AlertState",
    "AlertStatus",
    "ArtefactCorruptError",
    "AuditEntry",
    "CallFailed",
    "ChainReport",
    "CostReport",
    "Deployment",
    "DriftBaseline",
    "DriftCheck",
    "DriftResult",
    "LabelMetrics",
    "Labelled",
    "NoActiveRelease",
    "Project",
    "ProjectError",
    "ProviderError",
    "Pruned",
    "RecordingUnavailable",
    "Release",
    "RunResult",
    "SchemaTooNewError",
    "Score",
    "SpecDiff",
    "Store",
    "System",
    "SystemClient",
    "SystemSuspended",
    "TrimtabError",
    "Workspace",
    "__version__",
    "active_release",
    "connect",
    "install_otel",
    "install_prometheus",
    "instrument",
    "load_project",
    "metrics_response",
    "run_monitor",
]


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` (PEP 562) for a package whose public names
    load on first use: ``exports`` maps a module to the names it provides. The
    root package and each subpackage use it, so that importing one never loads
    the libraries behind all of its names."""
    module_of = {name: module for module, names in exports.items() for name in names}
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.errors import (
        ArtefactCorruptError,
        ProjectError,
        RecordingUnavailable,
        SchemaTooNewError,
        TrimtabError,
    )
    from trimtab.observe.alerts import AlertStatus
    from trimtab.observe.cost_report import CostReport
    from trimtab.observe.drift.monitor import DriftCheck
    from trimtab.observe.label_metrics import LabelMetrics
    from trimtab.observe.retention import Pruned
    from trimtab.project.loader import load_project
    from trimtab.project.models import Project
    from trimtab.quality.labels import Labelled
    from trimtab.releases.diffs import SpecDiff
    from trimtab.runtime.errors import ProviderError
    from trimtab.runtime.resilience import CallFailed
    from trimtab.sdk.calling import SystemClient
    from trimtab.sdk.results import NoActiveRelease, RunResult, SystemSuspended
    from trimtab.store.alerts import AlertEvent, AlertState
    from trimtab.store.audit import AuditEntry, ChainReport
    from trimtab.store.deployments import Deployment
    from trimtab.store.drift import DriftBaseline, DriftResult
    from trimtab.store.engine import Store
    from trimtab.store.releases import Release
    from trimtab.store.scores import Score
    from trimtab.store.systems import System
    from trimtab.telemetry.otel import install_otel
    from trimtab.telemetry.prometheus import install_prometheus, metrics_response
    from trimtab.workspace import Workspace, active_release, connect, instrument, run_monitor
