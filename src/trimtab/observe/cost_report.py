"""The monthly cost review: where the money went, and how that changed.

Spend by system (use case), model, user (the top 20 and "all others"),
gateway key (by name), team and every other tag the calls carried (keys carry
their tags, e.g. ``team``, onto every call they make), each against the
previous month, the top spenders, and cost per successful task (spend / calls
that did not fail: what one useful answer costs), shown with significant
digits ($0.000042, never $0.0000). Written as Markdown for people, CSV for
spreadsheets and a PNG chart. Read from rollups through ``metrics.compute``,
never from the raw call log, so a month of ten million calls costs a few
hundred rollup rows.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimtab.errors import TrimtabError
from trimtab.escaping import csv_cell, markdown_code, markdown_text
from trimtab.observe.budgets import BudgetLine
from trimtab.observe.budgets import spend_all as budget_spend
from trimtab.observe.metrics import MetricRow, compute
from trimtab.store import Store
from trimtab.store import keys as key_store
from trimtab.store import rollups as rollup_store

if TYPE_CHECKING:
    from trimtab.project.budgets import BudgetSpec

SECTIONS = ("system", "model", "user")
NO_USER = "(no user)"
NO_KEY = "(no key)"
ALL_OTHERS = "(all others)"
TOP = 5  # named in the summary
TOP_USERS = 20  # lines of their own in the user table; the rest are "(all others)"
MAX_TAG_KEYS = 10  # tag tables besides team, in name order
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_CENT = Decimal("0.000001")


@dataclass(frozen=True)
class Line:
    """One group's spend this month and the month before."""

    section: str  # total | system | model | user | key | team | tag:KEY
    name: str
    cost_usd: Decimal
    previous_cost_usd: Decimal
    calls: int
    successful_calls: int
    cost_unknown_calls: int

    @property
    def change_usd(self) -> Decimal:
        return self.cost_usd - self.previous_cost_usd

    @property
    def change_pct(self) -> float | None:
        """None when there was no spend to compare with (a new system, model or user)."""
        if not self.previous_cost_usd:
            return None
        return float(self.change_usd / self.previous_cost_usd * 100)

    @property
    def cost_per_successful_call_usd(self) -> Decimal | None:
        if not self.successful_calls:
            return None
        return (self.cost_usd / self.successful_calls).quantize(_CENT)

    def to_dict(self) -> dict[str, Any]:
        per = self.cost_per_successful_call_usd
        pct = self.change_pct
        return {
            "section": self.section, "name": self.name, "cost_usd": str(self.cost_usd),
            "previous_cost_usd": str(self.previous_cost_usd), "change_usd": str(self.change_usd),
            "change_pct": None if pct is None else round(pct, 1), "calls": self.calls,
            "successful_calls": self.successful_calls,
            "cost_per_successful_call_usd": None if per is None else str(per),
            "cost_unknown_calls": self.cost_unknown_calls,
        }


@dataclass(frozen=True)
class CostReport:
    month: str
    previous_month: str
    lines: list[Line]
    budgets: tuple[BudgetLine, ...] = ()

    @property
    def total(self) -> Line:
        return next(line for line in self.lines if line.section == "total")

    def section(self, name: str) -> list[Line]:
        return [line for line in self.lines if line.section == name]

    @property
    def sections(self) -> list[str]:
        """The sections in report order: system, model, user, key, team, then tag:KEY."""
        return [s for s in dict.fromkeys(line.section for line in self.lines) if s != "total"]

    @property
    def top_spenders(self) -> list[Line]:
        """The users who spent most this month (calls without a user left out)."""
        users = [u for u in self.section("user") if u.cost_usd > 0 and u.name != NO_USER
                 and not u.name.startswith(ALL_OTHERS[:-1])]
        return users[:TOP]

    def to_dict(self) -> dict[str, Any]:
        return {"month": self.month, "previous_month": self.previous_month,
                "lines": [line.to_dict() for line in self.lines],
                "top_spenders": [u.name for u in self.top_spenders],
                "budgets": [b.to_dict() for b in self.budgets]}


