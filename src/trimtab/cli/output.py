"""What every command shares: the workspace, error printing, time and JSON output."""

from __future__ import annotations

import functools
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.text import Text

from trimtab.errors import TrimtabError

if TYPE_CHECKING:
    from trimtab.workspace import Workspace

console = Console()
err_console = Console(stderr=True)

_options: dict[str, Any] = {"project": None}


def workspace() -> Workspace:
    from trimtab.workspace import connect  # SQLAlchemy and pydantic load only when a command runs

    return connect(_options["project"])


def handles_errors(fn):
    """User mistakes print as one clear message and exit 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TrimtabError as exc:
            err_console.print(Text("error: ", style="bold red") + Text(str(exc)), soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def when(moment: datetime) -> str:
    """UTC time plus how long ago, the two things a person reading status wants."""
    delta = datetime.now(UTC) - moment
    seconds = int(delta.total_seconds())
    if seconds < 60:
        ago = f"{max(seconds, 0)}s ago"
    elif seconds < 3600:
        ago = f"{seconds // 60}m ago"
    elif seconds < 86400:
        ago = f"{seconds // 3600}h ago"
    else:
        ago = f"{seconds // 86400}d ago"
    return f"{moment:%Y-%m-%d %H:%M} ({ago})"


_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")


def parse_span(value: str, option: str = "--window") -> timedelta:
    """'30m', '24h', '7d', '2w'."""
    match = _RELATIVE.match(value.strip())
    if not match:
        raise TrimtabError(
            f"{option} {value!r}: not a span. Fix: use a number and a unit, like 30m, 24h, 7d, 2w."
        )
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: amount})


def parse_since(value: str | None, option: str = "--since") -> datetime | None:
    """'24h', '7d', '30m', '2w', or an ISO date/time (UTC when no zone is given)."""
    if value is None:
        return None
    if _RELATIVE.match(value.strip()):
        return datetime.now(UTC) - parse_span(value, option)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise TrimtabError(
            f"{option} {value!r}: not a time. Fix: use a span like 24h, 7d, 30m, 2w "
            "or an ISO time like 2026-11-01 or 2026-11-01T09:00:00+00:00."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
