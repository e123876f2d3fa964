"""Messages that name an optional extra show the exact command that installs it.

Rich markup reads `[report]` as a style tag and drops it, so a user copied
`pip install 'trimtab'` and the fix did nothing. Help, errors and notes are
rendered here as the user sees them and must keep every `trimtab[extra]`.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from trimtab.cli import app
from trimtab.cli.output import handles_errors
from trimtab.errors import TrimtabError

ROOT = Path(__file__).resolve().parents[2]
EXTRA = re.compile(r"trimtab\[([a-z0-9,-]+)\]")
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
    "optional-dependencies"]


def help_pages():
    def walk(command, path):
        yield path
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    yield from walk(get_command(app), [])


def flat(text: str) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_every_help_page_shows_extras_whole():
    runner = CliRunner()
    shown = {}
    for path in help_pages():
        result = runner.invoke(app, [*path, "--help"], terminal_width=100)
        assert result.exit_code == 0, (path, result.output)
        text = flat(result.output)
        assert "pip install 'trimtab'" not in text and "needs trimtab)" not in text, path
        shown[" ".join(path)] = set(EXTRA.findall(text))
    assert "report" in shown["report cost"]
    assert "embeddings" in shown["drift check"] and "embeddings" in shown["drift baseline"]


def test_an_error_that_names_an_extra_prints_it(capsys):
    @handles_errors
    def needs_report():
        raise TrimtabError("no chart. Fix: pip install 'trimtab[report]'")

    with pytest.raises(typer.Exit):
        needs_report()
    assert "pip install 'trimtab[report]'" in flat(capsys.readouterr().err)


def test_the_cost_report_note_without_matplotlib_names_the_extra(ws, cli, tmp_path,
                                                                 monkeypatch):
    ws.record("complaint-router", {"q": "x"}, "ok", latency_ms=5, cost_micro_usd=42)
    assert ws.flush()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    month = ws.calls()[0].time.strftime("%Y-%m")
    out = cli("report", "cost", "--month", month, "--out", str(tmp_path / "r")).stdout
    assert "pip install 'trimtab[report]'" in flat(out)


def test_every_extra_named_anywhere_exists_and_all_has_everything_but_the_model():
    named = set()
    for path in [*(ROOT / "src").rglob("*.py"), ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for group in EXTRA.findall(path.read_text(encoding="utf-8")):
            named.update(group.split(","))
    assert named <= EXTRAS.keys(), named - EXTRAS.keys()
    [everything] = EXTRAS["all"]
    included = set(EXTRA.fullmatch(everything).group(1).split(","))
    assert included == EXTRAS.keys() - {"all", "embeddings", "test", "bench"}
