"""What the gateway accepts, checked before anything is called or recorded.

The schemas check only what trimtab or every upstream relies on; params
they do not name pass through untouched, so a parameter OpenAI adds
tomorrow works today. A failure is one 400 whose ``param`` is the exact
path (``messages[2].content``), because "bad request" alone costs a client
developer an afternoon.

Before any of that, ``check_limits`` bounds what a body may hold (nesting,
array and object sizes, string lengths: ``gateway.limits``), and ``parse_json``
refuses what JSON or UTF-8 cannot carry (NaN, Infinity, a number past a double's range,
lone surrogates), so no request can make a later step recurse, stall, fail to encode or
fail to store.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Required

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from trimtab.gateway.errors import GatewayError, bad_request

if TYPE_CHECKING:
    from trimtab.project.models import InputLimitSpec

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
    model: Required[Annotated[str, Field(min_length=1, max_length=200)]]
    messages: Required[list[_Message]]
    stream: bool | None
    stream_options: _StreamOptions | None
    user: Annotated[str, Field(max_length=200)] | None
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
    """The body as JSON. orjson takes nearly every body; what it refuses goes to the
    standard library (integers past 64 bits), which must not smuggle in what JSON or
    UTF-8 cannot carry: NaN and Infinity, lone surrogates (``"\\ud800"``)."""
    if not raw:
        raise bad_request("the request body is empty; send a JSON object", code="invalid_json")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        _check_finite(raw, value)
        return value
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise GatewayError(400, "the request body is nested too deeply", code="invalid_json"
                           ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(400, f"the request body is not valid JSON: {exc}"[:300],
                           code="invalid_json") from None
    _check_finite(raw, value)
    if _has_lone_surrogate(value):
        raise GatewayError(400, "the request body holds a lone surrogate (an escape such as "
                           "\\ud800 without its pair), which is not Unicode text; send the "
                           "character itself or its full pair", code="invalid_unicode")
    return value


#: A number literal past a double's range (1e999, or 400 digits): both parsers read it
#: as Infinity. Every such literal has an exponent of 3 digits or a run of 200 digits
#: (a 2-digit exponent adds at most 99 to its digits' 10^(N-1)), so a body without one
#: holds no infinity and is not walked.
_HUGE_NUMBER = re.compile(rb"[eE][+-]?[0-9]{3}|[0-9]{200}")
_INFINITY = float("inf")


def _check_finite(raw: bytes, value: Any) -> None:
    if _HUGE_NUMBER.search(raw) is None or not _has_infinity(value):
        return
    raise GatewayError(400, "the request body holds a number too large for a 64-bit float "
                       "(such as 1e999), which would be Infinity, and JSON cannot carry it; "
                       "send it as a string", code="invalid_json")


def _has_infinity(value: Any) -> bool:
    stack = [value]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is dict:
            stack.extend(value.values())
        elif kind is list:
            stack.extend(value)
        elif kind is float and (value == _INFINITY or value == -_INFINITY):
            return True
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            stack.extend(value)
            stack.extend(value.values())
        elif type(value) is list:
            stack.extend(value)
        elif type(value) is str and not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                return True
    return False


def check_limits(body: Any, limits: InputLimitSpec, raw: bytes | None = None) -> None:
    """Nesting, sizes and string lengths of a parsed body, in one pass over it, before
    anything else looks at it: 400 naming the first place past a limit.

    ``raw``, the body's JSON text, proves most bodies within every limit without the
    walk (a few microseconds of C against tens of Python per call): see ``_within``."""
    messages = body.get("messages") if type(body) is dict else None
    if type(messages) is list and len(messages) > limits.max_messages:
        raise GatewayError(400, f"messages: {len(messages)} messages; this gateway takes at most "
                           f"{limits.max_messages} (gateway.limits.max_messages)",
                           param="messages", code="array_above_max_length")
    if raw is not None and _within(raw, limits):
        return
    _walk(body, [], 1, limits, messages)


def _within(raw: bytes, limits: InputLimitSpec) -> bool:
    """Whether JSON text this short, with this few brackets, cannot break a limit:
    a string (or key) of N characters takes at least N bytes; an array or object of
    N elements or members at least 2N + 1 (a value and a comma each, the brackets);
    and a value nested D deep has D opening brackets (counting those inside strings
    too only overcounts). Exact bounds, so nothing past a limit gets through."""
    size = len(raw)
    return (size <= limits.max_string and size <= 2 * limits.max_items
            and raw.count(b"[") + raw.count(b"{") <= limits.max_depth)


def _walk(value: Any, path: list, depth: int, limits: InputLimitSpec, exempt: Any) -> None:
    kind = type(value)
    if kind is str:
        if len(value) > limits.max_string:
            raise _past_limit(path, f"a string of {len(value)} characters; at most "
                              f"{limits.max_string}", "max_string", "string_above_max_length")
        return
    if kind is dict:
        items: Any = value.items()
    elif kind is list:
        items = enumerate(value)
    else:
        return
    if depth > limits.max_depth:
        raise _past_limit(path, f"nested more than {limits.max_depth} arrays or objects deep",
                          "max_depth", "nested_too_deeply")
    if len(value) > limits.max_items and value is not exempt:
        raise _past_limit(path, f"{len(value)} {'members' if kind is dict else 'elements'}; "
                          f"at most {limits.max_items}", "max_items", "array_above_max_length")
    for key, child in items:
        if kind is dict and len(key) > limits.max_string:
            raise _past_limit(path, f"a key of {len(key)} characters; at most "
                              f"{limits.max_string}", "max_string", "string_above_max_length")
        if type(child) in _CONTAINERS:
            path.append(key)
            _walk(child, path, depth + 1, limits, exempt)
            path.pop()


_CONTAINERS = frozenset({str, dict, list})


def _past_limit(path: list, what: str, setting: str, code: str) -> GatewayError:
    param = "".join(f"[{p}]" if isinstance(p, int) else f".{p[:40]}" for p in path[:12])
    param = param.lstrip(".") + ("..." if len(path) > 12 else "")
    where = param or "the request body"
    return GatewayError(400, f"{where}: {what} (gateway.limits.{setting})", param=param or None,
                        code=code)


# --- POST /api/v1/records ------------------------------------------------------


_Tokens = Annotated[int, Field(ge=0, le=2**31 - 1)]
#: A tag's key and value, as the cost rollups keep them ("tag:KEY" in 100 characters, the
#: value in 200): longer ones would be cut there and their costs merged.
MAX_TAG_KEY = 96
MAX_TAG_VALUE = 200
_Tags = dict[Annotated[str, Field(min_length=1, max_length=MAX_TAG_KEY)],
             Annotated[str, Field(max_length=MAX_TAG_VALUE)]]


class RecordBody(BaseModel):
    """One call or prediction made elsewhere, as ``Workspace.record`` takes it."""

    model_config = ConfigDict(extra="forbid")

    # Bounds are the calls table's columns: a value the store cannot hold would be
    # acknowledged now and fail in the writer later.
    system: Annotated[str, Field(min_length=1, max_length=200)]
    inputs: Any = None
    output: Any = None
    latency_ms: Annotated[float, Field(ge=0, lt=1e9, allow_inf_nan=False)]
    env: str | None = None
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    model: Annotated[str, Field(max_length=200)] | None = None
    user: Annotated[str, Field(max_length=200)] | None = None
    tags: _Tags | None = None
    provider: Annotated[str, Field(max_length=100)] | None = None
    http_status: Annotated[int, Field(ge=100, le=599)] | None = None
    ttft_ms: Annotated[float, Field(ge=0, lt=1e9, allow_inf_nan=False)] | None = None
    input_tokens: _Tokens | None = None
    output_tokens: _Tokens | None = None
    cached_input_tokens: _Tokens | None = None
    cache_write_tokens: _Tokens | None = None
    reasoning_tokens: _Tokens | None = None
    # $1,000,000 a call: the rollups sum costs in 64 bits, and no call costs more.
    cost_micro_usd: Annotated[int, Field(ge=0, le=10**12)] | None = None
    price_version: Annotated[str, Field(max_length=60)] | None = None
    error_kind: Annotated[str, Field(max_length=40)] | None = None
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")] | None = None
    time: AwareDatetime | None = None
    # The provider's answer, as the gateway keeps it for its own calls; stored cut to
    # the call log's bounds (recorder/call_fields.py), these only bound the parse.
    response_id: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None
    finish_reasons: Annotated[list[Annotated[str, Field(max_length=1000)]],
                              Field(max_length=1000)] | None = None
    params: Annotated[dict[str, Any], Field(max_length=1000)] | None = None

    @field_validator("time")
    @classmethod
    def _storable(cls, value: datetime | None) -> datetime | None:
        try:
            if value is not None and not 1900 <= value.astimezone(UTC).year <= 9999:
                raise ValueError("the time must lie between the years 1900 and 9999")
        except OverflowError:
            raise ValueError("the time must lie between the years 1900 and 9999") from None
        return value

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
