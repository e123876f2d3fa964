"""Generate docs/cli.md from the CLI itself, so the reference never drifts.

    python -m trimtab.cli.reference                     # print it
    python -m trimtab.cli.reference --write docs/cli.md  # write it

The output depends only on the commands' help text and parameters: no
terminal width, no colours, no Rich markup.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.text import Text

REGENERATE = "python -m trimtab.cli.reference --write docs/cli.md"


@dataclass(frozen=True)
class Entry:
    """One command in the tree: its path ("audit verify"), the command, its context."""

    path: str
    command: Any
    ctx: Any

    @property
    def is_group(self) -> bool:
        return hasattr(self.command, "list_commands")

    @property
    def runnable(self) -> bool:
        """A command, or a group that does something on its own (`trimtab calls`)."""
        return not self.is_group or bool(getattr(self.command, "invoke_without_command", False))

    @property
    def title(self) -> str:
        return f"trimtab {self.path}".strip()


def iter_commands(app: typer.Typer | None = None) -> Iterator[Entry]:
    """The root, then every command and group depth-first, in registration order."""
    if app is None:
        from trimtab.cli import app
    root = typer.main.get_command(app)
    yield from _walk(root, "", root.context_class(root, info_name="trimtab"))


def _walk(command: Any, path: str, ctx: Any) -> Iterator[Entry]:
    yield Entry(path, command, ctx)
    if not hasattr(command, "list_commands"):
        return
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        sub_ctx = sub.context_class(sub, info_name=name, parent=ctx)
        yield from _walk(sub, f"{path} {name}".strip(), sub_ctx)


def command_paths(app: typer.Typer | None = None) -> list[str]:
    """"trimtab promote", "trimtab audit verify", ...: every command a user can run."""
    return [e.title for e in iter_commands(app) if e.path and e.runnable]


# --- rendering --------------------------------------------------------------


def render(app: typer.Typer | None = None) -> str:
    entries = list(iter_commands(app))
    out = [
        "# trimtab CLI reference",
        "",
        "This file is generated from the CLI's own help text. Do not edit it by hand: "
        "change the docstrings and `help=` strings in `src/trimtab/cli/`, then run",
        "",
        "```bash",
        REGENERATE,
        "```",
        "",
        "`tests/test_docs.py` fails when this file is out of date.",
        "",
        "Every command also takes `--help`. In usage lines `{name}` is a required "
        "argument, `[name]` an optional one, and `...` means it can be repeated. "
        "Global options such as `--project` go before the command: "
        "`trimtab --project path/to/trimtab.yaml status`.",
        "",
    ]
    for entry in entries[1:]:
        depth = entry.path.count(" ")
        summary = _plain(entry.command.get_short_help_str(limit=10_000))
        out.append(f"{'  ' * depth}- [`{entry.title}`](#{_anchor(entry.title)}): {summary}")
    out.append("")
    for entry in entries:
        out.extend(_section(entry))
    return "\n".join(out).rstrip("\n") + "\n"


def _section(entry: Entry) -> list[str]:
    command, ctx = entry.command, entry.ctx
    pieces = command.collect_usage_pieces(ctx)
    lines = [
        f"## {entry.title}",
        "",
        "```",
        f"Usage: {' '.join([ctx.command_path, *pieces])}",
        "```",
        "",
    ]
    lines.extend(_help_markdown(command.help or ""))
    arguments = [p for p in command.params if p.param_type_name == "argument" and not p.hidden]
    options = [p for p in command.params if p.param_type_name == "option" and not p.hidden]
    for title, params in (("Arguments", arguments), ("Options", options)):
        if params:
            lines += [f"{title}:", ""]
            lines += [_param_line(p, ctx) for p in params]
            lines.append("")
    if entry.is_group and entry.path:  # the root's commands are the list at the top
        lines += ["Commands:", ""]
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            title = f"{entry.title} {name}"
            summary = _plain(sub.get_short_help_str(limit=10_000))
            lines.append(f"- [`{title}`](#{_anchor(title)}): {summary}")
        lines.append("")
    return lines


def _help_markdown(text: str) -> list[str]:
    """Paragraphs joined into lines; indented blocks (the examples) fenced as bash."""
    lines: list[str] = []
    paragraph: list[str] = []
    code: list[str] = []

    def flush_paragraph() -> None:
        if paragraph:
            lines.extend([_plain(" ".join(paragraph)), ""])
            paragraph.clear()

    def flush_code() -> None:
        if code:
            while code and not code[-1].strip():
                code.pop()
            lines.extend(["```bash", *code, "```", ""])
            code.clear()

    raw = [line for line in text.replace("\b", "").splitlines()]
    for line in raw:
        if line.startswith(("    ", "\t")) and (code or not paragraph):
            flush_paragraph()
            code.append(line.expandtabs(4)[4:].rstrip())
        elif not line.strip():
            if code:
                code.append("")
            else:
                flush_paragraph()
        else:
            flush_code()
            paragraph.append(line.strip())
    flush_paragraph()
    flush_code()
    return lines


def _param_line(param: Any, ctx: Any) -> str:
    if param.param_type_name == "argument":
        name = param.metavar or param.name
        if param.nargs != 1:
            name += "..."
        names = f"`{name}`"
    else:
        names = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
    type_label = _type_label(param, ctx)
    if type_label:
        names += f" {type_label}"
    facts = []
    if param.required:
        facts.append("required")
    default = _default(param, ctx)
    if default is not None:
        facts.append(f"default: `{default}`")
    envvar = param.envvar
    if envvar:
        variables = [envvar] if isinstance(envvar, str) else list(envvar)
        facts.append("env var: " + ", ".join(f"`{v}`" for v in variables))
    if facts:
        names += f" ({'; '.join(facts)})"
    text = _plain(getattr(param, "help", None) or "")
    return f"- {names}: {text}" if text else f"- {names}"


def _type_label(param: Any, ctx: Any) -> str:
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if param.param_type_name == "option" and param.metavar:
        return f"`{param.metavar}`"
    display = getattr(param, "display_type", None)  # Typer's own label, e.g. <str>
    label = display(ctx) if display else f"<{param.type.name}>"
    return f"`{label}`"


def _default(param: Any, ctx: Any) -> str | None:
    """The default as the user would type it; None when there is none worth showing."""
    if param.required or param.show_default is False:
        return None
    value = param.get_default(ctx, call=False)
    if callable(value):
        return "(dynamic)"
    if value is None or value == "" or value is False or value in ((), []):
        return None
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    if value is True:
        return param.opts[0] if param.param_type_name == "option" else "true"
    return str(value)


def _plain(text: str) -> str:
    """Help text as the user reads it in --help: Rich markup applied, then dropped."""
    return Text.from_markup(text).plain if "[" in text else text


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lowercase, spaces to hyphens, punctuation dropped."""
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trimtab.cli.reference",
        description="Print the Markdown CLI reference, or write it to a file.",
    )
    parser.add_argument("--write", metavar="PATH", type=Path, help="write to PATH (docs/cli.md)")
    args = parser.parse_args(argv)
    text = render()
    if args.write is None:
        sys.stdout.write(text)
        return 0
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
