"""What the dashboard's pages show, gathered from Workspace methods, and how it is rendered.

The gathering here is presentation only (which numbers sit side by side on a
page); every number comes from the same Workspace method the CLI and the API
use.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from trimtab.store.deployments import STABLE
from trimtab.web.security import CSRF_COOKIE, csrf_token, set_cookie
from trimtab.web.work_views import cost_panels, due, quality_panels

if TYPE_CHECKING:
    from trimtab.workspace import Workspace

#: Chart windows offered on a system page.
WINDOWS = ("1h", "6h", "24h", "7d", "30d")
OPEN_STATES = ("firing", "pending")


# --- rendering ------------------------------------------------------------------------------


def templates() -> Environment:
    env = Environment(loader=PackageLoader("trimtab.web", "templates"),
                      autoescape=select_autoescape(default=True), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(usd=usd, micro_usd=micro_usd, ms=ms, ago=ago, short=short, pct=pct, utc=utc,
                       due=due)
    return env


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """A page, with the CSRF token its forms carry (and its cookie, when new)."""
    token = csrf_token(request)
    caller = getattr(request.state, "caller", None)
    html = request.app.state.templates.get_template(name).render(
        request=request, csrf=token, caller=caller, path=request.url.path, **context)
    response = HTMLResponse(html, status, headers=headers)
    if getattr(request.state, "new_csrf", None):
        set_cookie(response, request, CSRF_COOKIE, token, max_age=30 * 86400)
    return response


def usd(amount: Decimal | None, places: int = 4) -> str:
    """Dollars (a MetricRow's cost_usd); ``?`` when unknown."""
    return "?" if amount is None else f"${Decimal(amount):,.{places}f}"


def micro_usd(micro: int | None, places: int = 6) -> str:
    """Integer micro-dollars (a call's cost_micro_usd) as dollars."""
    return usd(None if micro is None else Decimal(micro) / 1_000_000, places)


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def short(value: str | None, n: int = 12) -> str:
    return (value or "")[:n]


def utc(moment: datetime | None) -> str:
    return "" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


# --- pages ----------------------------------------------------------------------------------


def environments(ws: Workspace) -> list[str]:
    """The project file's environments, lowest first (the store's, without one)."""
    if ws.project_file is not None:
        return ws.project.environments
    return sorted({d.env for d in ws.status()})


def portfolio(ws: Workspace) -> dict[str, Any]:
    """Every system: its active release per environment, the last 24 h, open alerts,
    and the freezes standing (a frozen system's releases cannot move)."""
    envs = environments(ws)
    active: dict[str, dict[str, Any]] = defaultdict(dict)
    for deployment in ws.status():
        active[deployment.system][deployment.env] = deployment
    for candidate in ws.candidates():
        active[candidate.system][f"{candidate.env}:candidate"] = candidate
    day = {row.group["system"]: row for row in ws.metrics(window=timedelta(hours=24),
                                                          by=("system",))}
    alerts: dict[str, list] = defaultdict(list)
    for state in ws.alert_states():
        if state.state in OPEN_STATES:
            alerts[state.system].append(state)
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month = {row.group["system"]: row for row in ws.system_spend(
        window=max(now - month_start, timedelta(minutes=1)), end=now)}
    declared = set(ws.project.spec.systems) if ws.project_file is not None else set()
    # One pass over every declared system: the audit chain is verified once, not per row.
    maturity = ({a.system: a for a in ws.assess_all(save=False, cached=True)}
                if declared else {})
    rows = [{"system": s, "active": active[s.name], "day": day.get(s.name),
             "month": month.get(s.name), "alerts": alerts[s.name],
             "maturity": maturity.get(s.name),
             "review": ws.review_progress(s.name, weeks=1) if s.name in declared else None}
            for s in ws.systems()]
    frozen: dict[str, list] = defaultdict(list)
    for standing in ws.freezes():
        frozen[standing.system].append(standing)
    return {"environments": envs, "rows": rows, "frozen": frozen}


def system_page(ws: Workspace, name: str, window: str, *, tag: str | None = None,
                reviewer: str | None = None) -> dict[str, Any]:
    from trimtab.project.alert_rules import parse_duration

    system = ws.get_system(name)
    envs = environments(ws)
    span = parse_duration(window)
    series = ws.metric_series(window=span, system=name)
    by_env = {row.group["env"]: row for row in ws.metrics(window=timedelta(hours=24),
                                                          system=name, by=("env",))}
    history = ws.history(name)  # oldest first
    deployed = {d.env: d for d in history if d.action in STABLE}  # the newest wins
    return {
        "system": system, "environments": envs, "window": window, "windows": WINDOWS,
        "freezes": ws.freezes(system=name),
        "active": ws.active_releases(name, envs),
        "candidates": [d for d in ws.candidates() if d.system == name],
        "releases": ws.releases(name)[:20],
        # When each environment got its active release (not when the release was made),
        # and the 20 newest deployments, newest first as the releases are.
        "deployed": deployed,
        "history": history[::-1][:20],
        "by_env": by_env,
        "chart": chart_data(series),
        "alerts": [s for s in ws.alert_states() if s.system == name],
        "events": ws.alert_events(system=name, limit=10),
        "drift": ws.drift_history(name, limit=10),
        "cost": cost_panels(ws, name, span, tag),
        "quality": quality_panels(ws, name, reviewer),
    }


def chart_data(series: Any) -> dict[str, Any]:
    """uPlot's columns: one x per step of the window (steps without calls hold
    zero calls and no latency), then each measure."""
    step = series.step
    points = {p.group["start"]: p for p in series.points}
    columns: dict[str, list] = {k: [] for k in ("x", "p50", "p95", "p99", "calls", "errors",
                                                "error_rate", "cost")}
    moment = series.start
    while moment < series.end:
        point = points.get(moment.isoformat())
        columns["x"].append(int(moment.timestamp()))
        columns["p50"].append(point.p50_ms if point else None)
        columns["p95"].append(point.p95_ms if point else None)
        columns["p99"].append(point.p99_ms if point else None)
        columns["calls"].append(point.calls if point else 0)
        columns["errors"].append(point.errors if point else 0)
        columns["error_rate"].append(round(point.error_rate * 100, 3) if point else None)
        columns["cost"].append(float(point.cost_usd) if point else 0)
        moment += step
    return {"step": int(step.total_seconds()), "total": sum(columns["calls"]), **columns}


def call_filters(ws: Workspace) -> dict[str, Any]:
    """What the call explorer's selects offer."""
    return {"systems": [s.name for s in ws.systems()], "environments": environments(ws)}
