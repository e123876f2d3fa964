"""Two-person approval: `trimtab approve`, `trimtab reject`, `trimtab approvals`."""

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


def print_pending(request) -> None:
    """What `trimtab promote` says when a policy holds the promotion."""
    console.print(
        f"{request.system}: promoting {request.release_id[:12]} to [bold]{request.env}[/] "
        f"needs {request.required} approval{'s' * (request.required != 1)}: request "
        f"[bold]{request.id}[/] is pending until {request.expires_at:%Y-%m-%d %H:%M} UTC.\n"
        f"An approver other than {request.requested_by} runs: trimtab approve {request.id}")


@handles_errors
def approve(
    request: str = typer.Argument(..., metavar="ID", help="The request id (or a prefix)."),
    release: str = typer.Option(
        None, "--release", help="The release you reviewed; refused if the request is "
        "for another one."),
    comment: str = typer.Option("", "--comment", "-m", help="Kept in the audit trail."),
) -> None:
    """Approve a pending promotion; it applies when enough approvers agree.

    The requester cannot approve, each approver counts once, and a rejected
    or expired request cannot be approved: each refusal is audited.

    Example:

        trimtab approve 5e0c1a2b --release 3f2a9c41b7d0 -m "eval report reviewed"
    """
    ws = workspace()
    done, deployment = ws.approve(request, release=release, comment=comment)
    if done.state == "applied":
        where = f"{deployment.release_id[:12]} is now active in [bold]{done.env}[/]" \
            if deployment else f"{done.release_id[:12]} was already active in {done.env}"
        console.print(f"approved ({len(done.approvals)}/{done.required}): {done.system}: "
                      f"{where}")
    else:
        console.print(f"approved ({len(done.approvals)}/{done.required}); request {done.id} "
                      f"waits for {done.required - len(done.approvals)} more")


@handles_errors
def reject(
    request: str = typer.Argument(..., metavar="ID", help="The request id (or a prefix)."),
    reason: str = typer.Option(..., "--reason", "-r", help="Why; the requester reads it."),
) -> None:
    """Reject a pending promotion: it will not apply (audited).

    Example:

        trimtab reject 5e0c1a2b --reason "p95 latency regressed in staging"
    """
    done = workspace().reject(request, reason=reason)
    console.print(f"rejected request {done.id} ({done.system} {done.release_id[:12]} → "
                  f"{done.env})")


@handles_errors
def approvals(
    include_closed: bool = typer.Option(False, "--all", help="Also decided and expired ones."),
    system: str = typer.Option(None, "--system", "-s", help="Only this system."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List promotion requests waiting for approval.

    Example:

        trimtab approvals --all --system complaint-router
    """
    found = workspace().approvals(include_closed=include_closed, system=system)
    if json_output:
        print_json([r.to_dict() for r in found])
        return
    if not found:
        console.print("no promotion is waiting for approval")
        return
    print_listing(
        "promotion requests",
        [Col("id"), Col("system"), Col("env"), Col("release"), Col("by", drop=2),
         Col("asked", drop=1), Col("approvals", wrap=True, drop=3), Col("state")],
        [[r.id, r.system, r.env, r.release_id[:12], escape(r.requested_by), when(r.requested_at),
          f"{len(r.approvals)}/{r.required}"
          + escape(f" ({', '.join(r.approvals)})" if r.approvals else ""), r.state]
         for r in found],
    )
