"""The garbage collector during the CLI's start-up: paused while modules load and the
command tree is built, what they made then frozen; and frozen at exit.

Start-up allocates objects that live as long as the process (modules, classes,
click commands, pydantic validators, SQLAlchemy's constructs): collecting while
they are made, and in every full collection after, walks them again and again for
nothing; ``gc.freeze()`` moves them out of the collector's sight for good. And the
interpreter's last collections at exit took 0.2-0.4 s after a 1,000-case eval
(bench/evals_vs_promptfoo.py). Freezing a process's objects is the `trimtab`
command's choice: a process that runs commands in-process (the tests, a notebook)
keeps its collector and heap as they were. Nothing is frozen at exit once other
people's code is loaded (a project's scorer, another package's plugin: it may
flush only when collected).
No heavy import here: this module is loaded before typer and rich.
"""

from __future__ import annotations

import atexit
import gc


class Pause:
    """No collection from ``with`` until end() or the block's end, whichever comes
    first; then what was made is frozen when ``freeze``. A caller's own choice (a
    disabled collector) stays."""

    def __init__(self, *, freeze: bool = False):
        self.freeze = freeze
        self._was: bool | None = None

    def __enter__(self) -> Pause:
        self._was = gc.isenabled()
        gc.disable()
        return self

    def end(self) -> None:
        if self._was is None:
            return
        if self.freeze:
            gc.freeze()
        if self._was:
            gc.enable()
        self._was = None

    def __exit__(self, *exc_info) -> None:
        self.end()


def paused(*, freeze: bool = False) -> Pause:
    return Pause(freeze=freeze)


#: main() ran: this process is the `trimtab` command.
_command: list[bool] = []
#: main()'s pause, until the command starts (command_starts()).
_starting: list[bool] = []


def pause_until_command() -> None:
    _command[:] = [True]
    _starting.append(gc.isenabled())
    gc.disable()


def command_starts() -> None:
    """Freeze what building the command tree and parsing made, and collect again:
    called as the command starts (and when main() ends, for ``--help``, which starts
    none). A no-op when main() did not pause (the tests' CliRunner)."""
    if _starting and _starting.pop():
        gc.freeze()
        gc.enable()


def skip_collection_at_exit() -> None:
    """Freeze every object when the interpreter exits, so that its last collections
    skip them. At exit only, so a caller running a command in-process (the tests)
    keeps its collector. For a command that has closed what it opened (the store,
    the HTTP clients): a cycle frozen then is never finalized."""
    if not _frozen_at_exit:
        _frozen_at_exit.append(True)
        atexit.register(_freeze_unless_foreign_code)


def _freeze_unless_foreign_code() -> None:
    """A team's scorer or another package's plugin may hold, in a reference cycle,
    what it flushes only when collected (a buffered file): then the interpreter
    collects at exit as usual."""
    from trimtab import plugins

    if not plugins.foreign_code:
        gc.freeze()


_frozen_at_exit: list[bool] = []
