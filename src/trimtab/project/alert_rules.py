"""Alert rules and notification channels, as declared in trimtab.yaml.

``channels:`` names where notifications go; ``alerts:`` names the rules. The
models here only say what types a rule has; ``check`` says what types cannot
(names that must exist, windows that must parse) and reports each problem at
its file:line:column through the project file's own problem list, so
``trimtab validate`` shows alert mistakes beside every other mistake.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from trimtab.project.models import ProjectFile

METRICS = (
    "latency_p95", "latency_p99", "error_rate", "cost_per_call", "spend_per_day", "drift",
    "quality_score", "call_volume", "accuracy", "macro_f1", "precision", "recall", "f1", "mae",
    "rmse", "records_dropped", "budget_used",
)
#: Metrics read from true labels (``trimtab label``); the window holds labels that arrived in it.
LABEL_METRICS = ("accuracy", "macro_f1", "precision", "recall", "f1", "mae", "rmse")
#: Label metrics of one class, named with ``class:``.
CLASS_METRICS = ("precision", "recall", "f1")
COMPARATORS = (">", ">=", "<", "<=")
SEVERITIES = ("info", "warning", "critical")
#: Metrics that are a share of something, so a threshold above 1 is a mistake.
FRACTIONS = {"error_rate": "0.05 for 5%", "drift": "0.5 for half the columns",
             "accuracy": "0.85 for 85%", "macro_f1": "0.8", "precision": "0.9",
             "recall": "0.9", "f1": "0.8"}

Metric = Literal[
    "latency_p95", "latency_p99", "error_rate", "cost_per_call", "spend_per_day", "drift",
    "quality_score", "call_volume", "accuracy", "macro_f1", "precision", "recall", "f1", "mae",
    "rmse", "records_dropped", "budget_used",
]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
#: The longest span a project field may give: "now minus the span" stays a date.
MAX_DURATION = timedelta(days=3660)
MAX_DURATION_TEXT = "10 years (3660d)"
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SECRET_HEADERS = {"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class ChannelSpec(_Strict):
    """Where notifications go. Secrets (tokens in URLs, auth headers) come from
    environment variables named here, never from the file itself."""

    kind: str = Field(description="webhook, apprise, or a kind an installed package "
                      "registers (entry-point group trimtab.channels)")
    url: str | None = Field(None, description="webhook: http(s) URL; apprise: e.g. slack://...")
    url_env: str | None = Field(None, description="name of the env var holding the URL")
    headers: dict[str, str] = Field(default_factory=dict, description="webhook only")
    headers_env: dict[str, str] = Field(
        default_factory=dict, description="webhook only: header -> env var holding its value")
    timeout: float = Field(10.0, gt=0, description="seconds per attempt")
    retries: int = Field(3, ge=0, le=10, description="extra attempts on 5xx, 429 or no answer")
    backoff: float = Field(1.0, ge=0, description="first pause in seconds; doubles")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="settings for a plugin kind, read by its plugin")


class RunSpec(_Strict):
    """A command run on an alert event (e.g. trigger a retraining pipeline).

    A string is split like a shell would split it but is not run by a shell;
    write ``[sh, -c, "..."]`` for pipes. It runs in the project directory with
    the event as JSON on stdin.
    """

    command: str | list[str]
    timeout: float = Field(60.0, gt=0)
    events: list[Literal["firing", "resolved"]] = Field(default_factory=lambda: ["firing"])


class AlertRuleSpec(_Strict):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True,
                              allow_inf_nan=False)

    description: str = ""
    system: str | None = Field(None, description="absent: every declared system, each alone")
    env: str | None = Field(None, description="absent: all environments together")
    metric: Metric
    score: str | None = Field(None, description="quality_score only: which score name")
    budget: str | None = Field(None, description="budget_used only: which budget (under "
                               "`budgets:`); its value is the share of the month's budget spent")
    class_: str | None = Field(None, alias="class",
                               description="precision, recall, f1 only: which label class")
    window: str = "15m"
    comparator: str
    threshold: float
    for_: str | int = Field("0", alias="for")
    severity: Literal["info", "warning", "critical"] = "warning"
    channels: list[str] = Field(default_factory=list)
    run: RunSpec | None = None

    @property
    def window_delta(self) -> timedelta:
        return parse_duration(self.window)

    @property
    def for_delta(self) -> timedelta:
        return parse_duration(str(self.for_))

    def holds(self, value: float) -> bool:
        """Whether ``value`` breaks the rule's threshold."""
        return {
            ">": value > self.threshold, ">=": value >= self.threshold,
            "<": value < self.threshold, "<=": value <= self.threshold,
        }[self.comparator]


