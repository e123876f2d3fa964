"""Eval suites in trimtab.yaml: what a system is tested on before it may be promoted.

A suite names a dataset (JSONL, CSV or YAML next to the project file), the
scorers its answers must pass with their thresholds, fairness limits over a
case tag, and a gate: the environments a release may enter only with a
passing run of the suite. This module only says what the file may hold and
what is wrong with it; trimtab.quality runs the suites.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trimtab import plugins
from trimtab.project.alert_rules import (
    MAX_DURATION_TEXT,
    DurationTooLong,
    parse_duration,
    too_long,
)
from trimtab.project.naming import NAME, suggest
from trimtab.runtime.config import SimulateSpec

DATASET_SUFFIXES = (".jsonl", ".csv", ".yaml", ".yml")
#: The group scorers of other packages register under (entry points).
SCORER_GROUP = plugins.SCORERS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True,
                              allow_inf_nan=False)


class ScorerSpec(_Strict):
    """One scorer. ``type`` picks it; the other keys are its settings (see SCORER_KEYS)."""

    type: str
    name: str | None = Field(None, description="how results name it; default: the type")
    field: str | None = Field(None, description="dotted path into the JSON answer")
    threshold: float | None = Field(None, ge=0, le=1, description="the suite's minimum")
    min_score: float | None = Field(None, ge=0, le=1, description="a case passes at this score")
    ignore_case: bool = False
    value: str | list[str] | None = None
    pattern: str | None = None
    json_schema: str | dict[str, Any] | None = Field(None, alias="schema")
    tolerance: float | None = Field(None, ge=0)
    relative: float | None = Field(None, ge=0)
    metric: Literal["accuracy", "macro_f1"] | None = None
    max_ms: float | None = Field(None, gt=0)
    max_usd: float | None = Field(None, ge=0)
    provider: str | None = None
    model: str | None = None
    rubric: str | None = None
    simulate: SimulateSpec | None = None
    function: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """``name``, else the type and the field it reads (``exact:team``)."""
        if self.name:
            return self.name
        return f"{self.type}:{self.field}" if self.field else self.type


class FairnessSpec(_Strict):
    """Every metric per value of one case tag; the largest gap between groups must stay under."""

    tag: str
    max_gap: float = Field(ge=0, le=1)
    scorers: list[str] = Field(default_factory=list, description="default: every scorer")


class GateSpec(_Strict):
    environments: list[str] = Field(default_factory=list)
    regressions: Literal["ignore", "significant", "any"] = "significant"


class EvalSuiteSpec(_Strict):
    dataset: str
    description: str = ""
    scorers: list[ScorerSpec] = Field(min_length=1)
    fairness: list[FairnessSpec] = Field(default_factory=list)
    concurrency: int = Field(8, ge=1, le=256)
    gate: GateSpec = Field(default_factory=GateSpec)


class ReviewSpec(_Strict):
    """Human review: how many calls a week are drawn for people to judge, and how."""

    per_week: int = Field(20, ge=1, le=10_000)
    env: str | None = Field(None, description="default: the last (production) environment")
    stratify: list[Literal["release", "model"]] = Field(
        default_factory=lambda: ["release", "model"])


class SamplingSpec(_Strict):
    """Scoring of real outputs: a share of an environment's calls, drawn per release
    with a seed, scored in the background of `trimtab serve`/`monitor` by scorers that
    need no expected answer (a judge, json, regex, a custom function...)."""

    sample: str | float = Field(description="a share of calls: 5% or 0.05")
    scorers: list[ScorerSpec] = Field(min_length=1)
    env: str | None = Field(None, description="default: the last (production) environment")
    seed: int = Field(0, ge=0, description="changes which calls are drawn, reproducibly")
    per_tick: int = Field(20, ge=1, le=1000, description="calls scored per monitor cycle")
    settle: str = Field("1m", description="calls younger than this wait for the next cycle "
                        "(a recorder may still hold them); 0 for none")

    @property
    def settle_delta(self) -> timedelta:
        return parse_duration(self.settle)

    @property
    def rate(self) -> float:
        """The share as a number in (0, 1]; ValueError when it is not one."""
        return parse_share(self.sample)


def parse_share(value: str | float) -> float:
    """'5%', '0.5%', 0.05 -> a share; ValueError outside (0, 1]."""
    if isinstance(value, str):
        text = value.strip()
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    else:
        number = float(value)
    if not 0 < number <= 1:
        raise ValueError(f"{value!r} is not a share between 0 and 100%")
    return number


#: The built-in scorers and the settings each takes beyond type, name, threshold.
SCORER_KEYS: dict[str, set[str]] = {
    "exact": {"field", "ignore_case"},
    "contains": {"field", "value", "ignore_case"},
    "not_contains": {"field", "value", "ignore_case"},
    "regex": {"field", "pattern", "ignore_case"},
    "json": {"field"},
    "json_schema": {"field", "json_schema"},
    "numeric": {"field", "tolerance", "relative"},
    "classification": {"field", "metric", "ignore_case"},
    "latency": {"max_ms"},
    "cost": {"max_usd"},
    "judge": {"field", "provider", "model", "rubric", "simulate", "min_score"},
    "custom": {"function", "options", "min_score", "field"},
    "similarity": {"field", "value", "min_score"},
}
#: Settings every scorer takes.
COMMON_KEYS = {"type", "name", "threshold"}
#: What an installed (entry point) scorer may be given.
PLUGIN_KEYS = {"field", "options", "min_score"}
#: Scorers that compare with each case's ``expected`` (contains, similarity: unless
#: ``value`` is set).
NEEDS_EXPECTED = {"exact", "numeric", "classification"}
FUNCTION = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def installed_scorers() -> list[str]:
    """Scorer names other packages register (``trimtab.scorers`` entry points)."""
    return plugins.names(plugins.SCORERS)


def check_evals(system: str, evals: dict[str, EvalSuiteSpec], environments: list[str],
                providers: set[str], root: Path, problem) -> None:
    """Names, scorer types and their settings, files on disk: each said where it is."""
    for suite_name, suite in evals.items():
        loc = ("systems", system, "evals", suite_name)
        if not NAME.match(str(suite_name)):
            problem(loc, f"{suite_name!r} is not a valid suite name. Fix: use lowercase "
                    "letters, digits, '.', '_' or '-' (e.g. routing).", key=True)
        _check_dataset(suite.dataset, loc + ("dataset",), root, problem)
        labels = _check_scorers(suite.scorers, loc, providers, root, problem)
        for i, fair in enumerate(suite.fairness):
            for j, name in enumerate(fair.scorers):
                if name not in labels:
                    problem(loc + ("fairness", i, "scorers", j), f"no scorer named {name!r} in "
                            f"this suite.{suggest(name, labels)} Scorers: "
                            f"{', '.join(sorted(labels))}.")
        for i, env in enumerate(suite.gate.environments):
            if env not in environments:
                problem(loc + ("gate", "environments", i), f"unknown environment {env!r}."
                        f"{suggest(env, environments)} Fix: use one of "
                        f"{', '.join(environments)}.")


def _check_scorers(scorers: list[ScorerSpec], loc: tuple, providers: set[str], root: Path,
                   problem) -> set[str]:
    """Each scorer's type and settings; the labels they are known by."""
    installed: list[str] | None = None
    labels: set[str] = set()
    for i, scorer in enumerate(scorers):
        sloc = loc + ("scorers", i)
        if scorer.label in labels:
            problem(sloc, f"two scorers are named {scorer.label!r}. Fix: give one "
                    "`name: ...`.")
        labels.add(scorer.label)
        if scorer.type in SCORER_KEYS:
            allowed = SCORER_KEYS[scorer.type]
        else:
            if installed is None:
                installed = installed_scorers()
            if scorer.type not in installed:
                known = sorted(SCORER_KEYS) + sorted(installed)
                problem(sloc + ("type",), f"unknown scorer {scorer.type!r}."
                        f"{suggest(scorer.type, known)} Built in: "
                        f"{', '.join(sorted(SCORER_KEYS))}; installed ({SCORER_GROUP} "
                        f"entry points): {', '.join(sorted(installed)) or 'none'}.")
                continue
            allowed = PLUGIN_KEYS
        _check_scorer(scorer, allowed, sloc, providers, root, problem)
    return labels


