"""The SDK: system clients (run / arun / astream), instrument() for existing OpenAI/Anthropic
clients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimtab import lazy_exports

# module -> the public names it provides; each loads on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.sdk.call_options": ("CallOptions", "Direct", "PASSTHROUGH"),
    "trimtab.sdk.calling": ("Caller", "StreamedRun", "SystemClient"),
    "trimtab.sdk.results": ("NoActiveRelease", "RunResult"),
    "trimtab.sdk.record": ("call_record",),
}

__all__ = [
    "CallOptions",
    "Caller",
    "Direct",
    "NoActiveRelease",
    "PASSTHROUGH",
    "RunResult",
    "StreamedRun",
    "SystemClient",
    "call_record",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.sdk.call_options import PASSTHROUGH, CallOptions, Direct
    from trimtab.sdk.calling import Caller, StreamedRun, SystemClient
    from trimtab.sdk.record import call_record
    from trimtab.sdk.results import NoActiveRelease, RunResult
