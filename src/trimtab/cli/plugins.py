"""`trimtab plugins`: the provider kinds, channel kinds and scorers installed packages add."""

from __future__ import annotations

import typer
from rich.table import Table

from trimtab.cli.output import console, handles_errors, print_json


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
    table = Table("group", "name", "distribution", "version", "loads")
    for group in registry.GROUPS:
        mine = [r for r in rows if r["group"] == group]
        if not mine:
            table.add_row(group, "[dim](none installed)[/]", "", "", "")
        for row in mine:
            loads = "[green]yes[/]" if row["loads"] else f"[red]no[/]: {row['error']}"
            table.add_row(group, row["name"], row["distribution"] or "?",
                          row["version"] or "", loads)
    console.print(table)
