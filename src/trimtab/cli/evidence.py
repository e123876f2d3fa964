"""`trimtab export`: evidence bundles an auditor can check file by file."""

from __future__ import annotations

from pathlib import Path

import typer

from trimtab.cli.output import (
    Col,
    check_out_folder,
    console,
    err_console,
    handles_errors,
    parse_since,
    print_json,
    print_listing,
    workspace,
    writing,
)

app = typer.Typer(help="Export evidence bundles and verify them.", no_args_is_help=True)


@app.command("evidence")
@handles_errors
def evidence_cmd(
    system: str = typer.Argument(..., help="The system."),
    since: str = typer.Option(..., "--since", help="30d, 12w, or an ISO time."),
    out: Path = typer.Option(None, "--out", "-o", help="A new or empty folder (default: "
                             "evidence-SYSTEM-TIME in the current folder)."),
    max_rows: int = typer.Option(None, "--max-rows", help="Rows one table may hold "
                                 "(default 1,000,000); past it the export refuses."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write a system's evidence since a moment: calls, releases, deployments, audit
    entries, approvals, incidents, freezes, legal holds, drills, independent reviews,
    eval runs, reviews and labels as JSON and CSV, the generated compliance
    documents, and manifest.json with each file's sha256 and the audit chain's
    head. The manifest's sha256 is recorded in the audit trail (`evidence.export`).
    Operator.

    Example:

        trimtab export evidence complaint-router --since 90d --out evidence/q4
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    check_out_folder(out, "--out")
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True,
                  disable=json_output) as bar:

        def progress(label: str, total: int):
            task = bar.add_task(label, total=total)
            return lambda n: bar.advance(task, n)

        with writing(out, "--out"):
            bundle = workspace().export_evidence(system, since=parse_since(since), out=out,
                                                 progress=progress, max_rows=max_rows)
    if json_output:
        print_json(bundle.to_dict())
        return
    rows = ", ".join(f"{n} {c}" for n, c in bundle.rows.items() if c)
    console.print(f"wrote {bundle.files} files to {bundle.path}: {rows}; "
                  f"{bundle.documents} documents")
    console.print(f"audit head at export: entry {bundle.audit_head[0]} {bundle.audit_head[1]}"
                  + ("" if bundle.chain_ok else " [bold red](the chain does NOT verify)[/]"))
    console.print(f"manifest sha256 {bundle.manifest_sha256} (in the audit trail as "
                  "evidence.export); check with `trimtab export verify`")


@app.command("verify")
@handles_errors
def verify_cmd(
    folder: Path = typer.Argument(..., help="The bundle's folder."),
    expect: str = typer.Option(None, "--expect", metavar="SHA256",
                               help="The manifest's sha256 as recorded at export."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recompute every file's sha256 against the bundle's manifest; exit 1 and name
    each file changed, missing or added.

    A manifest rewritten to match edited files is caught with --expect (the
    sha256 the export printed and `trimtab audit log --action evidence.export`
    keeps).

    Example:

        trimtab export verify evidence/q4 --expect 3f2a...
    """
    from trimtab.workspace import Workspace

    verdict = Workspace.verify_evidence(folder, expect=expect)
    if json_output:
        print_json(verdict.to_dict())
    elif verdict.ok:
        console.print(f"[green]ok[/] {verdict.checked} files match the manifest "
                      f"(sha256 {verdict.manifest_sha256})")
    else:
        print_listing("evidence bundle: BROKEN",
                      [Col("file"), Col("problem"), Col("detail", wrap=True)],
                      [[f.path, f.problem, f.detail] for f in verdict.findings])
    if not verdict.ok:
        raise typer.Exit(1)
