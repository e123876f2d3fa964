"""The `trimtab` command: a thin shell over trimtab.workspace."""

from __future__ import annotations

from trimtab.cli import collector

# Typer, rich and the commands' modules load with the collector paused; the `trimtab`
# command freezes what they made as its command starts (collector.py), a process that
# only imports the CLI (the tests, a notebook) keeps its heap as it was.
with collector.paused():
    import sys
    from pathlib import Path

    import typer

    from trimtab.cli import (
        alerts,
        approvals,
        assess,
        assurance,
        audit,
        calls,
        database,
        demo,
        documents,
        drift,
        environments,
        evals,
        evidence,
        gateway,
        incidents,
        inventory,
        investigate,
        keys,
        labels,
        metrics,
        plugins,
        quality,
        releases,
        report,
        retention,
        review,
        scores,
        suspend,
        users,
    )
    from trimtab.cli.output import _options

__all__ = ["app", "main"]

_SETTINGS = {
    "name": "trimtab",
    "help": "Right-sized MLOps for a handful of AI systems. Start with: trimtab init",
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
}
app = typer.Typer(**_SETTINGS)


@app.callback()
def _root(
    project: Path = typer.Option(
        None, "--project", "-p", envvar="TRIMTAB_PROJECT",
        help="Project file or its directory (default: trimtab.yaml in cwd or a parent).",
    ),
) -> None:
    _options["project"] = project
    collector.command_starts()


app.command()(inventory.init)
app.command()(inventory.validate)
app.command()(inventory.sync)
app.command()(inventory.systems)
app.command()(releases.release)
app.command()(releases.releases)
app.command()(releases.show)
app.command()(releases.diff)
app.command()(releases.artefact)
app.command()(environments.promote)
app.command()(approvals.approve)
app.command()(approvals.reject)
app.command()(approvals.approvals)
app.command()(suspend.suspend)
app.command()(suspend.resume)
app.command()(suspend.suspended)
incidents.app.command("report")(investigate.report)
app.add_typer(incidents.app, name="incident")
app.command()(incidents.incidents)
app.add_typer(assurance.app, name="assurance")
app.command()(investigate.timeline)
app.command()(environments.rollback)
app.command()(environments.status)
app.command()(environments.history)
app.command(name="eval")(evals.eval)
app.command()(evals.evals)
app.add_typer(review.app, name="review")
app.add_typer(quality.app, name="quality")
app.command()(metrics.metrics)
app.add_typer(calls.app, name="calls")
app.command()(calls.call)
app.command()(retention.prune)
app.command()(retention.erase)
app.command()(alerts.check)
app.command()(alerts.monitor)
app.add_typer(alerts.app, name="alerts")
app.command()(scores.score)
app.command()(labels.label)
app.command()(labels.labels)
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")
app.add_typer(evidence.app, name="export")
app.add_typer(users.users_app, name="users")
app.add_typer(users.tokens_app, name="tokens")
app.command()(users.whoami)
app.add_typer(database.app, name="db")
app.add_typer(drift.app, name="drift")
app.add_typer(report.app, name="report")
app.command()(gateway.gateway)
app.command()(gateway.serve)
app.command()(assess.assess)
app.command()(documents.docs)
app.command()(demo.demo)
app.command()(plugins.plugins)


def _literal_help(typer_app: typer.Typer) -> None:
    """Help is Markdown, not Rich markup: Rich markup eats the extra in
    `pip install 'trimtab[report]'` and the user runs a fix that does nothing;
    Markdown keeps `[report]` and shows the Example blocks as code."""
    typer_app.rich_markup_mode = "markdown"
    for group in typer_app.registered_groups:
        _literal_help(group.typer_instance)


_literal_help(app)


def main() -> None:
    # Paused until the command starts (_root): building the command tree allocates
    # only what lives as long as the process.
    collector.pause_until_command()
    try:
        app_for(sys.argv[1:])()
    finally:
        collector.command_starts()


def app_for(args: list[str]) -> typer.Typer:
    """The app with only the command (or group) ``args`` names: typer builds a click
    command for every registered command before it parses, 20-odd ms of `trimtab
    eval`'s start-up for the other hundred. Anything else (no command, an option
    first, a name that is no command) gets the whole app and its own help, errors
    and suggestions."""
    name = args[0] if args else None
    if not name or name.startswith("-"):
        return app
    commands = [c for c in app.registered_commands
                if (c.name or typer.main.get_command_name(c.callback.__name__)) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if len(commands) + len(groups) != 1:
        return app
    one = typer.Typer(**_SETTINGS)
    one.registered_callback = app.registered_callback
    one.registered_commands = commands
    one.registered_groups = groups
    one.rich_markup_mode = app.rich_markup_mode
    return one
