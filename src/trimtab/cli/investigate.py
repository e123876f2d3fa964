"""Investigating an incident: `trimtab timeline` and `trimtab incident report`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from trimtab.cli.output import (
    Col,
    console,
    handles_errors,
    parse_since,
    parse_span,
    print_json,
    print_listing,
    workspace,
)
from trimtab.errors import TrimtabError

#: Characters of a call's input or output a table shows (--json has up to the
#: timeline's own bound).
SHOWN = 160


def _short(text: str | None) -> str:
    if not text:
        return "-"
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOWN else f"{flat[:SHOWN]} [cut; --json for more]"


@handles_errors
def timeline(
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system."),
    at: str = typer.Option(..., "--at", help="The moment (ISO time, UTC unless a zone is "
                           "given, or a span ago like 3h)."),
    window: str = typer.Option("6h", "--window", "-w", help="How much time around --at, "
                               "half before and half after (at most 31d)."),
    samples: int = typer.Option(5, "--samples", help="Calls nearest --at to show (0-20)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Reconstruct what ran, what changed and what it produced around a moment.

    Shows the release active in each environment at --at and what changed
    from the one before it there; the deployments, approval steps, alerts and
    other audited changes in the window; commits that touched trimtab.yaml
    (rules, gates, policies) when the project is in git; latency, errors,
    volume and cost before and after; and the calls nearest the moment with
    their outputs. Every list is bounded (50 rows, texts cut; --json says
    what was left out).

    Example:

        trimtab timeline complaint-router --at 2026-12-05T09:30 --window 6h
    """
    moment = parse_since(at, "--at")
    assert moment is not None
    found = workspace().timeline(system, at=moment, window=parse_span(window, "--window"),
                                 samples=samples)
    if json_output:
        print_json(found.to_dict())
        return
    console.print(f"{system} at {found.at:%Y-%m-%d %H:%M:%S} UTC; window "
                  f"{found.start:%Y-%m-%d %H:%M} to {found.end:%Y-%m-%d %H:%M} UTC", markup=False)
    _section("active releases at that moment (and what changed from the one before)")
    print_listing("active releases", [
        Col("env"), Col("release"), Col("since"), Col("by", drop=2), Col("previous"),
        Col("changed", wrap=True, drop=1), Col("beside", drop=3)],
        [[a.env, (a.release or "none")[:12], f"{a.since:%Y-%m-%d %H:%M}" if a.since else "-",
          a.by or "-", (a.previous or "-")[:12], escape(_changed(a.diff)),
          f"{a.candidate['mode']} {a.candidate['percent']}% {a.candidate['release'][:12]}"
          if a.candidate else "-"] for a in found.active])
    _rows("deployments in the window", found.deployments, [
        Col("time"), Col("env"), Col("action"), Col("release"), Col("by", drop=2),
        Col("reason", wrap=True, drop=1)],
        lambda d: [d["time"][:19], d["env"], d["action"] + (f" {d['percent']}%" if d["percent"]
                                                             else ""),
                   d["release"][:12], d["actor"], escape(d["reason"] or "-")],
        found.more.get("deployments", 0))
    _rows("approval steps in the window", found.approvals, _AUDIT_COLS, _audit_row,
          found.more.get("approvals", 0))
    _rows("alerts in the window", found.alerts, [
        Col("time"), Col("rule"), Col("state"), Col("severity", drop=2),
        Col("summary", wrap=True, drop=1)],
        lambda e: [e["time"][:19], e["rule"], e["state"], e["severity"],
                   escape(e["summary"] or "-")], found.more.get("alerts", 0))
    _rows("other recorded changes in the window", found.changes, _AUDIT_COLS, _audit_row,
          found.more.get("changes", 0))
    if found.rule_commits is not None:
        _rows("commits to the project file (rules, gates, policies) in the window",
              found.rule_commits, [Col("time"), Col("commit"), Col("author", drop=1),
                                   Col("subject", wrap=True)],
              lambda c: [c["time"][:19], c["commit"][:12], escape(c["author"]),
                         escape(c["subject"])], 0)
    _section(f"metrics, {found.metrics['span']} before and after")
    print_listing("metrics", [
        Col("when"), Col("calls", right=True), Col("errors", right=True),
        Col("p50 ms", right=True), Col("p95 ms", right=True), Col("cost $", right=True)],
        [_metric_row(label, found.metrics[key]) for label, key in
         (("before", "before"), ("after", "after"))])
    _rows("calls nearest the moment", found.samples, [
        Col("time"), Col("id", drop=3), Col("release", drop=2), Col("status"),
        Col("ms", right=True, drop=4), Col("input", wrap=True, drop=1),
        Col("output", wrap=True)],
        lambda c: [c["time"][:19], c["id"], (c["release"] or "-")[:12], c["status"],
                   f"{c['latency_ms']:.0f}", escape(_short(c["request"])),
                   escape(_short(c["response"] or c["error"]))], 0)


