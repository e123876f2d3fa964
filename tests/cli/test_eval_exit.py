"""`trimtab eval` closes what it opened and lets its process skip the collections at
exit, without touching the collector of a process that runs it in-process; the
workspace's modules load with the collector paused (bench/evals_vs_promptfoo.py)."""

from __future__ import annotations

import gc

from trimtab.cli import output
from trimtab.workspace import Workspace


def _watch(monkeypatch) -> tuple[list[Workspace], list]:
    closed: list[Workspace] = []
    close = Workspace.close

    def watched(self):
        closed.append(self)
        close(self)

    monkeypatch.setattr(Workspace, "close", watched)
    registered: list = []
    monkeypatch.setattr(output.atexit, "register", registered.append)
    monkeypatch.setattr(output, "_frozen_at_exit", [])
    return closed, registered


def test_eval_closes_its_workspace_and_freezes_only_at_exit(cli, monkeypatch):
    closed, registered = _watch(monkeypatch)
    frozen = gc.get_freeze_count()
    result = cli("eval", "complaint-router")
    assert "gate: passed" in result.output
    assert len(closed) == 1
    assert registered == [gc.freeze]  # at exit, once
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    cli("eval", "complaint-router")
    assert len(closed) == 2 and registered == [gc.freeze]


def test_an_eval_that_fails_early_closes_its_workspace_too(cli, monkeypatch):
    closed, registered = _watch(monkeypatch)
    result = cli("eval", "no-such-system", expect=2)
    assert "no-such-system" in result.output
    assert len(closed) == 1 and registered == [gc.freeze]


def test_the_collector_pauses_only_while_the_workspace_loads():
    assert gc.isenabled()
    with output.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with output.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # a caller's own choice stays
    finally:
        gc.enable()
