"""Commands about releases: cut one, list them, compare two, fetch an artefact."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.text import Text

from trimtab.cli.output import (
    Col,
    check_out_file,
    console,
    handles_errors,
    print_json,
    print_listing,
    when,
    workspace,
    writing,
)


@handles_errors
def release(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name from trimtab.yaml."),
    message: str = typer.Option("", "--message", "-m", help="Why this release exists."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Snapshot a system's config, prompts and artefact hashes as an immutable release.

    The release id is the sha256 of the snapshot: releasing unchanged content
    again returns the existing release instead of a duplicate.

    Example:

        trimtab release complaint-router -m "stricter severity rules"
    """
    made, created = workspace().release(system, note=message)
    if json_output:
        print_json({**made.to_dict(), "created": created})
        return
    if created:
        console.print(f"released [bold]{system}[/] {made.short_id}")
    else:
        console.print(
            f"unchanged: {system} {made.short_id} already holds exactly this content "
            f"(released {when(made.created_at)})"
        )
    if made.git_dirty:
        console.print("[yellow]note:[/] the git work tree had uncommitted changes")


@handles_errors
def releases(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List a system's releases, newest first, with where each is active.

    Example:

        trimtab releases complaint-router
    """
    ws = workspace()
    found = ws.releases(system)
    active: dict[str, list[str]] = {}
    order = ws.project.environments if ws.project_file else []
    current = sorted(ws.status(), key=lambda d: order.index(d.env) if d.env in order else 99)
    for deployment in current:
        if deployment.system == system:
            active.setdefault(deployment.release_id, []).append(deployment.env)
    if json_output:
        print_json([{**r.to_dict(), "active_in": active.get(r.id, [])} for r in found])
        return
    rows = []
    for r in found:
        git = (r.git_commit or "")[:8] + (" (dirty)" if r.git_dirty else "")
        rows.append([r.short_id, when(r.created_at), escape(r.author), git,
                     ", ".join(active.get(r.id, [])), escape(r.note or "")])
    print_listing(
        f"releases of {system}",
        [Col("release"), Col("created", drop=3), Col("author", drop=2), Col("git", drop=4),
         Col("active in", wrap=True), Col("note", drop=1, wrap=True)],
        rows,
    )


@handles_errors
def show(
    release_ref: str = typer.Argument(..., metavar="RELEASE", help="Release id or prefix."),
) -> None:
    """Print a release's full snapshot as JSON.

    Example:

        trimtab show 3f2a9c41b7d0
    """
    print_json(workspace().get_release(release_ref).to_dict())


@handles_errors
def diff(
    old: str = typer.Argument(..., metavar="OLD", help="Older release id or prefix."),
    new: str = typer.Argument(..., metavar="NEW", help="Newer release id or prefix."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show what changed between two releases: prompts line by line, params as keys.

    Example:

        trimtab diff 3f2a9c41b7d0 8b1e22c0aa94
    """
    a, b, changes = workspace().diff(old, new)
    if json_output:
        print_json({"old": a.id, "new": b.id, **changes.to_dict()})
        return
    console.print(f"[bold]{a.system}[/] {a.short_id} → {b.system} {b.short_id}")
    if changes.empty:
        console.print("no differences")
        return
    style = {"added": "green", "removed": "red", "changed": "yellow"}
    for change in changes.changes:
        line = Text(f"  {change.change:8} ", style=style[change.change]) + Text(change.path)
        if change.change == "changed":
            line += Text(f": {json.dumps(change.old)} → {json.dumps(change.new)}")
        elif change.change == "added":
            line += Text(f": {json.dumps(change.new)}")
        else:
            line += Text(f": {json.dumps(change.old)}")
        console.print(line)
    from rich.syntax import Syntax  # pygments: only a diff with prompt changes needs it

    for name, lines in changes.prompts.items():
        console.print(f"\nprompt [bold]{name}[/]")
        if not console.is_terminal:  # whole lines for a pipe or a CI log
            console.print("\n".join(lines), markup=False, highlight=False)
            continue
        console.print(  # wrapped, never cropped at the terminal's edge
            Syntax("\n".join(lines), "diff", theme="ansi_dark", background_color="default",
                   word_wrap=True)
        )


@handles_errors
def artefact(
    release_ref: str = typer.Argument(..., metavar="RELEASE", help="Release id or prefix."),
    name: str = typer.Argument(
        ..., metavar="NAME", help="Artefact name as declared in the release."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the file."),
) -> None:
    """Fetch a release's artefact from the artefact store, verifying its sha256.

    Example:

        trimtab artefact 3f2a9c41b7d0 model --out /tmp/churn.joblib
    """
    check_out_file(out, "--out", makes_folder=True)
    with writing(out, "--out"):
        path = workspace().fetch_artefact(release_ref, name, out)
    console.print(f"wrote {path} (sha256 verified)")
