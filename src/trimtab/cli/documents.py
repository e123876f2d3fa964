"""`trimtab docs`: compliance documents written from the store's evidence."""

from __future__ import annotations

from pathlib import Path

import typer

from trimtab.cli.output import (
    Col,
    check_out_folder,
    console,
    handles_errors,
    parse_since,
    print_json,
    print_listing,
    workspace,
    writing,
)


@handles_errors
def docs(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    output_format: str = typer.Option("md", "--format", "-f", help="md, html or pdf."),
    kind: list[str] = typer.Option(
        None, "--kind", "-k",
        help="Only these documents (repeatable; default: all). See the list below."),
    out: Path = typer.Option(
        None, "--out", "-o", help="Folder to write into (default: docs/compliance/)."),
    as_of: str = typer.Option(
        None, "--as-of",
        help="Evidence cut-off: ISO time or a span back such as 7d (default: now). The same "
             "store and --as-of give the same bytes."),
    json_output: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Write the compliance documents for SYSTEM from evidence, never invented.

    technical-documentation (EU AI Act Annex IV), model-card, instructions-for-use
    (Art. 13), post-market-monitoring (Art. 72), transparency-record (Art. 50),
    nist-ai-rmf, iso-42001 and obligations-calendar. What the store and
    trimtab.yaml do not hold is marked "Missing:" with what would fill it. Each
    file's sha256 and generation time are recorded (check G4 of `trimtab assess`).
    HTML is one self-contained page; PDF needs pip install 'trimtab[pdf]'.

    Example:

        trimtab docs complaint-router --format html --out audit-pack/
    """
    moment = parse_since(as_of, "--as-of") if as_of else None
    check_out_folder(out, "--out")
    with writing(out, "--out"):
        written = workspace().documents(system, kinds=kind or None, fmt=output_format,
                                        out=out, as_of=moment)
    if json_output:
        print_json([{"kind": g.kind, "path": str(g.path), "sha256": g.record.sha256,
                     "missing": g.record.missing, "as_of": g.record.as_of.isoformat()}
                    for g in written])
        return
    print_listing(
        "documents written",
        [Col("document"), Col("missing", right=True), Col("sha256"), Col("file", drop=1)],
        [[g.kind, str(g.record.missing), g.record.sha256[:12], g.path.name] for g in written],
    )
    folder = written[0].path.parent if written else out
    console.print(f"written to {folder}", markup=False, soft_wrap=True)
