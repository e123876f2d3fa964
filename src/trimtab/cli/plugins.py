"""`trimtab plugins`: the provider kinds, channel kinds and scorers installed packages add."""

from __future__ import annotations

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    handles_errors,
    print_json,
    print_listing,
)


@handles_errors
def plugins(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List every provider kind, channel kind and scorer, and whether each loads.

    trimtab's own kinds register through the same entry points as another
    package's (groups trimtab.providers, trimtab.channels, trimtab.scorers), so
    all are listed, with the distribution and version that registered each.
    A kind that does not load says why; `trimtab validate` refuses a project
    that uses it.

    Example:

        trimtab plugins --json
    """
    from trimtab import plugins as registry  # read only when the command runs

    rows = []
    for group in registry.GROUPS:
        for plugin in registry.plugins(group):
            problem = registry.status(plugin)
            rows.append({"group": group, "name": plugin.name, "value": plugin.value,
                         "distribution": plugin.distribution, "version": plugin.version,
                         "loads": problem is None, "error": problem})
    if json_output:
        print_json(rows)
        return
    shown = []
    for group in registry.GROUPS:
        mine = [r for r in rows if r["group"] == group]
        if not mine:
            shown.append([group, "[dim](none installed)[/]", "", "", ""])
        for row in mine:
            loads = "[green]yes[/]" if row["loads"] else f"[red]no[/]: {escape(row['error'])}"
            shown.append([group, row["name"], row["distribution"] or "?",
                          row["version"] or "", loads])
    print_listing("plugins", [Col("group"), Col("name"), Col("distribution", drop=2),
                              Col("version", drop=1), Col("loads", wrap=True)], shown)
