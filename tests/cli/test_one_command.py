"""`trimtab NAME ...` builds only the command (or group) it names (trimtab.cli.app_for):
each one's help, and its answers to a bad option or a missing argument, read as
the whole app's do; anything else gets the whole app."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from trimtab.cli import app, app_for


def _names() -> list[str]:
    commands = [c.name or typer.main.get_command_name(c.callback.__name__)
                for c in app.registered_commands]
    return commands + [g.name for g in app.registered_groups]


def _run(typer_app, args: list[str]):
    return CliRunner().invoke(typer_app, args, prog_name="trimtab")


def test_every_command_and_group_is_found():
    names = _names()
    assert len(names) == len(set(names)) > 50
    for name in names:
        one = app_for([name, "--help"])
        assert one is not app, name
        assert len(one.registered_commands) + len(one.registered_groups) == 1


@pytest.mark.parametrize("name", _names())
def test_help_reads_as_the_whole_apps(name):
    whole, one = _run(app, [name, "--help"]), _run(app_for([name]), [name, "--help"])
    assert (one.exit_code, one.output) == (whole.exit_code, whole.output)


@pytest.mark.parametrize("args", [["eval", "--no-such-option"], ["eval", "--concurrency", "x"],
                                  ["evals"], ["calls", "nope"], ["keys", "--help"]])
def test_mistakes_read_as_the_whole_apps(args):
    whole, one = _run(app, args), _run(app_for(args), args)
    assert (one.exit_code, one.output) == (whole.exit_code, whole.output)


@pytest.mark.parametrize("args", [[], ["--help"], ["--project", "x", "eval"], ["evl"],
                                  ["nope", "x"]])
def test_anything_else_gets_the_whole_app(args):
    assert app_for(args) is app


def test_the_command_runs_through_main(tmp_path):
    done = subprocess.run([sys.executable, "-c", "from trimtab.cli import main; main()",
                           "init", str(tmp_path / "p")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p" / "trimtab.yaml").is_file()
