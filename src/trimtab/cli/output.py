"""What every command shares: the workspace, error printing, time, JSON output, and
listings and numbers that read the same in a terminal, a pipe and a CI log."""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from trimtab.cli import collector
from trimtab.errors import TrimtabError

if TYPE_CHECKING:
    from trimtab.workspace import Workspace

#: What a terminal acts on instead of showing: C0 controls but tab and newline, DEL, C1
#: controls, and the bidirectional overrides (text that reads other than it is stored).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"


def visible(text: str) -> str:
    """``text`` with every control character shown as one visible character (ESC as
    ␛, DEL as ␡, C1 and bidi controls as �), never sent to the terminal.

    A model's answer, a call's model name or a reason comes from outside; an escape
    sequence in it would move the cursor, rewrite the screen, set the window title,
    hide a link (OSC 8) or write the clipboard (OSC 52). One character for one keeps
    the lengths, so a table's columns and a Text's styles stay where they were."""
    return _CONTROL.sub(_picture, text) if _CONTROL.search(text) else text


class _Console(Console):
    """Rich's console, except that in a pipe or a CI log a line of text is never
    broken at 80 columns: a grep for a release id or a seed finds it whole; and that
    no control character of what it prints reaches the terminal (``visible``): every
    string passes through ``render_str`` and every Text through ``render``, before
    the layout measures them. Rich markup in text from outside is still the caller's
    to escape (``rich.markup.escape``)."""

    def print(self, *objects: Any, soft_wrap: bool | None = None, **kwargs: Any) -> None:
        if soft_wrap is None and not self.is_terminal and all(
            isinstance(o, str | Text) for o in objects
        ):
            soft_wrap = True
        super().print(*objects, soft_wrap=soft_wrap, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(visible(text), **kwargs)

    def render(self, renderable: Any, options: Any = None) -> Any:
        if isinstance(renderable, Text) and _CONTROL.search(renderable.plain):
            renderable = renderable.copy()
            renderable.plain = visible(renderable.plain)
        return super().render(renderable, options)


def log_to_stderr() -> None:
    """For the long-running commands (gateway, serve, monitor): trimtab's own news
    (alerts fired, the recorder's state) from INFO, other libraries' from WARNING;
    their INFO lines (Alembic's, one a migration; an HTTP client's, one a request)
    buried it."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("trimtab").setLevel(logging.INFO)


# No emoji codes: `:warning:` in a model's answer is text, and trimtab's own output
# writes none.
console = _Console(emoji=False)
err_console = _Console(stderr=True, emoji=False)

_options: dict[str, Any] = {"project": None}


def workspace() -> Workspace:
    with collector.paused():  # SQLAlchemy and pydantic load only when a command runs
        from trimtab.workspace import connect

    ws = connect(_options["project"])
    if _closing:
        _closing[-1].append(ws)
    return ws


def closes_workspace(fn):
    """The command closes the workspaces it opened (the store, the HTTP clients) as it
    ends, so that its process can skip the collections at exit
    (collector.skip_collection_at_exit)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _closing.append([])
        try:
            return fn(*args, **kwargs)
        finally:
            for ws in _closing.pop():
                ws.close()
            collector.skip_collection_at_exit()

    return wrapper


#: The workspaces each running closes_workspace command opened.
_closing: list[list[Workspace]] = []


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


# --- output paths -------------------------------------------------------------
#
# A command that writes a file checks its path before the work (an eval's
# provider calls, an export's queries), so a typo costs nothing; a failure at
# the write itself still ends in one line and exit 2, never a traceback.


def _blocking(path: Path) -> str | None:
    """Why no folder can be at ``path`` (made if missing), or None if one can."""
    for folder in (path, *path.parents):
        if folder.is_dir():
            return None if os.access(folder, os.W_OK | os.X_OK) else \
                f"cannot write in {folder} (permission denied)"
        if folder.exists():
            return f"{folder} is a file, not a folder"
    return None


def check_out_file(path: Path | None, option: str, *, makes_folder: bool = False) -> None:
    """A file can be written at ``path``: it is not a folder, and its folder exists
    (or, where the command ``makes_folder``, can be made)."""
    if path is None:
        return
    fix = f"Fix: give {option} a file in {'a' if makes_folder else 'an existing'} folder " \
        "you can write to."
    if path.is_dir():
        raise TrimtabError(f"{option} {path}: is a folder, not a file. {fix}")
    if makes_folder and not path.parent.exists():
        why = _blocking(path.parent)
        if why is not None:
            raise TrimtabError(f"{option} {path}: {why}. {fix}")
        return
    if not path.parent.is_dir():
        why = _blocking(path.parent) or f"its folder {path.parent} does not exist"
        raise TrimtabError(f"{option} {path}: {why}. {fix}")
    # A file that exists is written in place (`--junit /dev/stdout` included): only it
    # must be writable. One to be made, or one written beside first (an artefact's
    # `.partial`, where the command makes the folder), needs a writable folder.
    exists = path.exists()
    writable = os.access(path, os.W_OK) if exists else True
    if not exists or makes_folder:
        writable = writable and os.access(path.parent, os.W_OK | os.X_OK)
    if not writable:
        raise TrimtabError(f"{option} {path}: cannot write it (permission denied). {fix}")


def check_out_folder(path: Path | None, option: str) -> None:
    """A folder is, or can be made, at ``path``."""
    if path is None:
        return
    why = _blocking(path)
    if why is not None:
        raise TrimtabError(f"{option} {path}: {why}. Fix: give {option} a folder you can "
                           "write to (it is made if missing).")


@contextmanager
def writing(path: Path | None, option: str) -> Iterator[None]:
    """What the checks could not foresee (a full disk, a race, /proc) as one line,
    exit 2: an error about ``path``, a file in it or its ``.partial`` beside it."""
    try:
        yield
    except OSError as exc:
        names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
        if path is None or not any(n.startswith(str(path)) for n in names):
            raise
        raise TrimtabError(f"{option} {path}: cannot write it "
                           f"({exc.strerror or exc}). Fix: give {option} a path you can "
                           "write to.") from None


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


#: As trimtab.yaml's spans (alert_rules.MAX_DURATION): "now minus the span" stays a date.
MAX_SPAN = timedelta(days=3660)


def parse_span(value: str, option: str = "--window") -> timedelta:
    """'30m', '24h', '7d', '2w'."""
    match = _RELATIVE.match(value.strip())
    if not match:
        raise TrimtabError(
            f"{option} {value!r}: not a span. Fix: use a number and a unit, like 30m, 24h, 7d, 2w."
        )
    amount, unit = int(match.group(1)), match.group(2)
    try:
        span = timedelta(**{{"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]:
                            amount})
    except OverflowError:
        span = None
    if span is None or span > MAX_SPAN:
        raise TrimtabError(f"{option} {value!r}: too long; at most 10 years (3660d). Fix: "
                           "a shorter span, like 30d.")
    return span


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


# --- listings ---------------------------------------------------------------
#
# A listing is read in three places: a terminal of any width, a pipe and a CI
# log. A release id, a system name, a cost or a latency cut to `si…` is worse
# than useless, so values are never shortened: in a terminal the least
# important columns make way (named under the table), in a pipe or log every
# column is printed whole as plain aligned text, and --json has everything.


@dataclass(frozen=True)
class Col:
    """One column of a listing.

    ``drop``: when the terminal is too narrow, column drop=1 makes way first,
    then 2, and so on; None never does. ``wrap``: free text (a reason, details)
    that may wrap onto more lines; every other value stays on one line, whole.
    """

    name: str
    drop: int | None = None
    wrap: bool = False
    right: bool = False


_BORDER = 3  # a column's padding and its rule in Rich's default box


def _plain(cell: str) -> str:
    return visible(Text.from_markup(cell, emoji=False).plain)


def _width(cell: str) -> int:
    return max((cell_len(line) for line in _plain(cell).splitlines()), default=0)


def _longest_word(cell: str) -> int:
    """A wrapping column breaks lines between words, never inside one: an e-mail
    address or a path folded over two lines is as unreadable as one cut short."""
    return max((cell_len(word) for word in _plain(cell).split()), default=0)


def print_listing(
    title: str, columns: list[Col], rows: list[list[str]], *, note: str | None = None
) -> None:
    """Print ``rows`` (Rich markup allowed in cells) for a terminal or a pipe."""
    if not console.is_terminal:
        _print_aligned(columns, rows)
        return
    shown = list(range(len(columns)))

    words = [max([_longest_word(columns[i].name)] + [_longest_word(r[i]) for r in rows])
             for i in range(len(columns))]

    def needed(indexes: list[int]) -> int:
        total = 1
        for i in indexes:
            natural = max([_width(columns[i].name)] + [_width(r[i]) for r in rows])
            total += _BORDER + (max(min(natural, 20), words[i]) if columns[i].wrap else natural)
        return total

    while needed(shown) > console.width:
        droppable = [i for i in shown if columns[i].drop is not None]
        if not droppable:
            _print_records(title, columns, rows)
            return
        shown.remove(min(droppable, key=lambda i: columns[i].drop))
    table = Table(title=title)
    for i in shown:
        column = columns[i]
        table.add_column(
            column.name, justify="right" if column.right else "left",
            no_wrap=not column.wrap, overflow="fold", min_width=words[i] if column.wrap else None,
        )
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    console.print(table)
    hidden = [columns[i].name for i in range(len(columns)) if i not in shown]
    if hidden:
        console.print(
            f"not shown at {console.width} columns: {', '.join(hidden)} (see --json)",
            style="dim", highlight=False, soft_wrap=True,
        )
    if note:
        console.print(note)


def _print_records(title: str, columns: list[Col], rows: list[list[str]]) -> None:
    """Too narrow even for the columns that matter: one block per row, a line per
    value, so nothing is cut or folded."""
    console.print(Text(title, style="italic"))
    label = max(cell_len(c.name) for c in columns[1:]) if len(columns) > 1 else 0
    for row in rows:
        console.print(Text.from_markup(row[0], style="bold", emoji=False), soft_wrap=True)
        for column, cell in zip(columns[1:], row[1:], strict=True):
            if _plain(cell):
                console.print(Text(f"  {column.name.ljust(label)}  ")
                              + Text.from_markup(cell, emoji=False), soft_wrap=True)


def _print_aligned(columns: list[Col], rows: list[list[str]]) -> None:
    """Whole values in aligned columns, one line per row, nothing cut or wrapped."""
    table = [[c.name for c in columns]] + [
        [_plain(cell).replace("\n", " ") for cell in row] for row in rows
    ]
    widths = [max(cell_len(r[i]) for r in table) for i in range(len(columns))]
    out = []
    for r in table:
        cells = [
            (cell.rjust(w) if c.right else cell.ljust(w)) if i < len(columns) - 1 or c.right
            else cell
            for i, (cell, w, c) in enumerate(zip(r, widths, columns, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    sys.stdout.write("\n".join(out) + "\n")


# --- numbers ------------------------------------------------------------------


def usd(value: Decimal | float | int | None, *, unknown: str = "?") -> str:
    """Dollars with the digits that matter: `$12.30`, `$0.42`, `$0.000042`, never `$0.0000`."""
    if value is None:
        return unknown
    amount = Decimal(str(value))
    if amount == 0:
        return "$0"
    if abs(amount) >= 1:
        return f"${amount:,.2f}"
    # two significant digits below a dollar, and at least cents: $0.50, $0.000042
    exponent = amount.copy_abs().adjusted()  # 0.000042 -> -5
    quantum = Decimal(1).scaleb(min(exponent - 1, -2))
    text = f"{amount.quantize(quantum).normalize():f}"
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def usd_micro(micro: int | None, *, unknown: str = "?") -> str:
    return unknown if micro is None else usd(Decimal(micro).scaleb(-6))


def percent(rate: float | None, *, unknown: str = "-") -> str:
    """A rate in 0..1 as a percentage: `0%`, `1.2%`, `0.042%`, `100%`."""
    if rate is None:
        return unknown
    if rate == 0:
        return "0%"
    if rate >= 1:
        return f"{rate:.0%}" if rate == 1 else f"{rate:.1%}"
    if rate >= 0.01:
        return f"{rate * 100:.1f}%"
    return f"{Decimal(f'{rate * 100:.2g}').normalize():f}%"  # two significant digits
