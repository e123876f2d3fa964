"""Commands about the project file and the systems it declares."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    print_json,
    print_listing,
    workspace,
)


@handles_errors
def init(
    directory: Path = typer.Argument(
        Path("."), metavar="DIRECTORY", help="Where to create the project."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing example files."),
) -> None:
    """Create an example trimtab.yaml and prompt files that run fully offline.

    Example:

        trimtab init my-ai-systems
    """
    from trimtab.project.scaffold import init_project  # its example files: `init` alone

    directory.mkdir(parents=True, exist_ok=True)
    for path in init_project(directory, force=force):
        console.print(f"created {path}")
    console.print("next: [bold]trimtab validate[/] then [bold]trimtab release complaint-router[/]")


@handles_errors
def validate(
    file: Path = typer.Argument(
        None, metavar="FILE", help="Project file (default: found from the cwd)."
    ),
) -> None:
    """Check trimtab.yaml and report every problem at once, with line and fix.

    Exit code 0 when valid, 2 when not: put it in CI before any release.
    Warnings (exit 0) name each provider whose key variable is unset here, the
    environments where the simulated provider may answer, and each model
    with no price. A budget on a gateway key (`key:` under `budgets:`) must
    name a key the store holds, when there is a store here to ask.

    Example:

        trimtab validate trimtab.yaml
    """
    from trimtab.project.loader import PROJECT_FILE, load_project

    path = file or workspace().project_file or Path(PROJECT_FILE)
    from trimtab.project.readiness import readiness

    project = load_project(path)
    count = len(project.spec.systems)
    console.print(
        f"[green]ok[/] {path}: {count} system{'s' if count != 1 else ''}, "
        f"environments {' → '.join(project.environments)}"
    )
    allowed = project.spec.allow_simulated
    console.print(f"simulated provider answers in: {', '.join(allowed) or 'no environment'} "
                  "(allow_simulated)", markup=False)
    for line in readiness(project):
        console.print(f"[yellow]warning[/] {escape(line)}")
    _check_key_budgets(project, path)


def _check_key_budgets(project, path: Path) -> None:
    """Keys live in the store, not in trimtab.yaml: a budget naming one is checked
    against the store when there is one here, and is a warning otherwise."""
    from trimtab.errors import ProjectError

    problems = workspace().key_budget_problems(project)
    if problems is None:
        console.print("[yellow]warning[/] key budgets not checked against the gateway keys: "
                      "no store here. Fix: set TRIMTAB_DATABASE_URL to check them.")
    elif problems:
        raise ProjectError(problems)


@handles_errors
def sync(
    systems: list[str] = typer.Argument(
        None, metavar="SYSTEM...", help="Systems to sync (default: all)."
    ),
) -> None:
    """Register or update systems in the store from trimtab.yaml (audited).

    Example:

        trimtab sync complaint-router
    """
    for system, outcome in workspace().sync(systems or None):
        console.print(f"{system.name}: {outcome}")


@handles_errors
def systems(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the inventory: every system declared or registered, its owner, risk and target.

    Example:

        trimtab systems --json
    """
    ws = workspace()
    stored = {s.name: s for s in ws.systems()}
    declared = ws.project.spec.systems if ws.project_file else {}
    rows = []
    for name in sorted(stored.keys() | declared.keys()):
        if name in declared:
            info = declared[name].declared()
        else:
            info = {
                k: getattr(stored[name], k)
                for k in (
                    "kind",
                    "description",
                    "owner",
                    "tier",
                    "risk",
                    "customer_facing",
                    "target_stage",
                )
            }
        if name not in stored:
            state = "declared, not registered"
        elif name not in declared:
            state = "registered, no longer declared"
        elif any(getattr(stored[name], k) != v for k, v in info.items()):
            state = "changed in file, run trimtab sync"
        else:
            state = "registered"
        rows.append({"name": name, **info, "state": state})
    if json_output:
        print_json(rows)
        return
    print_listing(
        "AI systems",
        [Col("system"), Col("kind"), Col("tier", drop=3), Col("risk", wrap=True),
         Col("target", drop=4), Col("owner", drop=1), Col("state", drop=2, wrap=True)],
        [[row["name"], row["kind"], str(row["tier"]),
          row["risk"] + (", customer-facing" if row["customer_facing"] else ""),
          f"stage {row['target_stage']}", row["owner"], row["state"]] for row in rows],
    )
