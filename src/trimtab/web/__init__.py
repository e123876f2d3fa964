"""The JSON API and the dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimtab import lazy_exports

# module -> the public names it provides; each loads on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.web.app": ("create_app",),
    "trimtab.web.server": ("build", "serve"),
}

__all__ = [
    "build",
    "create_app",
    "serve",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.web.app import create_app
    from trimtab.web.server import build, serve