def parse_duration(value: str) -> timedelta:
    """'30s', '15m', '1h', '24h', '7d', '2w'; '0' is zero. ValueError otherwise."""
    text = value.strip()
    if text == "0":
        return timedelta(0)
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a duration")
    try:
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    except OverflowError:
        raise DurationTooLong(f"{value!r} is too long to be a duration") from None


class DurationTooLong(ValueError):
    """A span past what timedelta holds; checks report it as too long, not malformed."""


def too_long(span: timedelta) -> bool:
    """Whether a project field's span is over MAX_DURATION (its checks say so)."""
    return span > MAX_DURATION


def check(spec: ProjectFile, problem) -> None:
    """What types alone cannot say about channels and rules; ``problem(loc, msg)``
    records one at the YAML location of ``loc``."""
    # project imports this module for its models, so its helpers come late.
    from trimtab.project.naming import NAME
    from trimtab.project.naming import suggest as _suggest
    from trimtab.runtime.config import ENV_VAR

    for name, channel in spec.channels.items():
        loc = ("channels", name)
        if not NAME.match(name):
            problem(loc, f"{name!r} is not a valid channel name. Fix: use lowercase letters, "
                    "digits, '.', '_' or '-' (e.g. ops-slack).", key=True)
        if (channel.url is None) == (channel.url_env is None):
            problem(loc, "a channel needs exactly one of `url:` or `url_env:` (the name of the "
                    "environment variable that holds the URL).")
        if channel.url_env is not None and not ENV_VAR.match(channel.url_env):
            problem(loc + ("url_env",), "this must be the NAME of an environment variable "
                    "(e.g. SLACK_ALERTS_URL), not the URL itself.")
        if channel.kind == "webhook" and channel.url is not None \
                and not channel.url.startswith(("http://", "https://")):
            problem(loc + ("url",), f"{channel.url!r} is not an http(s) URL. Fix: write "
                    "https://..., or use kind: apprise for slack://, mailto:// and friends.")
        if channel.kind == "apprise":
            for field in ("headers", "headers_env"):
                if getattr(channel, field):
                    problem(loc + (field,), f"`{field}:` only applies to kind: webhook. "
                            "Fix: remove it.", key=True)
        for header in channel.headers:
            if header.lower() in _SECRET_HEADERS:
                problem(loc + ("headers", header), "a credential header must not be written in "
                        "the project file. Fix: move it to `headers_env:` and name the "
                        "environment variable that holds its value.", key=True)
        for header, var in channel.headers_env.items():
            if not ENV_VAR.match(var):
                problem(loc + ("headers_env", header), f"{var!r} must be the NAME of an "
                        "environment variable (e.g. OPS_WEBHOOK_TOKEN), never the secret.")
    for name, rule in spec.alerts.items():
        _check_rule(spec, name, rule, problem, NAME, _suggest)


