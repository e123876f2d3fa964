"""Releases: the content-addressed spec, diffs, artefacts, git state and the active-release cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimtab import lazy_exports

# module -> the public names it provides; each loads on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.releases.active": ("ActiveReleases", "Route"),
    "trimtab.releases.artefacts": ("ArtefactStore",),
    "trimtab.releases.diffs": ("SpecDiff", "diff_specs"),
    "trimtab.releases.spec": ("release_id", "resolve_spec"),
}

__all__ = [
    "ActiveReleases",
    "ArtefactStore",
    "Route",
    "SpecDiff",
    "diff_specs",
    "release_id",
    "resolve_spec",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.releases.active import ActiveReleases, Route
    from trimtab.releases.artefacts import ArtefactStore
    from trimtab.releases.diffs import SpecDiff, diff_specs
    from trimtab.releases.spec import release_id, resolve_spec
