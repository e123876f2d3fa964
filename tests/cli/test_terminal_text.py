"""Text from outside (a recorded call's model, answer and error, a reason, a review's
call) printed in a terminal: its escape sequences never reach the terminal, and Rich
markup in it is shown as written, never applied (nor a crash, for a stray `[/]`), as
are emoji codes (`:warning:` is not turned into a picture)."""

from __future__ import annotations

import re

import pytest
from rich.text import Text

import trimtab
from trimtab.cli import output

#: An answer that would clear the screen, retitle the window, hide a link and paint red.
HOSTILE = ("\x1b[2J\x1b]0;owned\x07\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
           "\x9b31m\u202eevil")
MARKUP = "[link=https://evil.example]gpt[/link] [/] :warning:"  # and an emoji code


def hostile_calls(project_dir) -> None:
    ws = trimtab.connect(project_dir)
    ws.record("complaint-router", {"text": f"seal leaks {HOSTILE}"}, HOSTILE, 12.0,
              model=MARKUP + "\x1b[5m", user="[bold]u[/]", tags={"k": "[red]v"})
    ws.record("complaint-router", {"text": "?"}, None, 30.0, status="error",
              error=HOSTILE, error_kind="[blink]x[/]\x1b[41m")
    assert ws.flush()
    ws.close()


def shown(cli, monkeypatch, *args: str, terminal: bool) -> str:
    """The command's output in a wide terminal with colours off (so every ESC in it
    came from the data), or in a pipe."""
    monkeypatch.setattr(output.console, "_force_terminal", terminal)
    monkeypatch.setattr(output.console, "_color_system", None)
    return cli(*args).stdout


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_calls_show_markup_and_control_characters_as_text(cli, project_dir, monkeypatch,
                                                           terminal):
    hostile_calls(project_dir)

    text = shown(cli, monkeypatch, "calls", terminal=terminal)
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", text), repr(text)
    assert "[link=https://evil.example]gpt[/link] [/] :warning:␛[5m" in text
    assert "[blink]x[/]␛[41m" in text


def test_a_review_shows_the_answer_with_its_escapes_visible(cli, project_dir, monkeypatch):
    hostile_calls(project_dir)
    cli("review", "sample", "complaint-router", "--size", "5")

    text = shown(cli, monkeypatch, "review", "next", "complaint-router", "--verdict", "pass",
                 terminal=True)
    assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
    assert "␛[2J␛]0;owned" in text and "�31m�evil" in text
    assert "[link=https://evil.example]gpt[/link] [/] :warning:" in text


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_history_and_audit_show_a_reason_as_written(cli, ws, monkeypatch, terminal):
    release, _ = ws.release("complaint-router")
    ws.promote("complaint-router", release.id, "dev", "[/] [red]not[/red] \x1b[8mhidden")

    for args in (("history", "complaint-router"), ("status",), ("audit", "log")):
        text = shown(cli, monkeypatch, *args, terminal=terminal)
        assert "\x1b" not in text, (args, text)
        assert "[/] [red]not[/red] ␛[8mhidden" in text.replace("\n", " "), (args, text)


def test_the_console_makes_controls_visible_one_character_for_one(monkeypatch):
    assert output.visible("a\x1b[31mb\x07\x7f\x85\u2066\tc\nd") == "a␛[31mb␇␡��\tc\nd"
    styled = Text("ok \x1b]52;c;cGF5bG9hZA==\x1b\\ red")
    styled.stylize("red", 20, 23)
    with output.console.capture() as captured:
        output.console.print(styled)
    assert captured.get() == "ok ␛]52;c;cGF5bG9hZA==␛\\ red\n"
