"""An eval report for CI: JUnit XML (one test case per eval case and per suite-level
check) and Markdown (a pull-request comment).

Both carry text from outside: a failure names what the model answered, an LLM
judge's reason, a scorer's detail. It goes through trimtab.escaping, so it stays
text: valid XML whatever characters it holds, and in the comment no row, HTML,
image or mention of its own."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from trimtab.escaping import markdown_code, markdown_text, xml_tree_text
from trimtab.quality.evaluation import EvalReport
from trimtab.quality.metrics import num
from trimtab.quality.runner import SuiteRun

#: Failing cases listed in the Markdown comment per suite; the rest are counted.
MARKDOWN_CASES = 20


def junit(reports: EvalReport | list[EvalReport]) -> str:
    """One <testsuite> per suite run, of one report or several (--changed-since)."""
    many = reports if isinstance(reports, list) else [reports]
    suites = ET.Element("testsuites",
                        name=f"trimtab eval {', '.join(r.system for r in many) or '(none)'}")
    for report in many:
        _junit_report(suites, report)
    xml_tree_text(suites)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _junit_report(suites: ET.Element, report: EvalReport) -> None:
    for run in report.runs:
        checks = _checks(run)
        failures = sum(not o.passed for o in run.outcomes) + sum(not ok for _, ok, _ in checks)
        seconds = (run.finished_at - run.started_at).total_seconds()
        suite = ET.SubElement(
            suites, "testsuite", name=f"{report.system}/{run.prepared.name}",
            tests=str(len(run.outcomes) + len(checks)), failures=str(failures), errors="0",
            time=f"{seconds:.3f}")
        props = ET.SubElement(suite, "properties")
        for name, value in (("release", run.release_id), ("dataset", run.prepared.dataset.path),
                            ("dataset_sha256", run.prepared.dataset.sha256),
                            ("run", run.stored.id if run.stored else "")):
            ET.SubElement(props, "property", name=name, value=value)
        classname = f"{report.system}.{run.prepared.name}"
        for name, ok, message in checks:
            case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
            if not ok:
                ET.SubElement(case, "failure", message=message).text = message
        for outcome in run.outcomes:
            case = ET.SubElement(suite, "testcase", classname=classname,
                                 name=f"case {outcome.case.id}",
                                 time=f"{outcome.answer.latency_ms / 1000:.3f}")
            if not outcome.passed:
                message = "; ".join(outcome.failures())
                ET.SubElement(case, "failure", message=message).text = message


def _checks(run: SuiteRun) -> list[tuple[str, bool, str]]:
    """The suite-level checks the gate applies: thresholds, fairness, regressions."""
    out = [(f"threshold {s.name} {s.summary.metric} >= {s.threshold:g}", s.passed,
            f"{s.summary.metric} {num(s.summary.value)} < {s.threshold:g}") for s in run.scorers]
    out += [(f"fairness {f.tag} {f.scorer} gap <= {f.max_gap:g}", f.passed,
             f"gap {num(f.gap)} between {f.best} and {f.worst}") for f in run.fairness]
    if run.comparison is not None:
        regression = [r for r in run.reasons if "regressed" in r]
        out.append(("no regression against the baseline", not regression,
                    regression[0] if regression else ""))
    return out


def markdown(reports: EvalReport | list[EvalReport], *, note: str = "") -> str:
    """The PR comment: one section per report (``note`` first, e.g. what was skipped:
    Markdown, its names already escaped)."""
    many = reports if isinstance(reports, list) else [reports]
    parts = [note] if note else []
    parts += [_markdown_report(r) for r in many]
    return "\n".join(parts)


def _markdown_report(report: EvalReport) -> str:
    verdict = "passed" if report.passed else "failed"
    lines = [f"### trimtab eval {markdown_code(report.system)}: {verdict}", "",
             f"Release `{report.release.short_id}`"
             + (f", compared with `{report.baseline.short_id}`" if report.baseline else "") + ".",
             ""]
    for run in report.runs:
        dataset = run.prepared.dataset
        passed = len(run.outcomes) - len(run.failing_cases)
        lines += [f"#### {'✅' if run.passed else '❌'} {markdown_text(run.prepared.name)}", "",
                  f"{passed}/{len(run.outcomes)} cases passed · dataset "
                  f"{markdown_code(dataset.path)} "
                  f"(sha256 `{dataset.short_sha}`)"
                  + (f" · run `{run.stored.short_id}`" if run.stored else ""), "",
                  "| scorer | metric | value | threshold | |", "|---|---|---|---|---|"]
        for s in run.scorers:
            lines.append(f"| {markdown_text(s.name)} | {s.summary.metric} | "
                         f"{num(s.summary.value)} | {s.threshold:g} | "
                         f"{'pass' if s.passed else '**fail**'} |")
        for f in run.fairness:
            groups = markdown_text(", ".join(f"{g} {num(v)}" for g, v in f.groups.items()))
            named = markdown_text(f"{f.tag}: {f.scorer}")
            lines.append(f"| fairness by {named} | gap ({groups}) | {num(f.gap)} | "
                         f"≤ {f.max_gap:g} | {'pass' if f.passed else '**fail**'} |")
        comparison = run.comparison
        if comparison is not None:
            lines += ["", f"Against run `{comparison.baseline_run_id[:12]}`: "
                      f"{len(comparison.improved)} improved, {len(comparison.regressed)} "
                      f"regressed; {comparison.test} p = {comparison.p_value:.3g} "
                      f"({'significant' if comparison.significant else 'not significant'})."]
            if comparison.regressed:
                lines.append("Regressed: " + ", ".join(markdown_code(c)
                                                       for c in comparison.regressed))
            if comparison.improved:
                lines.append("Improved: " + ", ".join(markdown_code(c)
                                                      for c in comparison.improved))
        failing = run.failing_cases
        if failing:
            lines += ["", "<details><summary>Failing cases</summary>", "",
                      "| case | why |", "|---|---|"]
            for outcome in failing[:MARKDOWN_CASES]:
                why = markdown_text("; ".join(outcome.failures()))
                lines.append(f"| {markdown_code(outcome.case.id, table=True)} | {why} |")
            if len(failing) > MARKDOWN_CASES:
                lines.append(f"| … | {len(failing) - MARKDOWN_CASES} more |")
            lines += ["", "</details>"]
        if run.reasons:
            lines += ["", "Gate: " + markdown_text("; ".join(run.reasons), limit=2000)]
        lines.append("")
    return "\n".join(lines)
