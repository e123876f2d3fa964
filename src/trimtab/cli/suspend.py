"""The kill switch: `trimtab suspend`, `trimtab resume`, `trimtab suspended`."""

from __future__ import annotations

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    print_json,
    print_listing,
    when,
    workspace,
)


@handles_errors
def suspend(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    env: str = typer.Option(..., "--env", "-e", help="Environment to stop it in."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; kept in the audit trail."),
) -> None:
    """Stop a system: every call (SDK and gateway) gets its safe answer instead of a model.

    The safe answer is the system's `when_suspended:` in trimtab.yaml (a fixed
    reply, a refusal, or an error the application handles); every process
    serves it within a second. Calls are recorded with status `suspended`.

    Example:

        trimtab suspend complaint-router --env production --reason "leaking customer data"
    """
    held = workspace().suspend(system, env, reason=reason)
    console.print(f"{system} is [bold red]suspended[/] in {env}: calls get its safe "
                  f"{held.mode}: {held.message!r}")


@handles_errors
def resume(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    env: str = typer.Option(..., "--env", "-e", help="Environment to resume it in."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; kept in the audit trail."),
) -> None:
    """Lift a suspension: calls reach the model again (a high-risk system needs an approver).

    Example:

        trimtab resume complaint-router --env production --reason "fix released as 8b1e22c0"
    """
    was = workspace().resume(system, env, reason=reason)
    console.print(f"{system} resumed in {env} (suspended since {when(was.time)} by {was.actor})")


@handles_errors
def suspended(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the systems suspended now, where, since when, by whom and why.

    Example:

        trimtab suspended
    """
    held = workspace().suspensions()
    if json_output:
        print_json([s.to_dict() for s in held])
        return
    if not held:
        console.print("nothing is suspended")
        return
    print_listing(
        "suspended systems",
        [Col("system"), Col("env"), Col("since", drop=2), Col("by", drop=1),
         Col("answers", wrap=True, drop=3), Col("reason", wrap=True)],
        [[s.system, s.env, when(s.time), s.actor, escape(f"{s.mode}: {s.message}"),
          escape(s.reason)] for s in held],
    )
