"""What a case produced and what a scorer made of it: the values scorers pass around."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trimtab.quality.datasets import MISSING


@dataclass
class Answer:
    """One case's answer from the system under test (``error`` set when the call failed)."""

    text: str | None
    latency_ms: float = 0.0
    cost_usd: Decimal | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)  # what the model was sent
    model: str | None = None
    fallback_used: bool = False
    _json: Any = field(default=None, repr=False)
    _json_error: str | None = field(default=None, repr=False)
    _parsed: bool = field(default=False, repr=False)

    def json(self) -> tuple[Any, str | None]:
        """(the answer parsed as JSON, None) or (MISSING, why not)."""
        if not self._parsed:
            self._parsed = True
            if self.text is None:
                self._json, self._json_error = MISSING, "the answer has no text"
            else:
                try:
                    self._json, self._json_error = json.loads(unfenced(self.text)), None
                except ValueError as exc:
                    self._json, self._json_error = MISSING, f"the answer is not JSON ({exc})"
        return self._json, self._json_error

    def value(self, path: str | None) -> tuple[Any, str | None]:
        """The answer's text, or the value at a dotted path into its JSON; (MISSING, why)."""
        if self.error is not None:
            return MISSING, f"the call failed: {self.error}"
        if path is None:
            return (self.text, None) if self.text is not None else (MISSING, "no text")
        data, problem = self.json()
        if problem is not None:
            return MISSING, problem
        found = dig(data, path)
        return (found, None) if found is not MISSING else (MISSING, f"the answer has no {path!r}")


def dig(data: Any, path: str) -> Any:
    """``a.b.0.c`` into nested mappings and lists; MISSING when absent."""
    for part in path.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return MISSING
    return data


def unfenced(text: str) -> str:
    """Models often wrap JSON in a ```json fence; the JSON inside is the answer."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        body = stripped[3:-3]
        return body.split("\n", 1)[1] if "\n" in body else body
    return stripped


@dataclass(frozen=True)
class Verdict:
    """One scorer on one case: a score in [0, 1], whether the case passes it, and why not."""

    score: float
    passed: bool
    detail: str = ""
    label: str | None = None  # a classification's predicted class
    #: The scorer could not judge (its judge's call failed): an eval case fails, but
    #: sampled scoring stores no score, so a judge outage never reads as bad answers.
    error: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"score": round(self.score, 6), "passed": self.passed}
        if self.detail:
            out["detail"] = self.detail
        if self.label is not None:
            out["label"] = self.label
        return out

    @classmethod
    def of(cls, passed: bool, detail: str = "", label: str | None = None) -> Verdict:
        return cls(1.0 if passed else 0.0, passed, "" if passed else detail, label)


@dataclass(frozen=True)
class Summary:
    """A scorer over a set of cases: its metric against its threshold."""

    metric: str  # pass_rate | accuracy | macro_f1
    value: float | None  # None when there were no cases
    cases: int
    mean_score: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "cases": self.cases,
                "mean_score": self.mean_score, **({"extra": self.extra} if self.extra else {})}
