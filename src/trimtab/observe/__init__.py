"""Observing what runs: metric queries, alert rules and states, notification channels, the monitor
loop, cost report, retention, drift.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimtab import lazy_exports

# module -> the public names it provides; each loads on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.observe.alerts": ("AlertStatus",),
    "trimtab.observe.channels": ("Outcome",),
    "trimtab.observe.cost_report": ("CostReport",),
    "trimtab.observe.drift.monitor": ("DriftCheck",),
    "trimtab.observe.metrics": ("MetricRow",),
    "trimtab.observe.monitor": ("Cycle", "run_cycle", "run_monitor"),
    "trimtab.observe.retention": ("Pruned",),
}

__all__ = [
    "AlertStatus",
    "CostReport",
    "Cycle",
    "DriftCheck",
    "MetricRow",
    "Outcome",
    "Pruned",
    "run_cycle",
    "run_monitor",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.observe.alerts import AlertStatus
    from trimtab.observe.channels import Outcome
    from trimtab.observe.cost_report import CostReport
    from trimtab.observe.drift.monitor import DriftCheck
    from trimtab.observe.metrics import MetricRow
    from trimtab.observe.monitor import Cycle, run_cycle, run_monitor
    from trimtab.observe.retention import Pruned
