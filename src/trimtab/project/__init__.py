"""The project file, trimtab.yaml: its schema, the loader with line numbers, the checks and the
`init` scaffold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimtab import lazy_exports

# module -> the public names it provides; each loads on first use.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "trimtab.project.loader": ("PROJECT_FILE", "find_project_file", "load_project"),
    "trimtab.project.models": ("Project", "ProjectFile", "SystemSpec"),
    "trimtab.project.scaffold": ("init_project",),
}

__all__ = [
    "PROJECT_FILE",
    "Project",
    "ProjectFile",
    "SystemSpec",
    "find_project_file",
    "init_project",
    "load_project",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:  # what type checkers and IDEs see; never runs
    from trimtab.project.loader import PROJECT_FILE, find_project_file, load_project
    from trimtab.project.models import Project, ProjectFile, SystemSpec
    from trimtab.project.scaffold import init_project
