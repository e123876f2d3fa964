"""Governance: identities and roles, approvals, suspend, incidents, timeline, evidence, audit
checkpoints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimtab import lazy_exports

# module -> the public names it provides; each loads on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.govern.checkpoints": ("Checkpoint",),
    "trimtab.govern.erasure": ("Erasure",),
    "trimtab.govern.evidence": ("EvidenceBundle", "EvidenceVerdict"),
    "trimtab.govern.identities": ("User",),
    "trimtab.govern.roles": ("PermissionDenied",),
}

__all__ = [
    "Checkpoint",
    "Erasure",
    "EvidenceBundle",
    "EvidenceVerdict",
    "PermissionDenied",
    "User",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.govern.checkpoints import Checkpoint
    from trimtab.govern.erasure import Erasure
    from trimtab.govern.evidence import EvidenceBundle, EvidenceVerdict
    from trimtab.govern.identities import User
    from trimtab.govern.roles import PermissionDenied
