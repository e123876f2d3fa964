"""LLM-as-judge: another model grades each answer against a rubric.

The judge is called through the same runtime as the system (its provider's
timeouts, retries and prices), so any configured provider can judge and the
built-in simulated one can stand in for it offline: give the scorer a
``simulate:`` block whose rules answer ``{"score": ..., "reason": ...}``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from trimtab.project.evals import ScorerSpec
from trimtab.quality.answers import Answer, Verdict, unfenced
from trimtab.quality.datasets import MISSING, Case
from trimtab.quality.scorers import Scorer
from trimtab.runtime import CallFailed, ChatRequest, Router, router_for_release

INSTRUCTIONS = """\
You grade one answer of an AI system against a rubric. Read the rubric, the input the
system was given, the expected answer when there is one, and the system's answer.
Reply with JSON only: {"score": a number from 0 (fails the rubric) to 1 (fully meets it),
"reason": "one sentence"}."""


class Judge(Scorer):
    def __init__(self, spec: ScorerSpec, root: Path, provider: dict[str, Any]):
        super().__init__(spec, root)
        rubric = spec.rubric or ""
        if "\n" not in rubric and rubric.strip().lower().endswith((".md", ".txt")):
            rubric = (root / rubric.strip()).read_text(encoding="utf-8")
        self.rubric = rubric.strip()
        self.min_score = 0.5 if spec.min_score is None else spec.min_score
        self.release = {
            "system": f"judge:{self.name}", "provider": provider, "model": spec.model,
            "params": {"temperature": 0},
            **({"simulate": spec.simulate.model_dump(exclude_defaults=True)}
               if spec.simulate is not None else {}),
        }
        self._router: Router | None = None
        self.cost_usd = Decimal(0)
        self.calls = 0

    def prompt(self, case: Case, answer: Answer, text: str) -> list[dict[str, str]]:
        shown = [m for m in answer.messages if m.get("role") != "system"] or answer.messages
        given = "\n".join(f"{m['role']}: {m.get('content')}" for m in shown) or "(none)"
        parts = [f"Rubric:\n{self.rubric}", f"Input:\n{given}"]
        expected = self.expected(case)
        if expected is not MISSING:
            parts.append("Expected answer:\n" + (expected if isinstance(expected, str)
                                                 else json.dumps(expected, ensure_ascii=False)))
        parts.append(f"Answer:\n{text}")
        return [{"role": "system", "content": INSTRUCTIONS},
                {"role": "user", "content": "\n\n".join(parts)}]

    async def score(self, case: Case, answer: Answer) -> Verdict:
        text, problem = self.text(answer)
        if text is None:
            return Verdict.of(False, problem)
        if self._router is None:
            self._router = router_for_release(self.release)
        try:
            result = await self._router.complete(ChatRequest(self.prompt(case, answer, text)))
        except CallFailed as exc:
            return Verdict(0.0, False, f"the judge's call failed: {exc}", error=True)
        self.calls += 1
        if result.cost.usd is not None:
            self.cost_usd += result.cost.usd
        return self.read(result.response.content)

    def read(self, reply: str | None) -> Verdict:
        try:
            data = json.loads(unfenced(reply or ""))
        except ValueError:
            return Verdict.of(False, f"the judge did not answer JSON: {(reply or '')[:80]!r}")
        if not isinstance(data, dict):
            return Verdict.of(False, "the judge's JSON is not an object with `score`")
        reason = str(data.get("reason") or "")
        score = data.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 5:
            if isinstance(data.get("pass"), bool):
                return Verdict.of(data["pass"], reason or "the judge failed it")
            return Verdict.of(False, f"the judge's score {score!r} is not a number in [0, 1]")
        value = float(score) if score <= 1 else (float(score) - 1) / 4  # a 1-5 scale
        ok = value >= self.min_score
        return Verdict(value, ok, "" if ok else f"judge: {value:.2f}: {reason}".rstrip(": "))

    async def aclose(self) -> None:
        if self._router is not None:
            await self._router.aclose()
            self._router = None
