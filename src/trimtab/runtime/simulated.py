"""A provider that needs no network, for demos, tests and load drills.

Answers are deterministic (first matching rule from the release's
``simulate:`` block), while latency and failures are drawn from the
provider's ``simulate:`` settings. It raises the same ProviderErrors with
the same kinds as a real upstream, takes as long as a real timeout would,
and reports usage, so retries, fallbacks, the breaker, cost and recording
are exercised exactly as in production.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from trimtab.runtime.config import ProviderSpec, SimEndpointSpec, SimRuleSpec, SimulateSpec
from trimtab.runtime.errors import ProviderError
from trimtab.runtime.messages import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Usage,
    message_text,
)
from trimtab.runtime.templates import render

Z95 = 1.6448536269514722  # the standard normal's 95th percentile
STATUS = {"server": 503, "rate_limit": 429}


class _Rule:
    def __init__(self, spec: SimRuleSpec):
        self.spec = spec
        self.keywords = [(k, re.compile(r"\b" + re.escape(k), re.IGNORECASE)) for k in spec.when]
        self.regex = re.compile(spec.regex) if spec.regex else None

    def match(self, text: str) -> dict[str, str] | None:
        for keyword, pattern in self.keywords:
            found = pattern.search(text)
            if found:
                return {"keyword": keyword, "match": found.group(0)}
        if self.regex is not None:
            found = self.regex.search(text)
            if found:
                groups = {k: v or "" for k, v in found.groupdict().items()}
                return {"keyword": found.group(0), "match": found.group(0), **groups}
        return None


class SimulatedProvider:
    kind = "simulated"

    def __init__(self, name: str, spec: ProviderSpec, *,
                 answers: SimulateSpec | Mapping[str, Any] | None = None,
                 rng: random.Random | None = None,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep, **_other_kinds: Any):
        self.name = name
        self.spec = spec
        self.behaviour = spec.simulate or SimEndpointSpec()
        if isinstance(answers, Mapping):
            answers = SimulateSpec.model_validate(dict(answers))
        self.answers = answers or SimulateSpec()
        self.rules = [_Rule(r) for r in self.answers.rules]
        self.price_as = self.answers.price_as
        seed = self.behaviour.seed
        self.rng = rng or (random.Random(seed) if seed is not None else random.Random())
        self._sleep = sleep

    async def aclose(self) -> None:
        return None

    # --- behaviour ---------------------------------------------------------------

    def latency_s(self) -> float:
        """Log-normal with the configured median and 95th percentile: real latency has a tail."""
        latency = self.answers.latency or self.behaviour.latency
        if latency.median_ms <= 0:
            return 0.0
        if latency.p95_ms is None or latency.p95_ms <= latency.median_ms:
            return latency.median_ms / 1000
        sigma = math.log(latency.p95_ms / latency.median_ms) / Z95
        return self.rng.lognormvariate(math.log(latency.median_ms), sigma) / 1000

    def _error_kind(self) -> str | None:
        errors = self.behaviour.errors
        if errors.rate <= 0 or self.rng.random() >= errors.rate:
            return None
        kinds = [k for k, w in errors.kinds.items() if w > 0] or ["server"]
        weights = [errors.kinds.get(k, 1.0) for k in kinds]
        return self.rng.choices(kinds, weights)[0]

    async def _behave(self, model: str) -> None:
        """Wait like a network call, then fail like one, at the configured rates."""
        read = self.spec.timeouts.read
        delay, kind = self.latency_s(), self._error_kind()
        if kind == "timeout" or delay > read:
            await self._sleep(read)
            raise ProviderError("timeout", "no answer in time (ReadTimeout, simulated)",
                                provider=self.name, model=model)
        await self._sleep(delay)
        if kind == "connection":
            raise ProviderError("connection", "connection reset by peer (simulated)",
                                provider=self.name, model=model)
        if kind is not None:
            retry_after = self.behaviour.errors.retry_after if kind == "rate_limit" else None
            raise ProviderError(kind, f"simulated {kind} error",  # type: ignore[arg-type]
                                provider=self.name, model=model, status=STATUS[kind],
                                retry_after=retry_after)

    # --- answers -----------------------------------------------------------------

    def answer(self, request: ChatRequest) -> tuple[str | None, list[dict[str, Any]]]:
        """(text, tool calls) for a request: the same request always gets the same answer."""
        model = request.model or ""
        text = request.text() if self.answers.match == "all" else request.last_user_text()
        values = {"input": text, "model": model, "keyword": "", "match": ""}
        tools_offered = bool(request.params.get("tools"))
        last_is_user = request.messages[-1].get("role") == "user"
        for rule in self.rules:
            found = rule.match(text)
            if found is None:
                continue
            values.update(found)
            if rule.spec.tool is not None and tools_offered and last_is_user:
                arguments = _fill(rule.spec.tool.arguments, values)
                call_id = "call_" + hashlib.sha256(
                    f"{model}\n{text}".encode()).hexdigest()[:24]
                return None, [{"id": call_id, "type": "function", "function": {
                    "name": rule.spec.tool.name,
                    "arguments": json.dumps(arguments, ensure_ascii=False)}}]
            if rule.spec.reply is not None:
                return _reply(rule.spec.reply, values), []
        if self.answers.default is not None:
            return _reply(self.answers.default, values), []
        return f"Simulated answer from {model} to: {text[:200]}", []

    def usage(self, request: ChatRequest, content: str | None,
              tool_calls: list[dict[str, Any]]) -> Usage:
        per = self.behaviour.chars_per_token
        prompt = sum(4 + math.ceil(len(message_text(m)) / per) for m in request.messages)
        produced = (content or "") + "".join(c["function"]["arguments"] for c in tool_calls)
        return Usage(input_tokens=prompt, output_tokens=max(1, math.ceil(len(produced) / per)))

    # --- provider interface ----------------------------------------------------------

    async def complete(self, request: ChatRequest) -> ChatResponse:
        model = request.model or ""
        await self._behave(model)
        content, calls = self.answer(request)
        return ChatResponse(content=content, model=model, provider=self.name,
                            finish_reason="tool_calls" if calls else "stop", tool_calls=calls,
                            usage=self.usage(request, content, calls))

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        model = request.model or ""
        await self._behave(model)
        content, calls = self.answer(request)
        yield ChatChunk(role="assistant", model=model)
        for piece in re.findall(r"\S+\s*|\s+", content or ""):
            yield ChatChunk(content=piece)
        for index, call in enumerate(calls):
            yield ChatChunk(tool_calls=[{"index": index, **call}])
        yield ChatChunk(finish_reason="tool_calls" if calls else "stop")
        options = request.params.get("stream_options") or {"include_usage": True}
        if options.get("include_usage"):
            yield ChatChunk(usage=self.usage(request, content, calls))


def _reply(reply: str | dict[str, Any], values: dict[str, str]) -> str:
    if isinstance(reply, str):
        return render(reply, values, name="simulate reply")
    return json.dumps(_fill(reply, values), ensure_ascii=False)


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return render(value, values, name="simulate reply")
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


class RefusedSimulated:
    """A simulated provider where the project does not allow one: every call fails
    as ``not_configured`` (never falls back), recorded, so no fake answer is served
    in an environment that expects a real model."""

    kind = "simulated"

    def __init__(self, name: str, spec: ProviderSpec, reason: str):
        self.name = name
        self.spec = spec
        self.reason = reason

    def _error(self, model: str | None) -> ProviderError:
        return ProviderError("not_configured", self.reason, provider=self.name, model=model)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        raise self._error(request.model)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        raise self._error(request.model)
        yield  # an async generator, like the real providers' streams

    async def aclose(self) -> None:
        return None
