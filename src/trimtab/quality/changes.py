"""Which systems changed since a git ref: `trimtab eval --changed-since origin/main`
runs only the suites of systems whose release content (prompts, model, params,
fallbacks, artefacts, privacy settings) or eval suites (their declaration or
dataset bytes) differ from what the ref held.

The project directory as it was at the ref is read with ``git archive`` into a
temporary directory (bounded by MAX_BYTES) and loaded like any project, so
"changed" means exactly what a release id means: the same content gives the
same id. A project the ref cannot load (absent, or invalid then) counts every
system as changed: evaluating too much is safe, too little is not.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from trimtab.errors import TrimtabError
from trimtab.project.loader import load_project
from trimtab.project.models import Project
from trimtab.quality.datasets import file_sha256
from trimtab.releases.spec import release_id, resolve_spec

#: The project directory at the ref may take at most this much (artefacts included).
MAX_BYTES = 512 * 1024 * 1024
GIT_TIMEOUT = 60


@dataclass(frozen=True)
class Change:
    system: str
    changed: bool
    why: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _git(root: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=not binary,
                              timeout=GIT_TIMEOUT)
    except FileNotFoundError:
        raise TrimtabError("--changed-since needs git, which is not installed here.") from None
    except subprocess.TimeoutExpired:
        raise TrimtabError(f"git {args[0]} took longer than {GIT_TIMEOUT}s.") from None


def _error(result: subprocess.CompletedProcess) -> str:
    err = result.stderr
    text = err.decode("utf-8", "replace") if isinstance(err, bytes) else err
    return text.strip().splitlines()[-1] if text.strip() else f"exit {result.returncode}"


def project_at(project: Project, ref: str, into: Path) -> Project | str:
    """The project as ``ref`` held it, unpacked under ``into``; or why it cannot be read."""
    root = project.root
    top = _git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise TrimtabError(f"--changed-since: {root} is not in a git work tree. Fix: run it in "
                           "a clone of the repository that holds trimtab.yaml.")
    if ref.startswith("-"):
        raise TrimtabError(f"--changed-since {ref!r}: not a git ref.")
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if commit.returncode != 0:
        raise TrimtabError(f"--changed-since {ref!r}: not a commit in this repository. Fix: "
                           "name a branch, tag or commit (in CI, fetch it first, e.g. "
                           "`git fetch origin main` and --changed-since origin/main).")
    sha = commit.stdout.strip()
    top_dir = Path(top.stdout.strip()).resolve()
    prefix = PurePosixPath(root.resolve().relative_to(top_dir).as_posix())
    spec = "." if str(prefix) == "." else str(prefix)
    listing = _git(top_dir, "ls-tree", "-r", "-l", sha, "--", spec)
    if listing.returncode != 0:
        raise TrimtabError(f"--changed-since {ref!r}: git ls-tree failed: {_error(listing)}")
    size = sum(int(line.split()[3]) for line in listing.stdout.splitlines()
               if len(line.split()) > 4 and line.split()[3].isdigit())
    if not listing.stdout.strip():
        return f"the project directory did not exist at {ref}"
    if size > MAX_BYTES:
        raise TrimtabError(f"--changed-since {ref!r}: the project directory held {size:,} bytes "
                           f"then; at most {MAX_BYTES:,} are read. Fix: keep large artefacts "
                           "out of git (e.g. in the artefact store).")
    archive = _git(top_dir, "archive", "--format=tar", sha, "--", spec, binary=True)
    if archive.returncode != 0:
        raise TrimtabError(f"--changed-since {ref!r}: git archive failed: {_error(archive)}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    old_root = into / prefix
    path = old_root / project.path.name
    if not path.is_file():
        return f"{project.path.name} did not exist at {ref}"
    try:
        return load_project(path)
    except TrimtabError as exc:
        first = str(exc).splitlines()[0]
        return f"the project file at {ref} does not load ({first})"


def _release(project: Project, system: str) -> str | None:
    try:
        return release_id(resolve_spec(project, system))[0]
    except (TrimtabError, OSError):
        return None


def _suites(project: Project, system: str) -> dict[str, object]:
    """What the system's suites are: their declaration and each dataset's bytes."""
    out: dict[str, object] = {}
    for name, suite in project.system(system).evals.items():
        path = project.root / suite.dataset
        out[name] = (suite.model_dump(), file_sha256(path) if path.is_file() else None)
    return out


def changed_since(project: Project, ref: str, systems: list[str] | None = None
                  ) -> list[Change]:
    """For each system with eval suites (or each of ``systems``): changed since ``ref``?"""
    names = systems if systems is not None else [
        name for name, spec in project.spec.systems.items() if spec.evals]
    with tempfile.TemporaryDirectory(prefix="trimtab-changed-") as tmp:
        old = project_at(project, ref, Path(tmp))
        out = []
        for name in names:
            project.system(name)  # unknown: a clear error
            if isinstance(old, str):
                out.append(Change(name, True, old))
            elif name not in old.spec.systems:
                out.append(Change(name, True, f"new since {ref}"))
            elif _release(project, name) != _release(old, name):
                out.append(Change(name, True, f"release content changed since {ref}"))
            elif _suites(project, name) != _suites(old, name):
                out.append(Change(name, True, f"eval suites changed since {ref}"))
            else:
                out.append(Change(name, False, f"unchanged since {ref}"))
        return out
