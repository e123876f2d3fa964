"""Who is making a change: the name every audit entry and deployment carries."""

import contextlib
import getpass
import os
import subprocess
from collections.abc import Iterator
from contextvars import ContextVar

_acting: ContextVar[str | None] = ContextVar("trimtab_acting", default=None)


@contextlib.contextmanager
def acting_as(name: str | None) -> Iterator[None]:
    """Changes made inside are made by ``name`` (the web API's caller), not by
    whoever runs the process; None keeps the usual identity."""
    token = _acting.set(name)
    try:
        yield
    finally:
        _acting.reset(token)


def acting_for() -> str | None:
    """The name ``acting_as`` set (a server's authenticated caller), if any."""
    return _acting.get()


def current_actor() -> str:
    """Who ``acting_as`` names, else TRIMTAB_USER (CI sets it to the pipeline
    identity), then git's user.email (what the team already uses to sign
    commits), then the OS user."""
    acting = _acting.get()
    if acting:
        return acting
    explicit = os.environ.get("TRIMTAB_USER", "").strip()
    if explicit:
        return explicit
    try:
        out = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=5
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return getpass.getuser()
    except Exception:  # getuser raises several types when no user can be found
        return "unknown"


def ci_run_url() -> str | None:
    """The CI run that made a change, so a promotion links back to its pipeline."""
    env = os.environ
    if env.get("TRIMTAB_CI_URL"):
        return env["TRIMTAB_CI_URL"]
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return env.get("CI_JOB_URL") or env.get("BUILD_URL") or None
