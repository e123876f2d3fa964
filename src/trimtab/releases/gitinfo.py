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
