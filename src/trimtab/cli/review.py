"""`trimtab review`: a weekly sample of real calls, judged by people."""

from __future__ import annotations

import json

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from trimtab.cli.output import Col, console, handles_errors, print_json, print_listing, workspace

app = typer.Typer(help="Human review of a weekly sample of calls.", no_args_is_help=True)


@app.command("sample")
@handles_errors
def sample(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    week: str = typer.Option(None, "--week", help="ISO week, e.g. 2026-W49 (default: this one)."),
    size: int = typer.Option(None, "--size", "-n", min=1,
                             help="Calls to draw (default: the system's review.per_week, 20)."),
    seed: int = typer.Option(None, "--seed", help="Seed of the draw (default: from the week)."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Draw this week's review sample: calls of the production environment,
    stratified by release and model, with a recorded seed; drawn once a week.

    A week with no call (and none flagged) stores no sample: draw it once calls
    are recorded.

    Example:

        trimtab review sample complaint-router --size 20
    """
    drawn, new = workspace().review_sample(system, week=week, size=size, seed=seed)
    if json_output:
        print_json({**drawn.to_dict(), "new": new})
        return
    console.print(f"{system} {drawn.env} {drawn.week}: {'drew' if new else 'already drawn:'} "
                  f"{drawn.size} of {drawn.population} calls (seed {drawn.seed}, sample "
                  f"{drawn.id[:12]})", highlight=False)
    strata = json.loads(drawn.strata)
    print_listing(
        f"sample {drawn.id[:12]} by release and model",
        [Col("release"), Col("model"), Col("calls", right=True), Col("drawn", right=True)],
        [["flagged" if s.get("flagged") else escape(s.get("release", "-")),
          escape(s.get("model", "-")), f"{s['calls']:,}", f"{s['drawn']:,}"] for s in strata],
    )
    console.print(f"next: trimtab review next {system}")


@app.command("next")
@handles_errors
def next_(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    verdict: str = typer.Option(None, "--verdict", help="pass or fail (else asked)."),
    score: int = typer.Option(None, "--score", min=1, max=5, help="1-5 (optional)."),
    label: list[str] = typer.Option(None, "--label", "-l", help="A label; repeat for more."),
    comment: str = typer.Option(None, "--comment", "-m", help="Why, in words."),
) -> None:
    """Show the next sampled call you have not reviewed (input, answer, release) and
    record your verdict: pass/fail, a 1-5 score, labels, a comment.

    Without --verdict, asks in the terminal: p pass, f fail, s skip, q quit.

    Example:

        trimtab review next complaint-router
    """
    from trimtab.quality.review import check_fields

    check_fields([x.strip() for x in label or []], comment)
    ws = workspace()
    while True:
        pending = ws.review_next(system)
        if pending is None:
            console.print(f"nothing left to review in the newest sample of {system}.")
            return
        _show(pending)
        given = verdict
        if given is None:
            key = typer.prompt("verdict [p]ass [f]ail [s]kip [q]uit").strip().lower()[:1]
            if key == "q":
                return
            if key not in ("p", "f"):
                continue
            given = "pass" if key == "p" else "fail"
            asked = typer.prompt("score 1-5 (enter: none)", default="", show_default=False)
            score_now = int(asked) if asked.strip().isdigit() else None
            labels = [x for x in typer.prompt("labels, comma-separated (enter: none)",
                                              default="", show_default=False).split(",")
                      if x.strip()]
            note = typer.prompt("comment (enter: none)", default="", show_default=False) or None
        else:
            score_now, labels, note = score, list(label or []), comment
        saved = ws.review(pending.call.id, given, score=score_now,
                          labels=[x.strip() for x in labels], comment=note)
        console.print(f"{saved.verdict}: call {saved.call_id} by {saved.reviewer}",
                      highlight=False)
        if verdict is not None:  # one call per invocation when scripted
            return


def _show(pending) -> None:
    call = pending.call
    request = json.loads(call.request) if call.request else None
    shown = "(not stored: logging mode " + call.logging_mode + ")"
    if request:
        shown = "\n".join(f"{m.get('role')}: {m.get('content')}"
                          for m in request.get("messages", []) if m.get("role") != "system")
    answer = call.response if call.response is not None else "(not stored)"
    body = Text(shown + "\n\n")
    flag = getattr(pending, "flag", None)
    if flag is not None:
        body = Text(f"flagged by {flag.actor} ({flag.source})"
                    + (f": {flag.reason}" if flag.reason else "") + "\n\n", style="bold") + body
    body.append("answer\n", style="bold")
    body.append(answer)
    # the call's identity on its own line: a panel's title is cut to `…` at 80 columns
    console.print(f"call {call.id} · release {(call.release_id or '-')[:12]} · {call.model} · "
                  f"{pending.left} left", markup=False, highlight=False)
    console.print(Panel(body))


@app.command("stats")
@handles_errors
def stats(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The reviewed share that passed, with its Wilson 95% interval, and Cohen's kappa
    between every two reviewers who judged the same calls.

    Example:

        trimtab review stats complaint-router
    """
    result = workspace().review_stats(system)
    if json_output:
        print_json({"system": system, "reviews": result.reviews, "calls": result.calls,
                    "passed": result.passed, "pass_rate": result.pass_rate,
                    "interval": list(result.interval),
                    "agreement": [{"reviewers": [a, b], "calls": n, "kappa": k}
                                  for a, b, n, k in result.agreement],
                    "judges": [j.to_dict() for j in result.judges]})
        return
    if not result.calls:
        console.print(f"no reviews of {system} yet: trimtab review next {system}")
        return
    low, high = result.interval
    console.print(f"{system}: {result.passed}/{result.calls} reviewed calls passed "
                  f"({result.pass_rate:.0%}, 95% CI {low:.0%}-{high:.0%}; Wilson) from "
                  f"{result.reviews} reviews", highlight=False)
    for a, b, n, kappa in result.agreement:
        shown = "n/a" if kappa is None else f"{kappa:.2f}"
        console.print(f"  agreement {a} / {b}: Cohen's kappa {shown} over {n} calls",
                      highlight=False)
    for judge in result.judges:
        low, high = judge.interval
        kappa = "n/a" if judge.kappa is None else f"{judge.kappa:.2f}"
        console.print(f"  scorer {judge.scorer} vs people: agreed on {judge.agreed}/"
                      f"{judge.calls} calls ({judge.rate:.0%}, 95% CI {low:.0%}-{high:.0%}; "
                      f"Cohen's kappa {kappa})", highlight=False)
    if not result.judges:
        console.print("  no sampled scorer (an LLM judge) scored the reviewed calls yet: "
                      "add `scoring:` to compare it with people", style="dim", highlight=False)


@app.command("flag")
@handles_errors
def flag(
    call_id: str = typer.Argument(..., metavar="CALL", help="Call id or unique prefix."),
    reason: str = typer.Option(None, "--reason", "-m", help="Why it needs a look."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Flag a call for human review: it always joins the review sample of its week
    (now, when that sample is already drawn). Audited; flagging again changes nothing.

    Example:

        trimtab review flag 0006a1b2c3d4 --reason "customer says the routing is wrong"
    """
    made, new = workspace().flag(call_id, reason)
    if json_output:
        print_json({**made.to_dict(), "new": new})
        return
    said = "flagged" if new else "already flagged"
    console.print(f"{said}: call {made.call_id} of {made.system} ({made.source}); it joins the "
                  f"review sample of its week: trimtab review next {made.system}",
                  highlight=False)


@app.command("flags")
@handles_errors
def flags(
    system: str = typer.Argument(..., metavar="SYSTEM", help="System name."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000, help="At most this many."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Calls flagged for review (by people or by alerts), newest first.

    Example:

        trimtab review flags complaint-router
    """
    found = workspace().flags(system, limit=limit)
    if json_output:
        print_json([f.to_dict() for f in found])
        return
    if not found:
        console.print(f"no flagged calls of {system}.")
        return
    print_listing(f"flagged calls of {system}",
                  [Col("call"), Col("source"), Col("by", drop=2), Col("flagged (UTC)", drop=1),
                   Col("reason", wrap=True)],
                  [[f.call_id, escape(f.source), escape(f.actor),
                    f.time.strftime("%Y-%m-%d %H:%M"), escape(f.reason or "")] for f in found])
