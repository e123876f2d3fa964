"""The git commit a release was cut from, so an auditor can find the exact source."""

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GitState:
    commit: str
    dirty: bool


def git_state(directory: Path) -> GitState | None:
    """None outside a git work tree or when git is not installed."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", *args], cwd=directory, capture_output=True, text=True, timeout=10
        )

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        status = git("status", "--porcelain", "--untracked-files=normal", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return None
    return GitState(commit=head.stdout.strip(), dirty=bool(status.stdout.strip()))


@dataclass(frozen=True)
class FileCommit:
    commit: str
    time: str  # ISO 8601, as git prints it
    author: str
    subject: str


def file_commits(directory: Path, name: str, since: str, until: str,
                 limit: int = 20) -> list[FileCommit] | None:
    """The commits that touched ``name`` (e.g. trimtab.yaml, which holds the alert
    rules, gates and policies) between two ISO times, newest first; None
    outside a git work tree or when git is not installed."""
    try:
        found = subprocess.run(
            ["git", "log", f"--since={since}", f"--until={until}", f"--max-count={limit}",
             "--format=%H%x1f%cI%x1f%an%x1f%s", "--", name],
            cwd=directory, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if found.returncode != 0:
        return None
    return [FileCommit(*line.split("\x1f", 3)) for line in found.stdout.splitlines()
            if line.count("\x1f") == 3]
