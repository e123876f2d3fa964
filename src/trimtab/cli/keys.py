"""Virtual API keys for the gateway."""

from __future__ import annotations

import typer

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    print_json,
    print_listing,
    when,
    workspace,
)
from trimtab.errors import TrimtabError

app = typer.Typer(help="Create, list and revoke the gateway's virtual API keys.",
                  no_args_is_help=True)


def _tags(values: list[str] | None) -> dict[str, str]:
    tags = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise TrimtabError(f"--tag {value!r}: expected KEY=VALUE, e.g. --tag team=quality.")
        tags[key] = val
    return tags


@app.command("create")
@handles_errors
def create(
    name: str = typer.Argument(..., metavar="NAME", help="The application the key is for."),
    env: list[str] = typer.Option(..., "--env", "-e", help="Environment it may call; repeat "
                                  "for several. The first is its default."),
    any_env: bool = typer.Option(False, "--any-env", help="May call every environment "
                                 "(X-Trimtab-Env); --env is then only its default."),
    system: list[str] = typer.Option(None, "--system", "-s", help="Allow only these systems."),
    tag: list[str] = typer.Option(None, "--tag", "-t", help="Attribution, KEY=VALUE."),
    monthly_budget: float = typer.Option(
        None, "--monthly-budget", help="Its own budget, USD per calendar month (UTC), as "
        "LiteLLM's max_budget: shown in the cost report."),
    enforce_budget: bool = typer.Option(
        False, "--enforce-budget", help="Answer its calls 429 budget_exceeded once the "
        "month's spend reaches --monthly-budget."),
) -> None:
    """Create a key for one application. The key is printed once; only its hash is kept.

    A key calls only its environments: a staging key naming production in
    X-Trimtab-Env is refused (403 env_not_allowed). With --monthly-budget it
    has its own monthly budget (every key of its name counts against it), and
    with --enforce-budget the gateway refuses it once the month is spent.

    Example:

        trimtab keys create crm-backend --env production --tag team=support

        trimtab keys create support-bot --env production --monthly-budget 50 --enforce-budget
    """
    from trimtab.observe.cost_report import usd

    key, text = workspace().create_key(name, env=env, systems=system or None, tags=_tags(tag),
                                       any_env=any_env, monthly_budget_usd=monthly_budget,
                                       enforce_budget=enforce_budget)
    scope = "any environment" if key.envs is None else ", ".join(key.envs)
    budget = "" if key.monthly_budget_usd is None else \
        f"; budget {usd(key.monthly_budget_usd)} a month, " + \
        ("enforced" if key.budget_enforced else "watched")
    console.print(f"created key {key.id} for {name} (default env {key.default_env}; may call "
                  f"{scope}{budget}); it is shown only once:", markup=False)
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command("list")
@handles_errors
def list_(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List keys: name, default env, allowed systems, tags, and whether revoked.

    Example:

        trimtab keys list
    """
    from trimtab.observe.cost_report import usd

    keys = workspace().keys()
    if json_output:
        print_json([k.to_dict() for k in keys])
        return
    rows = [[k.id, k.name, k.default_env, ", ".join(k.envs or ["all"]),
             ", ".join(k.systems or ["all"]),
             ", ".join(f"{a}={b}" for a, b in k.tags.items()),
             "-" if k.monthly_budget_usd is None else usd(k.monthly_budget_usd)
             + (" enforced" if k.budget_enforced else ""), when(k.created_at),
             "revoked" if k.revoked_at else "live"] for k in keys]
    print_listing(
        "gateway keys",
        [Col("id"), Col("name"), Col("env", drop=3), Col("may call", drop=3, wrap=True),
         Col("systems", wrap=True), Col("tags", drop=2, wrap=True),
         Col("monthly budget", drop=2), Col("created", drop=1), Col("state")],
        rows,
    )


@app.command("revoke")
@handles_errors
def revoke(key_id: str = typer.Argument(..., metavar="ID", help="Key id from keys list.")) -> None:
    """Revoke a key: the gateway refuses it within seconds (audited).

    Example:

        trimtab keys revoke 3fa2c81d09be
    """
    key = workspace().revoke_key(key_id)
    console.print(f"revoked key {key.id} ({key.name})")
