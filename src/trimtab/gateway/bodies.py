"""What the gateway accepts, checked before anything is called or recorded.

The schemas check only what trimtab or every upstream relies on; params
they do not name pass through untouched, so a parameter OpenAI adds
tomorrow works today. A failure is one 400 whose ``param`` is the exact
path (``messages[2].content``), because "bad request" alone costs a client
developer an afternoon.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Required

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from trimtab import jsontext
from trimtab.gateway.errors import GatewayError, bad_request

_STRICT = ConfigDict(strict=True)
Role = Literal["system", "developer", "user", "assistant", "tool"]


class _Message(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    role: Required[Role]
    content: str | list[dict[str, Any]] | None
    name: str
    tool_calls: list[dict[str, Any]]
    tool_call_id: str


class _Function(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    name: Required[str]
    description: str
    parameters: dict[str, Any]
    strict: bool | None


class _Tool(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    type: Required[Literal["function"]]
    function: Required[_Function]


class _ResponseFormat(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    type: Required[Literal["text", "json_object", "json_schema"]]
    json_schema: dict[str, Any]


class _StreamOptions(TypedDict, total=False):
    __pydantic_config__ = _STRICT  # type: ignore[misc]
    include_usage: bool


_Unit = Annotated[float, Field(ge=0, le=2)]
_Penalty = Annotated[float, Field(ge=-2, le=2)]
_Count = Annotated[int, Field(ge=1)]


class ChatBody(TypedDict, total=False):
    """``POST /v1/chat/completions``; ``variables`` is trimtab's (via ``extra_body``)."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]
    model: Required[Annotated[str, Field(min_length=1)]]
    messages: Required[list[_Message]]
    stream: bool | None
    stream_options: _StreamOptions | None
    user: str | None
    variables: dict[str, Any] | None
    temperature: _Unit | None
    top_p: Annotated[float, Field(ge=0, le=1)] | None
    n: Literal[1] | None
    max_tokens: _Count | None
    max_completion_tokens: _Count | None
    presence_penalty: _Penalty | None
    frequency_penalty: _Penalty | None
    seed: int | None
    stop: str | list[str] | None
    tools: list[_Tool] | None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None
    parallel_tool_calls: bool | None
    response_format: _ResponseFormat | None
    logit_bias: dict[str, float] | None
    logprobs: bool | None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None
    metadata: dict[str, str] | None


_CHAT = TypeAdapter(ChatBody)
#: pydantic names union members in error locations; they are not part of the path.
_UNION_TAG = re.compile(r"^(str|int|float|bool|none|dict|list|literal|function-\w+|"
                        r"typed-dict|json-or-python|nullable)(\[.*\])?$")
_EXPECTED = {"string_type": "a string", "list_type": "an array", "dict_type": "an object",
             "int_type": "an integer", "float_type": "a number", "bool_type": "true or false",
             "literal_error": "one of the allowed names"}
_HINTS = {"n": " (the gateway returns one choice per call)"}
_JSON_TYPES = {"str": "a string", "int": "a number", "float": "a number", "bool": "a boolean",
               "dict": "an object", "list": "an array", "NoneType": "null"}


def param_of(loc: tuple[Any, ...]) -> str:
    """``('messages', 0, 'content', 'str')`` → ``messages[0].content``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _UNION_TAG.match(part):
            break
        else:
            out += f".{part}" if out else part
    return out


def describe(errors: list[dict[str, Any]], *, prefix: str = "") -> GatewayError:
    """One 400 for the first field that is wrong, naming it and what it should be."""
    first = errors[0]
    param = (prefix + param_of(tuple(first["loc"]))).rstrip(".")
    union = [e for e in errors if (prefix + param_of(tuple(e["loc"]))).rstrip(".") == param]
    if first["type"] == "missing":
        message = f"{param}: required field is missing"
    elif first["type"] == "extra_forbidden":
        message = f"{param}: unknown field"
    elif len(union) > 1:
        given = _JSON_TYPES.get(type(first.get("input")).__name__, "something else")
        wanted = [_EXPECTED[e["type"]] for e in union if e["type"] in _EXPECTED]
        message = f"{param}: {given} is not allowed here"
        if wanted:
            message += f"; send {' or '.join(dict.fromkeys(wanted))}"
    else:
        message = f"{param}: {first['msg'][0].lower()}{first['msg'][1:]}"
        if first["type"] not in ("literal_error",) and "input" in first:
            message += f" (got {_short(first['input'])})"
        message += _HINTS.get(param, "")
    return bad_request(message, param or None)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def check_chat(body: Any) -> dict[str, Any]:
    """The body as sent, once it passed the checks (never a re-serialised copy)."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    try:
        _CHAT.validate_python(body)
    except ValidationError as exc:
        raise describe(exc.errors()) from None
    return body


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise bad_request("the request body is empty; send a JSON object", code="invalid_json")
    try:
        return jsontext.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(400, f"the request body is not valid JSON: {exc}",
                           code="invalid_json") from None


# --- POST /api/v1/records ------------------------------------------------------


class RecordBody(BaseModel):
    """One call or prediction made elsewhere, as ``Workspace.record`` takes it."""

    model_config = ConfigDict(extra="forbid")

    system: Annotated[str, Field(min_length=1, max_length=200)]
    inputs: Any = None
    output: Any = None
    latency_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    env: str | None = None
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    model: str | None = None
    user: str | None = None
    tags: dict[str, str] | None = None
    provider: str | None = None
    http_status: Annotated[int, Field(ge=100, le=599)] | None = None
    ttft_ms: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    input_tokens: Annotated[int, Field(ge=0)] | None = None
    output_tokens: Annotated[int, Field(ge=0)] | None = None
    cached_input_tokens: Annotated[int, Field(ge=0)] | None = None
    cache_write_tokens: Annotated[int, Field(ge=0)] | None = None
    reasoning_tokens: Annotated[int, Field(ge=0)] | None = None
    cost_micro_usd: Annotated[int, Field(ge=0)] | None = None
    price_version: str | None = None
    error_kind: str | None = None
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None
    time: AwareDatetime | None = None

    def fields(self) -> dict[str, Any]:
        """The extra keyword arguments for ``Workspace.record`` that were given."""
        named = {"system", "inputs", "output", "latency_ms", "env", "status", "error", "model",
                 "user", "tags"}
        return {k: v for k, v in self.model_dump(exclude_none=True).items() if k not in named}


MAX_RECORDS = 5000


def check_records(body: Any) -> list[RecordBody]:
    """One record (an object) or many (a list); all are checked before any is kept."""
    items = body if isinstance(body, list) else [body]
    if not items:
        raise bad_request("the list of records is empty")
    if len(items) > MAX_RECORDS:
        raise bad_request(f"{len(items)} records in one request; send at most {MAX_RECORDS}")
    records = []
    for i, item in enumerate(items):
        prefix = f"[{i}]." if isinstance(body, list) else ""
        if not isinstance(item, dict):
            raise bad_request(f"{prefix or 'the body'} must be a JSON object (a record)",
                              prefix.rstrip(".") or None)
        try:
            records.append(RecordBody.model_validate(item))
        except ValidationError as exc:
            raise describe(exc.errors(), prefix=prefix) from None
    return records
