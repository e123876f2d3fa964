"""trimtab: right-sized MLOps for teams that run a handful of AI systems."""

from trimtab.diffs import SpecDiff
from trimtab.errors import ArtefactCorruptError, ProjectError, SchemaTooNewError, TrimtabError
from trimtab.project import Project, load_project
from trimtab.store.audit import AuditEntry, ChainReport
from trimtab.store.deployments import Deployment
from trimtab.store.engine import Store
from trimtab.store.releases import Release
from trimtab.store.systems import System
from trimtab.workspace import Workspace, active_release, connect

__version__ = "0.1.0"

__all__ = [
    "ArtefactCorruptError",
    "AuditEntry",
    "ChainReport",
    "Deployment",
    "Project",
    "ProjectError",
    "Release",
    "SchemaTooNewError",
    "SpecDiff",
    "Store",
    "System",
    "TrimtabError",
    "Workspace",
    "__version__",
    "active_release",
    "connect",
    "load_project",
]
