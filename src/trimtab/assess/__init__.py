"""The maturity assessment: checks per stage, the stage of each system from
evidence, the next smallest steps and what to skip."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimtab import lazy_exports

# module -> the public names it provides; each loads on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.assess.assessment": ("Assessment",),
    "trimtab.assess.portfolio": ("Ranked",),
}

__all__ = [
    "Assessment",
    "Ranked",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.assess.assessment import Assessment
    from trimtab.assess.portfolio import Ranked
