"""`trimtab demo`: the product's main job, end to end, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from trimtab.cli.environments import print_status
from trimtab.cli.output import console, handles_errors
from trimtab.project.scaffold import init_project


@handles_errors
def demo(
    directory: Path = typer.Argument(
        Path("trimtab-demo"), metavar="DIRECTORY", help="Where to build the demo."
    ),
    calls: int = typer.Option(
        60, "--calls", min=0, help="Sample complaints to route through the release."
    ),
) -> None:
    """Build an example workspace, release it, promote it dev → staging → production,
    route sample complaints through it and show the metrics.

    Safe to run again: releases are content-addressed, so a rerun changes nothing
    but adds calls.

    Example:

        trimtab demo /tmp/trimtab-demo
    """
    from trimtab.workspace import connect

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
    if calls:
        _route_samples(ws, calls)
    ws.close()


SAMPLES = [
    "The charger sparks when I plug it in.",
    "The seal on lid 4 leaks after a day.",
    "The hinge broke on the second use.",
    "Battery drains overnight even when switched off.",
    "Box arrived dented and the bottle had spilled.",
    "Wrong colour delivered, please exchange.",
    "It rattles when the fan spins up.",
    "There is smoke coming from the power supply!",
]


def _route_samples(ws, count: int) -> None:
    """Real calls through the SDK against the offline simulated model, so the
    call log and the metrics have something to show."""
    import asyncio

    from rich.progress import Progress

    from trimtab.cli.metrics import print_metrics

    router = ws.system("complaint-router", env=ws.project.production)

    async def route_all(progress, task) -> None:
        gate = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with gate:
                await router.arun({"customer": f"customer-{i % 7}", "product": f"K-{200 + i % 3}",
                                   "text": SAMPLES[i % len(SAMPLES)]}, user=f"agent-{i % 5}")
            progress.advance(task)

        await asyncio.gather(*(one(i) for i in range(count)))

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("routing sample complaints", total=count)
        ws.caller.run_sync(route_all(progress, task))
    ws.flush()
    console.print(f"\nrouted {count} sample complaints through production")
    from datetime import timedelta

    rows = ws.metrics(window=timedelta(hours=1), by=("system", "model"))
    print_metrics(rows, ("system", "model"), title="last hour")
    console.print("\nnext: trimtab calls · trimtab metrics --by user · trimtab audit log")
