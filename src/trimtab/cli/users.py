"""Identities, roles and API tokens: `trimtab users ...`, `trimtab tokens ...`, `trimtab whoami`."""

from __future__ import annotations

import typer

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    parse_span,
    print_json,
    print_listing,
    when,
    workspace,
)

ROLE_HELP = "viewer, reviewer, operator, approver or admin (each holds the ones before it)."

users_app = typer.Typer(
    help="Who may do what: users, and their roles per project or per system.",
    no_args_is_help=True)
tokens_app = typer.Typer(
    help="API tokens that prove who is calling (shown once, stored hashed).",
    no_args_is_help=True)


@users_app.command("add")
@handles_errors
def add(
    name: str = typer.Argument(..., metavar="NAME", help="An e-mail or a pipeline's name."),
    role: str = typer.Option(..., "--role", "-r", help=ROLE_HELP),
    system: str = typer.Option(None, "--system", "-s", help="Only for this system."),
) -> None:
    """Add a user with a role; the first user must be an admin.

    Until the first user is added the store runs in single-user mode, where
    whoever runs trimtab is admin (the demo needs no login).

    Example:

        trimtab users add alice@example.com --role admin
        trimtab users add ci-pipeline --role operator
    """
    user = workspace().add_user(name, role, system=system)
    console.print(f"added {user.identity.name} as {role}"
                  + (f" of {system}" if system else ""))


@users_app.command("list")
@handles_errors
def list_users(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List users and their roles in this project.

    Example:

        trimtab users list
    """
    users = workspace().users()
    if json_output:
        print_json([u.to_dict() for u in users])
        return
    if not users:
        console.print("no users: single-user mode (whoever runs trimtab is admin). "
                      "Add the first admin with `trimtab users add NAME --role admin`.")
        return
    rows = []
    for u in users:
        roles = ", ".join(g.role + (f" ({g.system})" if g.system else "") for g in u.grants)
        rows.append([u.identity.name, roles or "-", when(u.identity.created_at),
                     "live" if u.identity.live else "removed"])
    print_listing("users", [Col("name"), Col("roles", wrap=True), Col("added", drop=1),
                            Col("state")], rows)


@users_app.command("grant")
@handles_errors
def grant(
    name: str = typer.Argument(..., metavar="NAME", help="The user."),
    role: str = typer.Argument(..., metavar="ROLE", help=ROLE_HELP),
    system: str = typer.Option(None, "--system", "-s", help="Only for this system."),
) -> None:
    """Give a user a role, in the whole project or in one system (audited).

    Example:

        trimtab users grant bob@example.com approver
        trimtab users grant carol@example.com operator --system complaint-router
    """
    workspace().grant(name, role, system=system)
    console.print(f"{name} is now {role}" + (f" of {system}" if system else ""))


@users_app.command("revoke")
@handles_errors
def revoke(
    name: str = typer.Argument(..., metavar="NAME", help="The user."),
    role: str = typer.Argument(..., metavar="ROLE", help=ROLE_HELP),
    system: str = typer.Option(None, "--system", "-s", help="The system the role was for."),
) -> None:
    """Take a role away from a user (audited). The last admin cannot be demoted.

    Example:

        trimtab users revoke bob@example.com approver
    """
    workspace().revoke(name, role, system=system)
    console.print(f"{name} is no longer {role}" + (f" of {system}" if system else ""))


@users_app.command("remove")
@handles_errors
def remove(name: str = typer.Argument(..., metavar="NAME", help="The user.")) -> None:
    """Remove a user: their roles stop counting and their tokens die at once.

    Audited; the record stays, so the audit trail's names still resolve.

    Example:

        trimtab users remove mallory@example.com
    """
    workspace().remove_user(name)
    console.print(f"removed {name}; their tokens are revoked")


@tokens_app.command("create")
@handles_errors
def create_token(
    user: str = typer.Option(None, "--user", "-u",
                             help="Whose token (default: yours; anyone else's needs admin)."),
    name: str = typer.Option("cli", "--name", "-n", help="What it is for, e.g. ci."),
    expires: str = typer.Option("90d", "--expires",
                                help="Lifetime: 30m, 24h, 90d, 2w, or never."),
) -> None:
    """Create an API token; it is printed once and only its hash is kept.

    Set it as TRIMTAB_TOKEN to act as that user (it wins over TRIMTAB_USER).

    Example:

        trimtab tokens create --user ci-pipeline --name github-actions --expires 30d
    """
    life = None if expires.strip() == "never" else parse_span(expires, "--expires")
    token, text = workspace().create_token(user=user, name=name, expires=life)
    until = f"until {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "no expiry"
    console.print(f"created token {token.id} for {token.identity} ({until}); "
                  "it is shown only once:")
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@tokens_app.command("list")
@handles_errors
def list_tokens(
    user: str = typer.Option(None, "--user", "-u", help="Only this user's tokens."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List tokens: whose, what for, until when, and whether live (never the secret).

    Example:

        trimtab tokens list --user ci-pipeline
    """
    from datetime import UTC, datetime

    tokens = workspace().tokens(user)
    now = datetime.now(UTC)
    if json_output:
        print_json([t.to_dict() | {"state": t.state(now)} for t in tokens])
        return
    print_listing(
        "API tokens",
        [Col("id"), Col("user"), Col("name", wrap=True), Col("created", drop=1),
         Col("expires", drop=2), Col("state")],
        [[t.id, t.identity, t.name, when(t.created_at),
          f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "never", t.state(now)]
         for t in tokens],
    )


@tokens_app.command("revoke")
@handles_errors
def revoke_token(token_id: str = typer.Argument(..., metavar="ID",
                                                help="Token id from tokens list.")) -> None:
    """Revoke a token at once (audited). Yours, or anyone's as admin.

    Example:

        trimtab tokens revoke 3fa2c81d09be
    """
    token = workspace().revoke_token(token_id)
    console.print(f"revoked token {token.id} ({token.identity}, {token.name})")


@handles_errors
def whoami() -> None:
    """Show who trimtab acts as here, and their role in this project.

    The identity is TRIMTAB_TOKEN's owner, else TRIMTAB_USER, git's
    user.email, or the OS user.

    Example:

        trimtab whoami
    """
    name, role, single = workspace().whoami()
    if single:
        console.print(f"{name} (single-user mode: no users defined, so you are admin)")
    else:
        console.print(f"{name}: {role or 'no role'}" + ("" if role else
                      " (not allowed to change anything here)"))
