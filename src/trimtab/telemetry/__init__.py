"""Telemetry out of process: Prometheus exposition and OpenTelemetry export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimtab import lazy_exports

# module -> the public names it provides; each loads on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.telemetry.otel": ("SpanExport", "install_otel"),
    "trimtab.telemetry.prometheus": (
        "CallMetrics", "Limits", "install_prometheus", "metrics_response",
    ),
}

__all__ = [
    "CallMetrics",
    "Limits",
    "SpanExport",
    "install_otel",
    "install_prometheus",
    "metrics_response",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.telemetry.otel import SpanExport, install_otel
    from trimtab.telemetry.prometheus import (
        CallMetrics,
        Limits,
        install_prometheus,
        metrics_response,
    )
