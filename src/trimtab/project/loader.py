"""Finding and loading trimtab.yaml: every problem in the file reported in one
round, each with file:line:column, the field path and the fix."""

from __future__ import annotations

import os
from pathlib import Path

from trimtab.errors import ProjectError, TrimtabError
from trimtab.project import checks as project_checks
from trimtab.project import yamlsource
from trimtab.project.models import Project

PROJECT_FILE = "trimtab.yaml"


def find_project_file(start: Path | None = None) -> Path | None:
    """TRIMTAB_PROJECT, else trimtab.yaml in the working directory or a parent."""
    explicit = os.environ.get("TRIMTAB_PROJECT")
    if explicit:
        path = Path(explicit)
        return path / PROJECT_FILE if path.is_dir() else path
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def missing_project_file() -> TrimtabError:
    """The error for work that needs trimtab.yaml where none was found."""
    return TrimtabError(
        "no trimtab.yaml found in this directory or its parents. "
        "Fix: run `trimtab init`, cd into your project, or set TRIMTAB_PROJECT."
    )


def load_project(path: Path) -> Project:
    try:
        size = path.stat().st_size
        if size > yamlsource.MAX_BYTES:
            raise ProjectError([yamlsource.too_large(path, size, yamlsource.MAX_BYTES)])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrimtabError(
            f"{path}: no such project file. Fix: run `trimtab init` to create one."
        ) from None
    except UnicodeDecodeError as exc:
        raise TrimtabError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    located = yamlsource.load(path, text)
    problems = list(located.problems)
    spec = None
    if isinstance(located.data, dict):
        spec, found = project_checks.validate(located.data, located, path.parent)
        problems = project_checks.in_file_order(problems + found, path.name)
    elif located.data is not None:
        problems.append(
            f"{located.where(())}: the file must be a mapping with `project:` and `systems:` "
            "at the top. Fix: start from `trimtab init`."
        )
    if problems or spec is None:
        raise ProjectError(problems)
    return Project(path, spec)
