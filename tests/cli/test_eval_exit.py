"""`trimtab eval` closes what it opened and lets its process skip the collections at
exit, without touching the collector of a process that runs it in-process; the CLI's
and the workspace's modules load with the collector paused, and `main()` collects
again once the command starts (trimtab/cli/collector.py)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from trimtab.cli import collector
from trimtab.workspace import Workspace


def _watch(monkeypatch) -> tuple[list[Workspace], list, list]:
    """(workspaces closed, functions registered at exit, freezes done now)."""
    closed: list[Workspace] = []
    close = Workspace.close

    def watched(self):
        closed.append(self)
        close(self)

    monkeypatch.setattr(Workspace, "close", watched)
    registered: list = []
    monkeypatch.setattr(collector.atexit, "register", registered.append)
    monkeypatch.setattr(collector, "_frozen_at_exit", [])
    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    return closed, registered, frozen


def test_eval_closes_its_workspace_and_freezes_only_at_exit(cli, monkeypatch):
    closed, registered, frozen = _watch(monkeypatch)
    result = cli("eval", "complaint-router")
    assert "gate: passed" in result.output
    assert len(closed) == 1
    assert registered == [collector._freeze_unless_foreign_code]  # at exit, once
    assert gc.isenabled() and frozen == []  # in-process: nothing frozen now
    cli("eval", "complaint-router")
    assert len(closed) == 2 and registered == [collector._freeze_unless_foreign_code]
    assert frozen == []


def test_an_eval_that_fails_early_closes_its_workspace_too(cli, monkeypatch):
    closed, registered, _ = _watch(monkeypatch)
    result = cli("eval", "no-such-system", expect=2)
    assert "no-such-system" in result.output
    assert len(closed) == 1 and registered == [collector._freeze_unless_foreign_code]


def test_nothing_is_frozen_at_exit_once_other_peoples_code_is_loaded(monkeypatch):
    """A project's scorer or another package's plugin may flush a file only when its
    objects are collected: then the interpreter collects at exit as usual."""
    from trimtab import plugins

    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.setattr(plugins, "foreign_code", [])
    collector._freeze_unless_foreign_code()
    assert frozen == [True]
    monkeypatch.setattr(plugins, "foreign_code", ["scorers:tone"])
    collector._freeze_unless_foreign_code()
    assert frozen == [True]


def test_a_custom_scorer_counts_as_other_peoples_code(tmp_path, monkeypatch):
    from trimtab import plugins
    from trimtab.quality.scorers import import_function

    monkeypatch.setattr(plugins, "foreign_code", [])
    (tmp_path / "team_scorers.py").write_text("def tone(answer, case):\n    return True\n")
    assert import_function("team_scorers:tone", tmp_path)(None, None) is True
    assert plugins.foreign_code == ["team_scorers:tone"]


def test_importing_the_cli_freezes_nothing_of_the_importers_heap():
    probe = ("import gc; before = gc.get_freeze_count(); import trimtab.cli; "
             "print(gc.get_freeze_count() - before, gc.isenabled())")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["0", "True"]


def test_the_collector_pauses_only_while_the_workspace_loads():
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller's own choice stays
    finally:
        gc.enable()


PROBE = """
import contextlib, gc, io, json, sys
import trimtab.cli.collector as collector
from trimtab.cli import app, main
imported = gc.isenabled()
frozen = gc.get_freeze_count()
seen = []
collector.command_starts = (lambda real: lambda: (real(), seen.append(gc.isenabled())))(
    collector.command_starts)
sys.argv = ["trimtab", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main()
print(json.dumps([imported, seen, gc.isenabled(), gc.get_freeze_count() > frozen + 1000]))
"""


@pytest.mark.parametrize("args", [["--help"], ["plugins"]])
def test_main_collects_again_once_the_command_starts(args):
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          check=True)
    imported, seen, after, froze = json.loads(done.stdout.strip().splitlines()[-1])
    assert imported is True and after is True
    assert froze  # the `trimtab` process froze what building the command tree made
    # `plugins` starts a command (the root callback collects again, then main()'s end
    # finds nothing paused); `--help` starts none: main()'s end collects again.
    assert seen == ([True, True] if args == ["plugins"] else [True])


def test_the_calls_run_with_the_collector_on_and_start_up_ran_with_it_paused(cli, monkeypatch):
    from trimtab.quality import evaluation

    seen: list[tuple[str, bool]] = []
    load = Workspace.authorize
    run_suite = evaluation.run_suite

    def authorize(self, *args, **kwargs):
        seen.append(("authorize", gc.isenabled()))
        return load(self, *args, **kwargs)

    def running(*args, **kwargs):
        seen.append(("run", gc.isenabled()))
        return run_suite(*args, **kwargs)

    monkeypatch.setattr(Workspace, "authorize", authorize)
    monkeypatch.setattr(evaluation, "run_suite", running)
    cli("eval", "complaint-router")
    assert seen[0] == ("authorize", False) and seen[-1] == ("run", True)
    assert gc.isenabled()