def _check_rule(spec: ProjectFile, name: str, rule: AlertRuleSpec, problem, NAME, suggest):
    loc = ("alerts", name)
    if not NAME.match(name):
        problem(loc, f"{name!r} is not a valid rule name. Fix: use lowercase letters, digits, "
                "'.', '_' or '-' (e.g. router-latency).", key=True)
    if rule.system is not None and rule.system not in spec.systems:
        problem(loc + ("system",), f"unknown system {rule.system!r}."
                f"{suggest(rule.system, spec.systems)} Fix: use a system declared under "
                "`systems:`, or leave `system:` out to watch every system.")
    if rule.env is not None and rule.env not in spec.environments:
        problem(loc + ("env",), f"unknown environment {rule.env!r}."
                f"{suggest(rule.env, spec.environments)} Fix: use one of "
                f"{', '.join(spec.environments)}, or leave `env:` out for all of them.")
    for field, minimum in (("window", timedelta(minutes=1)), ("for", timedelta(0))):
        raw = rule.window if field == "window" else rule.for_
        try:
            if isinstance(raw, int) and raw != 0:
                raise ValueError
            delta = parse_duration(str(raw))
        except DurationTooLong:
            delta = MAX_DURATION * 2
        except ValueError:
            problem(loc + (field,), f"{raw!r} is not a duration. Fix: a number and a unit: "
                    "30s, 15m, 1h, 24h, 7d" + (" (or 0 for at once)." if field == "for" else "."))
            continue
        if delta < minimum:
            problem(loc + (field,), f"{raw!r} is too short: rollups count by the minute. "
                    "Fix: use 1m or more.")
        if too_long(delta):
            problem(loc + (field,), f"{raw!r} is too long: at most {MAX_DURATION_TEXT}. "
                    "Fix: e.g. 1h, 24h or 7d.")
    if rule.comparator not in COMPARATORS:
        flipped = rule.comparator.strip()[::-1]  # => for >=
        hint = (" (An unquoted > starts a YAML text block.)" if not flipped
                else f" Did you mean {flipped!r}?" if flipped in COMPARATORS
                else suggest(rule.comparator, COMPARATORS))
        problem(loc + ("comparator",), f"{rule.comparator!r} is not a comparator.{hint} Fix: "
                "write one of \">\", \">=\", \"<\", \"<=\" in quotes (comparator: \">\").")
    for i, channel in enumerate(rule.channels):
        if channel not in spec.channels:
            known = ", ".join(spec.channels) or "none declared"
            problem(loc + ("channels", i), f"unknown channel {channel!r}."
                    f"{suggest(channel, spec.channels)} Fix: declare it under `channels:` "
                    f"(known: {known}).")
    if rule.score is not None and rule.metric != "quality_score":
        problem(loc + ("score",), "`score:` picks the score name for metric quality_score "
                f"only; this rule watches {rule.metric}. Fix: remove it.", key=True)
    if rule.budget is not None and rule.metric != "budget_used":
        problem(loc + ("budget",), "`budget:` picks the budget for metric budget_used only; "
                f"this rule watches {rule.metric}. Fix: remove it.", key=True)
    if rule.metric == "budget_used":
        if rule.budget is None:
            problem(loc + ("metric",), "budget_used is the share of one budget spent this "
                    "month. Fix: add `budget:` naming one declared under `budgets:`.")
        elif rule.budget not in spec.budgets:
            problem(loc + ("budget",), f"unknown budget {rule.budget!r}."
                    f"{suggest(rule.budget, spec.budgets)} Fix: declare it under `budgets:` "
                    f"(known: {', '.join(spec.budgets) or 'none declared'}).")
        if rule.system is not None:
            problem(loc + ("system",), "a budget_used rule watches its budget's system, "
                    "team or key. Fix: remove `system:`.", key=True)
        if rule.threshold <= 0:
            problem(loc + ("threshold",), f"budget_used is the share of the budget spent "
                    f"(0.8 for 80%, 1 for all of it), so {rule.threshold} always holds. "
                    "Fix: write e.g. 0.8.")
    if rule.class_ is not None and rule.metric not in CLASS_METRICS:
        problem(loc + ("class",), "`class:` picks the label class for metrics precision, "
                f"recall and f1 only; this rule watches {rule.metric}. Fix: remove it.",
                key=True)
    if rule.class_ is None and rule.metric in CLASS_METRICS:
        problem(loc + ("metric",), f"{rule.metric} is a score of one label class. Fix: add "
                "`class:` naming it (e.g. class: fraud), or watch macro_f1 or accuracy.")
    if rule.metric in FRACTIONS and not 0 <= rule.threshold <= 1:
        problem(loc + ("threshold",), f"{rule.metric} is a share between 0 and 1, so "
                f"{rule.threshold} can never be crossed. Fix: write e.g. "
                f"{FRACTIONS[rule.metric]}.")
    if rule.run is not None:
        command = rule.run.command
        if not (command.strip() if isinstance(command, str) else command):
            problem(loc + ("run", "command"), "the command is empty. Fix: e.g. "
                    "command: [scripts/retrain, complaint-router]")
