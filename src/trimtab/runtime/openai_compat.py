"""OpenAI Chat Completions and everything that speaks it.

OpenAI, Azure OpenAI (``api_key_header: api-key`` and ``query: {api-version}``),
Mistral, Gemini's OpenAI endpoint, vLLM, Ollama, LiteLLM: one client. Params
pass through untouched, so tools, tool_choice and response_format reach the
upstream exactly as the caller wrote them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from trimtab.runtime._http import HttpProvider
from trimtab.runtime.messages import ChatChunk, ChatRequest, ChatResponse, Usage, new_id

PATH = "/chat/completions"


class OpenAIProvider(HttpProvider):
    kind = "openai"
    default_base_url = "https://api.openai.com/v1"

    def body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {**request.params, "model": request.model,
                                "messages": request.messages}
        if stream:
            body["stream"] = True
            # Usage in streams is what cost and rollups need; ask unless the caller chose.
            body.setdefault("stream_options", {"include_usage": True})
        return body

    async def complete(self, request: ChatRequest) -> ChatResponse:
        data = await self.post_json(PATH, self.body(request, stream=False), request.model)
        return self.parse_completion(data, request.model or "")

    def parse_completion(self, data: Any, model: str) -> ChatResponse:
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise self.error("malformed", "the answer has no `choices`", model)
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise self.error("malformed", "the answer's first choice has no `message`", model)
        content = message.get("content")
        tool_calls = message.get("tool_calls") or []
        if not isinstance(content, str | None) or not isinstance(tool_calls, list):
            raise self.error("malformed", "the answer's message has an unexpected shape", model)
        return ChatResponse(
            content=content,
            model=data.get("model") if isinstance(data.get("model"), str) else model,
            provider=self.name,
            finish_reason=choices[0].get("finish_reason"),
            tool_calls=tool_calls,
            usage=Usage.from_openai(data.get("usage")),
            id=data.get("id") if isinstance(data.get("id"), str) else new_id(),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        model = request.model
        seen = [0]
        async with self.post_stream(PATH, self.body(request, stream=True), model) as response:
            async for _event, data in self.sse(response, model, seen):
                if data.strip() == "[DONE]":
                    return
                chunk = self.parse_chunk(self.parse_event(data, model, seen), model, seen)
                if chunk is not None:
                    seen[0] += 1
                    yield chunk
        raise self.error("connection", "the stream ended before [DONE]: the answer is "
                         "truncated", model, partial=seen[0] > 0)

    def parse_chunk(self, data: Any, model: str | None, seen: list[int]) -> ChatChunk | None:
        if not isinstance(data, dict):
            raise self.error("malformed", "a stream event is not an object", model,
                             partial=seen[0] > 0)
        if "error" in data:
            error = data["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            raise self.error("server", f"error in stream: {message}", model, partial=seen[0] > 0)
        choices = data.get("choices") or []
        usage = Usage.from_openai(data.get("usage"))
        if not choices and usage is None:
            return None  # e.g. Azure's prompt_filter_results preamble
        chunk = ChatChunk(usage=usage, model=data.get("model") or None,
                          response_id=data["id"] if isinstance(data.get("id"), str) else None)
        if choices and isinstance(choices[0], dict):
            delta = choices[0].get("delta") or {}
            chunk.content = delta.get("content")
            chunk.tool_calls = delta.get("tool_calls") or None
            chunk.role = delta.get("role")
            chunk.finish_reason = choices[0].get("finish_reason")
        return chunk