# --- building -------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in UTC."""
    match = _MONTH.match(month.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise TrimtabError(f"--month {month!r}: not a month. Fix: use YYYY-MM, e.g. 2026-10.")
    year, number = int(match.group(1)), int(match.group(2))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def previous(month: str) -> str:
    start, _ = month_bounds(month)
    return f"{start.year - (start.month == 1)}-{(start.month - 2) % 12 + 1:02d}"


def last_full_month(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return previous(f"{now.year}-{now.month:02d}")


def months_with_calls(store: Store) -> list[str]:
    with store.read() as conn:
        return rollup_store.months_with_calls(conn)


def default_month(store: Store, now: datetime | None = None) -> str:
    """The last full month when it has calls, else the latest month that has any
    (this month, so far, for a trial that started this month)."""
    months = months_with_calls(store)
    if not months:
        raise TrimtabError("no calls recorded yet, so there is no spend to review. Fix: "
                           "record calls first (`trimtab demo` makes some).")
    last = last_full_month(now)
    return last if last in months else months[-1]


@dataclass(frozen=True)
class _Sums:
    calls: int
    errors: int
    cost_usd: Decimal
    cost_unknown_calls: int

    @classmethod
    def of(cls, row: MetricRow) -> _Sums:
        return cls(row.calls, row.errors, row.cost_usd, row.cost_unknown_calls)

    def plus(self, other: _Sums) -> _Sums:
        return _Sums(self.calls + other.calls, self.errors + other.errors,
                     self.cost_usd + other.cost_usd,
                     self.cost_unknown_calls + other.cost_unknown_calls)

    def minus(self, others: list[_Sums]) -> _Sums:
        return _Sums(self.calls - sum(o.calls for o in others),
                     self.errors - sum(o.errors for o in others),
                     self.cost_usd - sum((o.cost_usd for o in others), Decimal(0)),
                     self.cost_unknown_calls - sum(o.cost_unknown_calls for o in others))


def tag_key(section: str) -> str | None:
    """The tag a section breaks spend down by: ``team`` for "team", KEY for "tag:KEY"."""
    if section == "team":
        return "team"
    return section[len("tag:"):] if section.startswith("tag:") else None


def _untagged(section: str) -> str:
    if section == "key":
        return NO_KEY
    return NO_USER if section == "user" else f"(no {tag_key(section)})"


def _key_names(store: Store) -> dict[str, str]:
    """Key id -> name: a key's spend is shown, and budgeted, under its name."""
    with store.read() as conn:
        return {key.id: key.name for key in key_store.list_all(conn)}


def _month(store: Store, month: str, section: str) -> dict[str, _Sums]:
    """Sums per group of one month; users and tags get a '(no user)' / '(no team)'
    line for the calls that do not name one."""
    start, end = month_bounds(month)
    if section == "total":
        rows = compute(store, window=end - start, end=end)
        return {"total": _Sums.of(rows[0])} if rows else {}
    key = tag_key(section)
    by = "tag" if key else section
    rows = compute(store, window=end - start, end=end, by=(by,), tag=key)
    sums = {row.group[by] or "(none)": _Sums.of(row) for row in rows}
    if by == "key":  # every key of a name is one line, as a key budget counts them
        names = _key_names(store)
        named: dict[str, _Sums] = {}
        for key_id, one in sums.items():
            name = names.get(key_id, key_id)
            named[name] = named[name].plus(one) if name in named else one
        sums = named
    if by in ("user", "tag", "key"):  # rollups attribute only the calls that name a user or tag
        total = _month(store, month, "total")
        if total:
            rest = total["total"].minus(list(sums.values()))
            if rest.calls:
                sums[_untagged(section)] = rest
    return sums


def _tag_sections(store: Store, month: str, before: str) -> list[str]:
    """``team`` first when calls carried it, then ``tag:KEY`` for every other tag key
    seen in either month."""
    start, _ = month_bounds(before)
    _, end = month_bounds(month)
    with store.read() as conn:
        keys = rollup_store.tag_keys(conn, start, end)
    others = [key for key in keys if key != "team"][:MAX_TAG_KEYS]
    return [*(["team"] if "team" in keys else []), *(f"tag:{key}" for key in others)]


def _key_section(store: Store, month: str, before: str) -> list[str]:
    """``key`` when calls in either month were made with a gateway key."""
    start, _ = month_bounds(before)
    _, end = month_bounds(month)
    with store.read() as conn:
        return ["key"] if rollup_store.has_dimension(conn, "key", start, end) else []


def _fold(section: str, lines: list[Line]) -> list[Line]:
    """The top TOP_USERS users (or values of a tag) by this month's spend keep their
    lines; the others (this month or the last) become one "(all others)" line; "(no
    user)" / "(no team)" stays apart. A tag with a value per call (a request id) so
    stays a table of 22 lines."""
    untagged = _untagged(section)
    named = [line for line in lines if line.name != untagged]
    rest = named[TOP_USERS:]
    if len(rest) < 2:
        return lines
    what = {"user": "users", "key": "keys"}.get(section, "values")
    others = Line(
        section=section, name=f"{ALL_OTHERS[:-1]}: {len(rest):,} {what})",
        cost_usd=sum((line.cost_usd for line in rest), Decimal(0)),
        previous_cost_usd=sum((line.previous_cost_usd for line in rest), Decimal(0)),
        calls=sum(line.calls for line in rest),
        successful_calls=sum(line.successful_calls for line in rest),
        cost_unknown_calls=sum(line.cost_unknown_calls for line in rest),
    )
    return [*named[:TOP_USERS], others, *(line for line in lines if line.name == untagged)]


def build(store: Store, month: str,
          budgets: dict[str, BudgetSpec] | None = None) -> CostReport:
    """The month's review; ``budgets`` (trimtab.yaml's) are shown with the month's spend."""
    before = previous(month)
    lines: list[Line] = []
    for section in ("total", *SECTIONS, *_key_section(store, month, before),
                    *_tag_sections(store, month, before)):
        now, then = _month(store, month, section), _month(store, before, section)
        if section == "total" and not now:
            start, end = month_bounds(month)
            raise TrimtabError(
                f"no calls recorded in {month} ({start:%Y-%m-%d} to {end:%Y-%m-%d} UTC), so "
                "there is no spend to review. Fix: pick a month with calls: "
                f"{', '.join(months_with_calls(store)) or 'none has any yet'}."
            )
        found = [_line(section, name, now.get(name), then.get(name))
                 for name in dict.fromkeys([*now, *then])]
        found.sort(key=lambda line: (-line.cost_usd, -line.calls, line.name))
        lines.extend(found if section in ("system", "model") else _fold(section, found))
    start, end = month_bounds(month)
    spent = tuple(budget_spend(store, budgets or {}, start=start, end=end))
    return CostReport(month, before, lines, spent)


def _line(section: str, name: str, now: _Sums | None, then: _Sums | None) -> Line:
    return Line(
        section=section, name=name,
        cost_usd=now.cost_usd if now else Decimal(0),
        previous_cost_usd=then.cost_usd if then else Decimal(0),
        calls=now.calls if now else 0,
        successful_calls=now.calls - now.errors if now else 0,
        cost_unknown_calls=now.cost_unknown_calls if now else 0,
    )


# --- writing ----------------------------------------------------------------------------

CSV_FIELDS = ("section", "name", "cost_usd", "previous_cost_usd", "change_usd", "change_pct",
              "calls", "successful_calls", "cost_per_successful_call_usd", "cost_unknown_calls")
_TITLES = {"system": "Spend by system", "model": "Spend by model",
           "user": f"Spend by user (top {TOP_USERS} and all others)",
           "key": "Spend by gateway key"}


def write(report: CostReport, out_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """Write cost-YYYY-MM.md, .csv and .png into ``out_dir``; returns paths and notes."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrimtabError(f"--out {out_dir}: cannot create it ({exc.strerror}). "
                           "Fix: choose a folder you can write to.") from None
    stem = f"cost-{report.month}"
    paths = {"csv": out_dir / f"{stem}.csv", "markdown": out_dir / f"{stem}.md"}
    notes: list[str] = []
    chart = out_dir / f"{stem}.png"
    if write_chart(report, chart):
        paths["chart"] = chart
    else:
        notes.append("no chart: matplotlib is not installed. Fix: pip install 'trimtab[report]'")
    with paths["csv"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for line in report.lines:
            writer.writerow({k: csv_cell(v) for k, v in line.to_dict().items()})
    paths["markdown"].write_text(markdown(report, chart.name if "chart" in paths else None),
                                 encoding="utf-8")
    return paths, notes


def usd(value: Decimal | None) -> str:
    """Dollars with the digits that matter: `$1,234.50`, `$0.42`, `$0.000042`, never
    `$0.0000` (two significant digits below a dollar, and at least cents)."""
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    amount = abs(Decimal(value))
    if amount == 0:
        return "$0"
    if amount >= 1:
        return f"{sign}${amount:,.2f}"
    quantum = Decimal(1).scaleb(min(amount.adjusted() - 1, -2))
    whole, _, cents = f"{amount.quantize(quantum).normalize():f}".partition(".")
    return f"{sign}${whole}.{cents.ljust(2, '0')}"


def _title(section: str) -> str:
    key = tag_key(section)
    if section in _TITLES:
        return _TITLES[section]
    return "Spend by team" if section == "team" else f"Spend by tag {markdown_code(key)}"


def _change(line: Line) -> str:
    pct = line.change_pct
    delta = ("+" if line.change_usd > 0 else "") + usd(line.change_usd)
    return f"{delta} (new)" if pct is None and line.cost_usd else \
        delta if pct is None else f"{delta} ({pct:+.1f}%)"


def _month_name(month: str) -> str:
    start, _ = month_bounds(month)
    return f"{start:%B %Y}"


def markdown(report: CostReport, chart: str | None) -> str:
    total = report.total
    out = [f"# Cost review: {_month_name(report.month)}", ""]
    out.append(
        f"Total spend **{usd(total.cost_usd)}** over {total.calls:,} calls "
        f"({total.successful_calls:,} successful); previous month "
        f"({_month_name(report.previous_month)}) {usd(total.previous_cost_usd)}, "
        f"change {_change(total)}."
    )
    out.append("")
    out.append(f"Cost per successful task: **{usd(total.cost_per_successful_call_usd)}** "
               "(spend / calls that did not fail).")
    if total.cost_unknown_calls:
        out += ["", f"Calls without a price (unknown model or no token counts): "
                f"{total.cost_unknown_calls:,}; they are not in these sums."]
    if chart:
        out += ["", f"![Spend by system, this month and the previous one]({chart})"]
    if report.budgets:
        out += ["", "## Budgets", "", "| budget | covers | monthly budget | spent | used | left |",
                "|---|---|---:|---:|---:|---:|"]
        for budget in report.budgets:
            over = " **over budget**" if budget.used >= 1 else ""
            out.append(f"| {markdown_text(budget.name)} | {markdown_text(budget.scope)} | "
                       f"{usd(budget.monthly_usd)} | "
                       f"{usd(budget.spent_usd)} | {budget.used:.1%}{over} | "
                       f"{usd(budget.left_usd)} |")
    top = report.top_spenders
    if top:
        out += ["", "## Top spenders", ""]
        for rank, line in enumerate(top, start=1):
            share = line.cost_usd / total.cost_usd * 100 if total.cost_usd else Decimal(0)
            out.append(f"{rank}. {markdown_text(line.name)}: {usd(line.cost_usd)} "
                       f"({share:.1f}% of spend, {line.calls:,} calls)")
    for section in report.sections:
        out += ["", f"## {_title(section)}", "",
                f"| {markdown_text(tag_key(section) or section)} | spend | previous month | "
                "change | calls | successful | cost per successful task |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for line in report.section(section):
            unknown = f" (+{line.cost_unknown_calls} unpriced)" if line.cost_unknown_calls else ""
            out.append(
                f"| {markdown_text(line.name)} | {usd(line.cost_usd)}{unknown} | "
                f"{usd(line.previous_cost_usd)} | {_change(line)} | {line.calls:,} | "
                f"{line.successful_calls:,} | {usd(line.cost_per_successful_call_usd)} |"
            )
    out += ["", "Made by `trimtab report cost` from rollups; amounts in USD.", ""]
    return "\n".join(out)


def write_chart(report: CostReport, path: Path) -> bool:
    """Spend by system (this month beside the previous one) and by model; False without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    systems = report.section("system")[:12]
    models = report.section("model")[:12]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.5 * max(len(systems), 4) + 2))
    try:
        rows = range(len(systems))
        left.barh([r + 0.2 for r in rows], [float(s.previous_cost_usd) for s in systems],
                  height=0.4, label=_month_name(report.previous_month), color="#b0b7c3")
        left.barh([r - 0.2 for r in rows], [float(s.cost_usd) for s in systems], height=0.4,
                  label=_month_name(report.month), color="#2f6db5")
        left.set_yticks(list(rows), [_plain(s.name) for s in systems])
        left.invert_yaxis()
        left.set_xlabel("USD")
        left.set_title("Spend by system")
        left.legend(loc="lower right")
        right.barh([_plain(m.name) for m in models], [float(m.cost_usd) for m in models],
                   color="#e08a2c")
        right.invert_yaxis()
        right.set_xlabel("USD")
        right.set_title(f"Spend by model, {_month_name(report.month)}")
        title = f"Cost review {report.month}: {usd(report.total.cost_usd)} " \
            f"({_change(report.total)})"
        fig.suptitle(_plain(title))
        fig.tight_layout()
        fig.savefig(path, dpi=110, format="png")
    finally:
        plt.close(fig)
    return True


def _plain(text: str) -> str:
    """Matplotlib reads text between two $ as maths; show a dollar sign instead."""
    return text.replace("$", r"\$")