def _check_dataset(path: str, loc: tuple, root: Path, problem) -> None:
    if not path.lower().endswith(DATASET_SUFFIXES):
        problem(loc, f"{path!r}: a dataset is a .jsonl, .csv or .yaml file.")
    elif not (root / path).is_file():
        problem(loc, f"file {path!r} does not exist (looked in {root}). Fix: create it or "
                "correct the path, relative to trimtab.yaml.")


def _check_scorer(scorer: ScorerSpec, allowed: set[str], loc: tuple, providers: set[str],
                  root: Path, problem) -> None:
    given = scorer.model_dump(exclude_defaults=True, by_alias=False).keys() - COMMON_KEYS
    takes = ", ".join(sorted(_shown(k) for k in allowed)) or "nothing more"
    for key in sorted(given - allowed):
        problem(loc + (_shown(key),), f"`{_shown(key)}` does not apply to the {scorer.type} "
                f"scorer. It takes: {takes}.", key=True)
    kind = scorer.type
    required = {"regex": "pattern", "json_schema": "json_schema", "latency": "max_ms",
                "cost": "max_usd", "judge": "rubric", "custom": "function"}.get(kind)
    if required and getattr(scorer, required) is None:
        problem(loc, f"a {kind} scorer needs `{_shown(required)}:`.")
    if kind == "regex" and scorer.pattern is not None:
        try:
            re.compile(scorer.pattern)
        except re.error as exc:
            problem(loc + ("pattern",), f"not a valid regular expression: {exc}. Fix: check "
                    "brackets and escapes (single-quote the pattern in YAML).")
    if kind == "judge":
        for key in ("provider", "model"):
            if getattr(scorer, key) is None:
                problem(loc, f"a judge needs `{key}:` (e.g. provider: simulated, model: "
                        "sim-judge), the model that grades the answers.")
        if scorer.provider is not None and scorer.provider not in providers:
            problem(loc + ("provider",), f"unknown provider {scorer.provider!r}."
                    f"{suggest(scorer.provider, providers)} Fix: declare it under `providers:`.")
        if scorer.rubric is not None and _is_path(scorer.rubric) \
                and not (root / scorer.rubric).is_file():
            problem(loc + ("rubric",), f"rubric file {scorer.rubric!r} does not exist (looked "
                    f"in {root}).")
    if kind == "custom" and scorer.function is not None and not FUNCTION.match(scorer.function):
        problem(loc + ("function",), f"{scorer.function!r} is not `module:function`. Fix: e.g. "
                "function: my_scorers:polite (the module is looked up from the project "
                "directory too).")
    if kind == "json_schema" and isinstance(scorer.json_schema, str) \
            and not (root / scorer.json_schema).is_file():
        problem(loc + ("schema",), f"schema file {scorer.json_schema!r} does not exist "
                f"(looked in {root}).")
    if kind == "numeric" and scorer.tolerance is None and scorer.relative is None:
        problem(loc, "a numeric scorer needs `tolerance:` (absolute) or `relative:` "
                "(a share of the expected value), e.g. tolerance: 0.01.")


