"""The public surface, pinned: ``trimtab.__all__`` and each subpackage's ``__all__``.

A name added to or dropped from a package's surface is a decision, so it
shows up here in review. Every listed name must resolve, to the object its
module defines (not a submodule of the same name).
"""

from __future__ import annotations

import importlib
import types

import pytest

PUBLIC = {
    "trimtab": [
        "AlertEvent", "AlertState", "AlertStatus", "ArtefactCorruptError", "AuditEntry",
        "CallFailed", "ChainReport", "CostReport", "Deployment", "DriftBaseline", "DriftCheck",
        "DriftResult", "LabelMetrics", "Labelled", "NoActiveRelease", "Project", "ProjectError",
        "ProviderError", "Pruned", "RecordingUnavailable", "Release", "RunResult",
        "SchemaTooNewError", "Score", "SpecDiff", "Store", "System", "SystemClient",
        "SystemSuspended", "TrimtabError", "Workspace", "__version__", "active_release",
        "connect", "install_otel", "install_prometheus", "instrument", "load_project",
        "metrics_response", "run_monitor",
    ],
    "trimtab.project": [
        "PROJECT_FILE", "Project", "ProjectFile", "SystemSpec", "find_project_file",
        "init_project", "load_project",
    ],
    "trimtab.releases": [
        "ActiveReleases", "ArtefactStore", "Route", "SpecDiff", "diff_specs", "release_id",
        "resolve_spec",
    ],
    "trimtab.runtime": [
        "Attempt", "BreakerRegistry", "CallFailed", "CallResult", "ChatChunk", "ChatRequest",
        "ChatResponse", "CircuitBreaker", "Cost", "DEFAULT_BREAKERS", "ErrorKind", "LoggingMode",
        "PRICE_TABLE", "Provider", "ProviderError", "Redactor", "Router", "StreamAccumulator",
        "StreamCall", "Target", "TemplateError", "Usage", "compile_rules", "cost_of",
        "make_provider", "prompt_messages", "redact", "render", "router_for_release",
        "targets_for_release",
    ],
    "trimtab.sdk": [
        "CallOptions", "Caller", "Direct", "NoActiveRelease", "PASSTHROUGH", "RunResult",
        "StreamedRun", "SystemClient", "call_record",
    ],
    "trimtab.recorder": ["CallRecord", "Recorder"],
    "trimtab.store": [
        "AlertEvent", "AlertState", "ApiKey", "AuditEntry", "Call", "ChainReport", "Deployment",
        "DriftBaseline", "DriftResult", "Release", "RolePlan", "Score", "Store", "StoreUnavailable",
        "System",
    ],
    "trimtab.observe": [
        "AlertStatus", "CostReport", "Cycle", "DriftCheck", "MetricRow", "Outcome", "Pruned",
        "run_cycle", "run_monitor",
    ],
    "trimtab.telemetry": [
        "CallMetrics", "Limits", "SpanExport", "install_otel", "install_prometheus",
        "metrics_response",
    ],
    "trimtab.gateway": ["Gateway", "serve"],
    "trimtab.quality": [],
    "trimtab.govern": [
        "Checkpoint", "Erasure", "EvidenceBundle", "EvidenceVerdict", "PermissionDenied", "User",
    ],
    "trimtab.assess": ["Assessment", "Ranked"],
    "trimtab.web": ["build", "create_app", "serve"],
    "trimtab.cli": ["app", "main"],
}


def test_the_pinned_lists_are_sorted():
    for package, names in PUBLIC.items():
        assert names == sorted(names), package


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_all_is_pinned(package):
    assert importlib.import_module(package).__all__ == PUBLIC[package]


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_every_name_in_all_resolves(package):
    module = importlib.import_module(package)
    namespace: dict = {}
    if module.__all__:
        exec(f"from {package} import {', '.join(module.__all__)}", namespace)
    for name in module.__all__:
        value = getattr(module, name)
        assert value is namespace[name], name
        if name != "__version__":
            assert not isinstance(value, types.ModuleType), f"{package}.{name} is a module"
        assert name in dir(module), name


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_an_unknown_name_is_an_attribute_error(package):
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        module.Nope  # noqa: B018