_AUDIT_COLS = [Col("time"), Col("action"), Col("by", drop=2), Col("object", drop=3),
               Col("details", wrap=True, drop=1)]


def _audit_row(e: dict) -> list[str]:
    cut = " [cut at 300 characters; trimtab audit log has it whole]" if e.get("payload_cut") else ""
    return [e["time"][:19], e["action"], escape(e["actor"]), e["object"],
            escape((e["payload"] or "") + cut)]


def _section(text: str) -> None:
    console.print(f"\n{text}:", markup=False)


def _rows(title: str, rows: list[dict], columns: list[Col], row, more: int) -> None:
    _section(title)
    if not rows:
        console.print("  none", markup=False)
        return
    print_listing(title, columns, [row(r) for r in rows])
    if more:
        console.print(f"  ... and {more} more (narrow the window)", markup=False)


def _changed(diff: dict | None) -> str:
    if not diff:
        return "-"
    parts = [c["path"] for c in diff["changes"]]
    if diff["more_changes"]:
        parts.append(f"+{diff['more_changes']} more")
    parts += [f"prompt {name}" for name in diff["prompts"]]
    return ", ".join(parts) or "-"


def _metric_row(label: str, row: dict | None) -> list[str]:
    if not row:
        return [label, "0", "-", "-", "-", "-"]
    return [label, f"{row['calls']:,}", f"{row['errors']} ({row['error_rate']:.1%})",
            "-" if row["p50_ms"] is None else f"{row['p50_ms']:,.0f}",
            "-" if row["p95_ms"] is None else f"{row['p95_ms']:,.0f}", row["cost_usd"]]


@handles_errors
def report(
    incident: str = typer.Argument(..., metavar="ID", help="The incident id (or a prefix)."),
    fmt: str = typer.Option(..., "--format", "-f", help="nis2-early-warning, "
                            "nis2-notification, nis2-final or ai-act-serious-incident."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
    out: Path = typer.Option(None, "--out", "-o", help="Write it to this file (Markdown, or "
                             "JSON with --json) instead of printing it."),
) -> None:
    """Draft a regulatory report for an incident, filled from evidence, gaps marked.

    Each field names its source (the incident and its notes, trimtab.yaml,
    deployments, the call log, freezes and holds). What trimtab cannot know
    (your legal entity, a judgement of malice, the Member States concerned)
    is marked MISSING with what to add, never guessed. A draft for a person
    to complete and send: trimtab sends nothing.

    Example:

        trimtab incident report 7c2e91aa --format nis2-early-warning
        trimtab incident report 7c2e91aa -f ai-act-serious-incident --out report.md
    """
    import json

    drafted = workspace().incident_report(incident, fmt)
    text = json.dumps(drafted.to_dict(), indent=2, ensure_ascii=False) + "\n" if json_output \
        else drafted.markdown()
    if out is None:
        if json_output:
            print_json(drafted.to_dict())
        else:
            console.print(text, markup=False, highlight=False, soft_wrap=True, end="")
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TrimtabError(f"--out {out}: cannot write it ({exc.strerror}).") from None
    console.print(f"wrote {out} ({len(drafted.gaps)} gaps to fill)", markup=False)
