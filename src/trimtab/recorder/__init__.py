"""The recorder: the call record, the disk spool, the writer (thread or process) that drains it
into the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimtab import lazy_exports

# module -> the public names it provides; each loads on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.recorder.records": ("CallRecord",),
    "trimtab.recorder.recorder": ("Recorder",),
}

__all__ = [
    "CallRecord",
    "Recorder",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.recorder.recorder import Recorder
    from trimtab.recorder.records import CallRecord
