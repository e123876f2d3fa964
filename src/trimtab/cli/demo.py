"""`trimtab demo`: four systems with four weeks of history, then the dashboard."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import typer

from trimtab.cli.output import Col, console, handles_errors, print_listing
from trimtab.errors import TrimtabError


@handles_errors
def demo(
    directory: Path = typer.Argument(
        Path("trimtab-demo"), metavar="DIRECTORY", help="Where to build the demo."
    ),
    scale: float = typer.Option(
        1.0, "--scale", min=0.01, max=10.0,
        help="Traffic as a share of the full demo (about 50,000 calls); 0.05 for a quick run."),
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="Serve the dashboard when the demo is built."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address the dashboard listens on."),
    port: int = typer.Option(4000, "--port", help="Port the dashboard listens on."),
) -> None:
    """Build an example workspace of four AI systems with four weeks of history,
    then serve the dashboard: a complaint router at a manufacturer, a compliance
    assistant at a bank (high-risk, two-person approval), customer-request triage
    at a logistics firm (a canary running) and a churn model with its labels.

    Releases, promotions, a rollback, a latency regression, input drift, a cost
    spike, eval runs (one gate fails), reviews, incidents and approvals all go
    through the simulated provider and the public API; `trimtab assess
    --portfolio` in the directory then says where each system stands. The
    directory must be new or empty (a demo is built once).

    Example:

        trimtab demo /tmp/trimtab-demo --no-serve
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from trimtab.demo import build, write_files
    from trimtab.workspace import connect

    if directory.exists() and any(directory.iterdir()):
        raise TrimtabError(f"{directory} is not empty; the demo builds a new workspace. "
                           f"Fix: `trimtab demo NEW_DIRECTORY`, or delete {directory} first "
                           f"(then `cd {directory} && trimtab serve` shows the old one).")
    directory.mkdir(parents=True, exist_ok=True)
    write_files(directory)
    # The demo's webhook points nowhere on purpose: its delivery failures are noise
    # while the history is built (and only then: a process that goes on, a test run
    # or the dashboard served below, keeps its alert log).
    observe_log = logging.getLogger("trimtab.observe")
    level = observe_log.level
    observe_log.setLevel(logging.ERROR)
    started = time.monotonic()
    ws = connect(directory)
    try:
        with Progress(TextColumn("{task.description:<52}"), BarColumn(),
                      TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("starting", total=1.0)

            def step(what: str, share: float) -> None:
                bar.update(task, description=what, advance=share)

            try:
                story = build(ws, scale=scale, progress=step)
            finally:
                observe_log.setLevel(level)
        _summary(story, time.monotonic() - started)
        if serve:
            _serve(ws, directory, host, port)
    finally:
        ws.close()


def _summary(story, seconds: float) -> None:
    from trimtab.assess.checks import STAGES

    console.print(f"trimtab demo in {story.directory}/ ({seconds:.0f} s)", markup=False,
                  highlight=False, soft_wrap=True)
    rows = []
    for system, calls in story.calls.items():
        stage, target = story.stages.get(system, (0, 0))
        rows.append([system, str(len(story.releases.get(system, []))), f"{calls:,}",
                     f"{stage} ({STAGES[stage]})", str(target)])
    print_listing("the demo's systems",
                  [Col("system"), Col("releases", right=True, drop=2),
                   Col("production calls", right=True), Col("stage"),
                   Col("target", right=True, drop=1)], rows)
    console.print(f"churn-model labels: {story.labels:,}; incidents: {len(story.incidents)}; "
                  f"approval waiting: {story.pending_approval[:12]}", soft_wrap=True)
    console.print(f"next: cd {story.directory} && trimtab assess --portfolio · trimtab status "
                  "· trimtab approvals · trimtab serve", soft_wrap=True)


def _serve(ws, directory: Path, host: str, port: int) -> None:
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
    except ImportError as exc:
        raise TrimtabError(f"the dashboard needs the web extra ({exc.name} is missing). Fix: "
                           "pip install 'trimtab[web]', then `cd "
                           f"{directory} && trimtab serve`.") from None
    from trimtab.web.server import serve

    def ready() -> None:
        console.print(f"\ndashboard: [bold]http://{host}:{port}/[/] (Ctrl-C stops it; "
                      f"`cd {directory} && trimtab serve` brings it back)", soft_wrap=True)

    serve(ws, host, port, 1, monitor_interval=60.0, on_ready=ready)