def _shown(key: str) -> str:
    """The key as written in the file (``schema``, a pydantic reserved name, is json_schema)."""
    return "schema" if key == "json_schema" else key


def _is_path(text: str) -> bool:
    """A rubric is a file when it is one line ending in .md or .txt."""
    return "\n" not in text and text.strip().lower().endswith((".md", ".txt"))


def check_review(system: str, review: ReviewSpec | None, environments: list[str],
                 problem) -> None:
    if review is not None and review.env is not None and review.env not in environments:
        problem(("systems", system, "review", "env"), f"unknown environment {review.env!r}."
                f"{suggest(review.env, environments)} Fix: use one of "
                f"{', '.join(environments)}.")


def check_sampling(system: str, sampling: SamplingSpec | None, environments: list[str],
                   providers: set[str], root: Path, problem) -> None:
    """The share, the environment, and scorers that can score a call without an expected
    answer (a real call has none)."""
    if sampling is None:
        return
    loc = ("systems", system, "scoring")
    try:
        sampling.rate  # noqa: B018 - parsing is the check
    except ValueError:
        problem(loc + ("sample",), f"{sampling.sample!r} is not a share. Fix: write e.g. "
                "5% (or 0.05); more than 0, at most 100%.")
    try:
        if too_long(sampling.settle_delta):
            raise DurationTooLong
    except DurationTooLong:
        problem(loc + ("settle",), f"{sampling.settle!r} is too long: at most "
                f"{MAX_DURATION_TEXT}. Fix: e.g. 30s or 1m.")
    except ValueError:
        problem(loc + ("settle",), f"{sampling.settle!r} is not a duration. Fix: e.g. 30s, "
                "1m, or 0.")
    if sampling.env is not None and sampling.env not in environments:
        problem(loc + ("env",), f"unknown environment {sampling.env!r}."
                f"{suggest(sampling.env, environments)} Fix: use one of "
                f"{', '.join(environments)}.")
    _check_scorers(sampling.scorers, loc, providers, root, problem)
    for i, scorer in enumerate(sampling.scorers):
        if scorer.type in NEEDS_EXPECTED or (scorer.type in ("contains", "not_contains",
                                                              "similarity")
                                             and scorer.value is None):
            problem(loc + ("scorers", i), f"the {scorer.type} scorer compares with an expected "
                    "answer, which a real call does not have. Fix: use a judge, json, "
                    "json_schema, regex, contains or similarity with `value:`, latency, cost "
                    "or a custom scorer.")
