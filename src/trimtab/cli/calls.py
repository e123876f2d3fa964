"""The call log in the terminal: `trimtab calls` lists, `trimtab calls show ID` (or
`trimtab call ID`) shows one."""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    handles_errors,
    parse_since,
    print_json,
    print_listing,
    usd_micro,
    workspace,
)

app = typer.Typer(invoke_without_command=True, no_args_is_help=False)


@app.callback(invoke_without_command=True)
@handles_errors
def calls(
    ctx: typer.Context,
    system: str = typer.Option(None, "--system", "-s", help="Only this system."),
    env: str = typer.Option(None, "--env", "-e", help="Only this environment."),
    since: str = typer.Option(None, "--since", help="24h, 7d, or an ISO time."),
    errors: bool = typer.Option(False, "--errors", help="Only failed calls."),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many, newest first."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List recorded calls, newest first: latency, tokens, cost, status.

    `trimtab calls show ID` shows one call in full. --env and --errors look at the
    newest 20,000 calls of the system since --since (a bound that keeps a big call
    log quick to list).

    Example:

        trimtab calls --system complaint-router --env production --since 1h
    """
    if ctx.invoked_subcommand is not None:
        return
    found = workspace().calls(
        system=system, env=env, since=parse_since(since),
        status="error" if errors else None, limit=limit,
    )
    if json_output:
        print_json([c.to_dict() for c in found])
        return
    rows = []
    for c in found:
        status = c.status if c.status == "ok" else f"[red]{escape(c.error_kind or c.status)}[/]"
        if c.fallback_used:
            status += " (fallback)"
        tokens = "?" if c.input_tokens is None and c.output_tokens is None else \
            f"{c.input_tokens or 0}→{c.output_tokens or 0}"
        rows.append([c.id[:16], f"{c.time:%m-%d %H:%M:%S}", escape(c.system), escape(c.env),
                     escape(c.model or ""),
                     status, f"{c.latency_ms:,.0f}", tokens, usd_micro(c.cost_micro_usd)])
    print_listing(
        "calls",
        [Col("call"), Col("time (UTC)", drop=3), Col("system"), Col("env", drop=4),
         Col("model", drop=2), Col("status"), Col("ms", right=True),
         Col("tokens", right=True, drop=1), Col("cost", right=True)],
        rows,
    )


@handles_errors
def call(
    call_id: str = typer.Argument(..., metavar="CALL", help="Call id or unique prefix."),
) -> None:
    """Show one call in full: prompt, response, attempts, usage and cost.

    Example:

        trimtab call 0623f1a2b3c4
    """
    found = workspace().call(call_id).to_dict()
    for name in ("request", "response"):
        if found[name]:
            try:
                found[name] = json.loads(found[name])
            except ValueError:
                pass
    print_json(found)


@app.command("show")
@handles_errors
def show(
    call_id: str = typer.Argument(..., metavar="CALL", help="Call id or unique prefix."),
) -> None:
    """Show one call in full: prompt, response, attempts, usage and cost (as `trimtab call`).

    Example:

        trimtab calls show 0623f1a2b3c4
    """
    call(call_id)
