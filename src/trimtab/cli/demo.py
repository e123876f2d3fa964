"""`trimtab demo`: the product's main job, end to end, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from trimtab.cli.environments import print_status
from trimtab.cli.output import console, handles_errors
from trimtab.scaffold import init_project
from trimtab.workspace import connect


@handles_errors
def demo(
    directory: Path = typer.Argument(
        Path("trimtab-demo"), metavar="DIRECTORY", help="Where to build the demo."
    ),
) -> None:
    """Build an example workspace, release it, promote it dev → staging → production.

    Safe to run again: releases are content-addressed, so a rerun changes nothing.

    Example:

        trimtab demo /tmp/trimtab-demo
    """
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "trimtab.yaml").exists():
        init_project(directory)
        console.print(f"created example project in {directory}/")
    ws = connect(directory)
    made, created = ws.release("complaint-router", note="demo release")
    console.print(f"{'released' if created else 'unchanged:'} complaint-router {made.short_id}")
    for env in ws.project.environments:
        ws.promote("complaint-router", made.id, env, reason="demo")
    console.print(f"promoted through {' → '.join(ws.project.environments)}\n")
    print_status(ws)
