"""Requests, answers and usage in one shape for every provider: OpenAI's.

The OpenAI Chat Completions shape is the lingua franca (vLLM, Ollama,
Mistral, Azure all speak it), so the gateway can pass bodies through and the
SDK, recorder and cost code only ever see one format. Anthropic is mapped
onto it at the edge.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, fields, replace
from typing import Any

from trimtab.runtime.errors import ProviderError

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
#: Set by the runtime, never by params: model comes from the release, stream from the call.
RESERVED_PARAMS = frozenset({"model", "messages", "stream"})
_RESPONSE_FORMATS = {"json": {"type": "json_object"}, "text": {"type": "text"}}


@dataclass(frozen=True)
class Usage:
    """Token counts as billed.

    ``input_tokens`` includes cached reads and writes and ``output_tokens``
    includes reasoning, as OpenAI reports them; the breakdown fields say how
    many of those were cached or reasoning so cost can price them apart.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def from_openai(cls, data: Any) -> Usage | None:
        """None when no counts were reported: zero would price a real call at $0."""
        if not isinstance(data, dict) or not {"prompt_tokens", "completion_tokens"} & set(data):
            return None
        prompt = data.get("prompt_tokens_details") or {}
        completion = data.get("completion_tokens_details") or {}
        return cls(
            input_tokens=_int(data.get("prompt_tokens")),
            output_tokens=_int(data.get("completion_tokens")),
            cache_read_tokens=_int(prompt.get("cached_tokens")),
            cache_write_tokens=_int(prompt.get("cache_write_tokens")),
            reasoning_tokens=_int(completion.get("reasoning_tokens")),
        )

    @classmethod
    def from_anthropic(cls, data: Any) -> Usage | None:
        """Anthropic counts cached tokens outside ``input_tokens``; fold them in."""
        if not isinstance(data, dict) or not {"input_tokens", "output_tokens"} & set(data):
            return None
        read = _int(data.get("cache_read_input_tokens"))
        write = _int(data.get("cache_creation_input_tokens"))
        return cls(
            input_tokens=_int(data.get("input_tokens")) + read + write,
            output_tokens=_int(data.get("output_tokens")),
            cache_read_tokens=read,
            cache_write_tokens=write,
        )

    def merged(self, later: Usage) -> Usage:
        """Streams report cumulative counts in pieces; keep the largest of each."""
        return Usage(**{f.name: max(getattr(self, f.name), getattr(later, f.name))
                        for f in fields(self)})

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cache_read_tokens or self.cache_write_tokens:
            out["prompt_tokens_details"] = {"cached_tokens": self.cache_read_tokens}
            if self.cache_write_tokens:
                out["prompt_tokens_details"]["cache_write_tokens"] = self.cache_write_tokens
        if self.reasoning_tokens:
            out["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return out


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


@dataclass(frozen=True)
class ChatRequest:
    """What the caller asks: messages plus any Chat Completions params.

    ``params`` passes through untouched (tools, tool_choice, response_format,
    seed, stop, …) except the shorthand ``response_format: json``. ``model``
    is filled per target by the router from the release.
    """

    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    model: str | None = None

    def __post_init__(self) -> None:
        problem = _check_messages(self.messages)
        if problem is None:
            bad = sorted(RESERVED_PARAMS & set(self.params))
            if bad:
                problem = (f"params may not set {', '.join(bad)}: the model comes from the "
                           "release and streaming from the call")
        if problem:
            raise ProviderError("bad_request", problem)

    def for_target(self, model: str, defaults: dict[str, Any] | None = None) -> ChatRequest:
        """This request aimed at one model; release params are defaults the caller overrides."""
        params = {**(defaults or {}), **self.params}
        fmt = params.get("response_format")
        if isinstance(fmt, str) and fmt in _RESPONSE_FORMATS:
            params["response_format"] = dict(_RESPONSE_FORMATS[fmt])
        return replace(self, model=model, params=params)

    def text(self) -> str:
        """All message text, for rules and token estimates."""
        return "\n".join(message_text(m) for m in self.messages)

    def last_user_text(self) -> str:
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message_text(message)
        return ""


def _check_messages(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list of {role, content} objects"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            return (f"messages[{i}] needs a role, one of: {', '.join(sorted(ROLES))}")
    return None


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content
                         if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def new_id(prefix: str = "chatcmpl") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


@dataclass
class ChatResponse:
    """One complete answer. ``usage`` is None when the provider did not report it."""

    content: str | None
    model: str
    provider: str
    finish_reason: str | None = "stop"
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage | None = None
    id: str = field(default_factory=new_id)
    created: int = field(default_factory=lambda: int(time.time()))

    def to_openai(self) -> dict[str, Any]:
        """A ``chat.completion`` body, what the gateway returns."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
        }
        if self.usage is not None:
            body["usage"] = self.usage.to_openai()
        return body


@dataclass
class ChatChunk:
    """One streamed piece: a text delta, tool-call deltas, the finish reason or usage."""

    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    role: str | None = None
    model: str | None = None  # as the upstream reports it (Azure names the real model here)
    response_id: str | None = None  # the upstream's id for the answer, on the chunks that carry it

    def to_openai(self, id: str, model: str, created: int) -> dict[str, Any]:
        """A ``chat.completion.chunk``; a usage-only chunk has empty choices, as OpenAI's."""
        body: dict[str, Any] = {"id": id, "object": "chat.completion.chunk",
                                "created": created, "model": model}
        delta: dict[str, Any] = {}
        if self.role:
            delta["role"] = self.role
        if self.content is not None:
            delta["content"] = self.content
        if self.tool_calls:
            delta["tool_calls"] = self.tool_calls
        if delta or self.finish_reason or self.usage is None:
            body["choices"] = [{"index": 0, "delta": delta, "finish_reason": self.finish_reason}]
        else:
            body["choices"] = []
        if self.usage is not None:
            body["usage"] = self.usage.to_openai()
        return body


class StreamAccumulator:
    """Builds the complete answer from chunks, so a stream is recorded like a call."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.tools: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.chunks = 0

    def add(self, chunk: ChatChunk) -> None:
        self.chunks += 1
        self.model = self.model or chunk.model
        self.response_id = self.response_id or chunk.response_id
        if chunk.content:
            self.parts.append(chunk.content)
        for delta in chunk.tool_calls or ():
            index = delta.get("index", 0)
            call = self.tools.setdefault(
                index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
            if delta.get("id"):
                call["id"] = delta["id"]
            function = delta.get("function") or {}
            call["function"]["name"] += function.get("name") or ""
            call["function"]["arguments"] += function.get("arguments") or ""
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage if self.usage is None else self.usage.merged(chunk.usage)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def response(self, *, model: str, provider: str, id: str | None = None) -> ChatResponse:
        return ChatResponse(
            content=self.text if self.parts or not self.tools else None,
            model=self.model or model,
            provider=provider,
            finish_reason=self.finish_reason,
            tool_calls=[self.tools[i] for i in sorted(self.tools)],
            usage=self.usage,
            id=id or self.response_id or new_id(),
        )
