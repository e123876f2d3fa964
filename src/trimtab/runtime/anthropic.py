"""Anthropic Messages API, mapped to and from the OpenAI shape at the edge.

Callers, the gateway and the recorder see one format whatever answers, so a
release can fall back from an OpenAI model to a Claude model (or back)
without anyone downstream noticing more than the provider name.
What has no Anthropic equivalent (``response_format``, ``seed``, penalties,
``n``) is dropped rather than rejected, so a fallback still answers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from trimtab.runtime._http import HttpProvider
from trimtab.runtime.messages import ChatChunk, ChatRequest, ChatResponse, Usage, message_text

PATH = "/v1/messages"
VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                "tool_use": "tool_calls", "refusal": "content_filter", "pause_turn": "stop"}
PASSTHROUGH = ("temperature", "top_p", "top_k", "metadata", "thinking", "service_tier")
ERROR_KINDS = {"overloaded_error": "server", "api_error": "server", "rate_limit_error":
               "rate_limit", "authentication_error": "auth", "permission_error": "auth",
               "invalid_request_error": "bad_request", "timeout_error": "timeout"}


def to_anthropic(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """An OpenAI-shaped request as a Messages API body."""
    params = request.params
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        role = message["role"]
        if role in ("system", "developer"):
            system.append(message_text(message))
        elif role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
                     "content": message_text(message)}
            _append(messages, "user", [block])
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            if message_text(message):
                blocks.append({"type": "text", "text": message_text(message)})
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                blocks.append({"type": "tool_use", "id": call.get("id"),
                               "name": function.get("name"),
                               "input": _arguments(function.get("arguments"))})
            _append(messages, "assistant", blocks)
        else:
            _append(messages, "user", _user_blocks(message.get("content")))
    body: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "max_tokens": params.get("max_tokens") or params.get("max_completion_tokens")
        or DEFAULT_MAX_TOKENS,
    }
    if system:
        body["system"] = "\n\n".join(system)
    for key in PASSTHROUGH:
        if key in params:
            body[key] = params[key]
    stop = params.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if params.get("tools"):
        body["tools"] = [_tool(t) for t in params["tools"]]
        choice = _tool_choice(params.get("tool_choice"), params.get("parallel_tool_calls"))
        if choice:
            body["tool_choice"] = choice
    if stream:
        body["stream"] = True
    return body


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Consecutive same-role turns merge: tool results for one turn go in one user message."""
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def _user_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks = []
    for part in content or ():
        if part.get("type") == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if url.startswith("data:") and ";base64," in url:
                media, data = url[5:].split(";base64,", 1)
                blocks.append({"type": "image", "source": {"type": "base64",
                                                           "media_type": media, "data": data}})
            else:
                blocks.append({"type": "image", "source": {"type": "url", "url": url}})
    return blocks


def _arguments(arguments: Any) -> Any:
    if isinstance(arguments, dict):
        return arguments
    try:
        return json.loads(arguments or "{}")
    except ValueError:
        return {"_raw": arguments}


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function", tool)
    out = {"name": function.get("name"),
           "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
    if function.get("description"):
        out["description"] = function["description"]
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    if choice is None and parallel is None:
        return None
    if isinstance(choice, dict):
        out: dict[str, Any] = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    else:
        out = {"type": {"required": "any", "none": "none"}.get(choice or "auto", "auto")}
    if parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


class AnthropicProvider(HttpProvider):
    kind = "anthropic"
    default_base_url = "https://api.anthropic.com"

    def auth_headers(self, key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": VERSION}
        if key is not None:
            headers[self.spec.api_key_header or "x-api-key"] = key
        return headers

    async def complete(self, request: ChatRequest) -> ChatResponse:
        data = await self.post_json(PATH, to_anthropic(request, stream=False), request.model)
        return self.parse_message(data, request.model or "")

    def parse_message(self, data: Any, model: str) -> ChatResponse:
        blocks = data.get("content") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise self.error("malformed", "the answer has no `content` list", model)
        texts, calls = [], []
        for block in blocks:
            if not isinstance(block, dict):
                raise self.error("malformed", "a content block is not an object", model)
            if block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                calls.append({"id": block.get("id"), "type": "function", "function": {
                    "name": block.get("name"),
                    "arguments": json.dumps(block.get("input", {}), ensure_ascii=False)}})
        return ChatResponse(
            content="".join(texts) if texts or not calls else None,
            model=data.get("model") or model,
            provider=self.name,
            finish_reason=STOP_REASONS.get(data.get("stop_reason"), data.get("stop_reason")),
            tool_calls=calls,
            usage=Usage.from_anthropic(data.get("usage")),
            **({"id": data["id"]} if isinstance(data.get("id"), str) else {}),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Events → OpenAI-style chunks; usage is sent once, at the end, as OpenAI does."""
        model = request.model
        seen = [0]
        usage: Usage | None = None
        tools: dict[int, int] = {}  # content block index → tool call index
        body = to_anthropic(request, stream=True)
        async with self.post_stream(PATH, body, model) as response:
            async for event, data in self.sse(response, model, seen):
                payload = self.parse_event(data, model, seen)
                kind = payload.get("type", event) if isinstance(payload, dict) else event
                chunk: ChatChunk | None = None
                if kind == "message_start":
                    message = payload.get("message") or {}
                    usage = Usage.from_anthropic(message.get("usage"))
                    answer_id = message.get("id")
                    chunk = ChatChunk(role="assistant", model=message.get("model"),
                                      response_id=answer_id if isinstance(answer_id, str) else None)
                elif kind == "content_block_start":
                    block = payload.get("content_block") or {}
                    if block.get("type") == "tool_use":
                        tools[payload.get("index", 0)] = index = len(tools)
                        chunk = ChatChunk(tool_calls=[{
                            "index": index, "id": block.get("id"), "type": "function",
                            "function": {"name": block.get("name"), "arguments": ""}}])
                elif kind == "content_block_delta":
                    delta = payload.get("delta") or {}
                    if delta.get("type") == "text_delta":
                        chunk = ChatChunk(content=delta.get("text", ""))
                    elif delta.get("type") == "input_json_delta":
                        chunk = ChatChunk(tool_calls=[{
                            "index": tools.get(payload.get("index", 0), 0),
                            "function": {"arguments": delta.get("partial_json", "")}}])
                elif kind == "message_delta":
                    later = Usage.from_anthropic(payload.get("usage"))
                    if later is not None:
                        usage = later if usage is None else usage.merged(later)
                    reason = (payload.get("delta") or {}).get("stop_reason")
                    if reason:
                        chunk = ChatChunk(finish_reason=STOP_REASONS.get(reason, reason))
                elif kind == "message_stop":
                    if usage is not None:
                        yield ChatChunk(usage=usage)
                    return
                elif kind == "error":
                    error = payload.get("error") or {}
                    raise self.error(ERROR_KINDS.get(error.get("type"), "server"),
                                     f"error in stream: {error.get('message', error)}", model,
                                     partial=seen[0] > 0)
                if chunk is not None:
                    seen[0] += 1
                    yield chunk
        raise self.error("connection", "the stream ended before message_stop: the answer is "
                         "truncated", model, partial=seen[0] > 0)
