"""``POST /v1/chat/completions``: a system's active release, or a provider's model as is.

``model: trimtab/<system>`` runs the system's active (or canary) release
in the chosen environment: its system prompt goes in front of the client's
messages (``extra_body.variables`` fill its placeholders; with no messages
at all the release's own prompts are the whole chat), its params are
defaults the client's params override. Any other model name is passed
through to a provider declared in trimtab.yaml (``<provider>/<model>``, or a
bare name to the default provider) and recorded under the system
``passthrough``. Either way the record is on disk before the answer leaves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trimtab import jsontext
from trimtab.errors import RecordingUnavailable
from trimtab.gateway import bodies
from trimtab.gateway.bodies import check_chat, check_limits
from trimtab.gateway.errors import GatewayError, bad_request, from_exception
from trimtab.project.models import BUILTIN_PROVIDERS
from trimtab.runtime import CallFailed
from trimtab.sdk.call_options import PASSTHROUGH, CallOptions, Direct
from trimtab.sdk.calling import StreamedRun
from trimtab.sdk.results import RunResult

if TYPE_CHECKING:
    from trimtab.gateway.app import Gateway, Request
    from trimtab.project.models import Project
    from trimtab.store.keys import ApiKey

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

SYSTEM_PREFIX = "trimtab/"
MAX_USER = 200  # the calls table's user_id
#: A non-streamed call watches for the client hanging up once it has run this long.
HANGUP_WATCH_AFTER = 0.02
#: Body fields the gateway consumes; everything else is a param for the model.
OWN_FIELDS = frozenset({"model", "messages", "stream", "stream_options", "variables"})
DONE = b"data: [DONE]\n\n"
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"),
               (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]


@dataclass(frozen=True)
class Requester:
    """Who is calling: the key, the environment, the end user and the tags."""

    key: ApiKey | None
    env: str
    user: str | None
    tags: dict[str, str] | None


def requester_of(request: Request, key: ApiKey | None, project: Project,
              body_user: Any = None) -> Requester:
    """Environment: header, else the key's default, else production. Key tags win over
    header tags: a client must not re-attribute its calls to another team."""
    env = request.header(b"x-trimtab-env")
    if env:
        if env not in project.spec.environments:
            raise bad_request(f"X-Trimtab-Env: unknown environment {env!r}; this project has "
                              f"{', '.join(project.environments)}", "X-Trimtab-Env",
                              "unknown_environment")
    else:
        env = key.default_env if key is not None else project.production
    check_env_allowed(key, env)
    user = request.header(b"x-trimtab-user") or (body_user if isinstance(body_user, str)
                                                 else None)
    if user is not None and len(user) > MAX_USER:
        raise bad_request(f"X-Trimtab-User: {len(user)} characters; at most {MAX_USER}",
                          "X-Trimtab-User")
    tags = parse_tags(request.header(b"x-trimtab-tags"), project.spec.gateway.limits.max_items)
    if key is not None and key.tags:
        tags = {**(tags or {}), **key.tags}
    return Requester(key, env, user or None, tags or None)


def check_env_allowed(key: ApiKey | None, env: str, param: str = "X-Trimtab-Env") -> None:
    """A key scoped to environments calls only those: a staging key cannot reach
    production by naming it."""
    if key is not None and not key.allows_env(env):
        raise GatewayError(403, f"this API key may not call environment {env!r} (it may call "
                           f"{', '.join(key.envs or [])}). Fix: use a key created with "
                           f"`trimtab keys create NAME --env {env}`", type="permission_error",
                           param=param, code="env_not_allowed")


def parse_tags(header: str | None, max_items: int) -> dict[str, str] | None:
    """``X-Trimtab-Tags: team=support,channel=email``, bounded as a body's ``tags`` is
    (``gateway.limits.max_items`` tags, keys and values as the rollups keep them)."""
    if not header:
        return None
    tags: dict[str, str] = {}
    for item in header.split(","):
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not item.strip():
            continue
        if not sep or not name:
            raise bad_request(f"X-Trimtab-Tags: {item.strip()[:60]!r} is not KEY=VALUE; send "
                              "e.g. `X-Trimtab-Tags: team=support,channel=email`",
                              "X-Trimtab-Tags")
        if len(name) > bodies.MAX_TAG_KEY or len(value) > bodies.MAX_TAG_VALUE:
            raise bad_request(f"X-Trimtab-Tags: tag {name[:40]!r}: a key of {len(name)} and "
                              f"a value of {len(value)} characters; at most "
                              f"{bodies.MAX_TAG_KEY} and {bodies.MAX_TAG_VALUE}",
                              "X-Trimtab-Tags")
        if name not in tags and len(tags) == max_items:
            raise GatewayError(400, f"X-Trimtab-Tags: more than {max_items} tags "
                               "(gateway.limits.max_items)", param="X-Trimtab-Tags",
                               code="array_above_max_length")
        tags[name] = value
    return tags


async def chat_completions(gw: Gateway, request: Request, key: ApiKey | None,
                           body: Any, send: Send) -> None:
    project = gw.project()
    check_limits(body, project.spec.gateway.limits, request.raw)
    body = check_chat(body)
    model: str = body["model"]
    who = requester_of(request, key, project, body.get("user"))
    stream = bool(body.get("stream"))
    params = {k: v for k, v in body.items() if k not in OWN_FIELDS}
    messages = body["messages"]
    common = {"params": params, "user": who.user, "tags": who.tags, "source": "gateway",
              "api_key_id": key.id if key else None}
    caller = gw.ws.caller
    if model.startswith(SYSTEM_PREFIX):
        system = model[len(SYSTEM_PREFIX):]
        if system not in project.spec.systems:
            raise GatewayError(404, f"model {model!r}: no system {system!r} in "
                               f"{project.path.name}; GET /v1/models lists what this gateway "
                               "serves", param="model", code="model_not_found")
        if key is not None and not key.allows(system):
            raise GatewayError(403, f"this API key may not call {system!r}; it may call "
                               f"{', '.join(key.systems or [])}", type="permission_error",
                               param="model", code="system_not_allowed")
        gw.budgets.check(system, who.tags, key)
        options = CallOptions(body.get("variables"), messages or None, **common)
        try:
            if stream:
                run = caller.stream(system, who.env, options)
            else:
                result = await until_hangup(caller.complete(system, who.env, options),
                                            request.receive)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an OpenAI error
            raise from_exception(exc, messages_given=bool(messages)) from None
    else:
        direct = gw.direct(model, project)
        if key is not None and key.systems is not None:
            raise GatewayError(403, f"this API key may only call {', '.join(key.systems)} "
                               f"(as trimtab/<system>), not {model!r}",
                               type="permission_error", param="model",
                               code="system_not_allowed")
        if body.get("variables"):
            raise bad_request("variables only apply to trimtab/<system> models, whose release "
                              "has a prompt to fill", "variables")
        if not messages:
            raise bad_request("messages: must not be empty", "messages")
        gw.budgets.check(PASSTHROUGH, who.tags, key)
        try:
            options = CallOptions(messages=messages, **common)
            if stream:
                run = caller.stream(direct, who.env, options)
            else:
                result = await until_hangup(caller.complete(direct, who.env, options),
                                            request.receive)
        except Exception as exc:  # noqa: BLE001
            raise from_exception(exc) from None
    if stream:
        options = body.get("stream_options") or {}
        await stream_answer(run, send, request.receive, bool(options.get("include_usage")))
    elif result is None:
        return  # the client hung up: the call was cancelled (and recorded so)
    else:
        await gw.send_json(send, 200, completion_body(result), call_headers(result.call_id,
                                                                            result))


def completion_body(result: RunResult) -> bytes:
    assert result.response is not None
    body = result.response.to_openai()
    body["id"] = f"chatcmpl-{result.call_id}"
    return jsontext.dumpb(body)


def call_headers(call_id: str, result: RunResult | None = None,
                 release_id: str | None = None, route: str | None = None) -> list:
    headers = [(b"x-trimtab-call-id", call_id.encode())]
    release_id = result.release_id if result is not None else release_id
    route = result.route if result is not None else route
    if release_id:
        headers.append((b"x-trimtab-release", release_id.encode()))
    if route:
        headers.append((b"x-trimtab-route", route.encode()))
    return headers


def _event(data: dict[str, Any]) -> bytes:
    return b"data: " + jsontext.dumpb(data) + b"\n\n"


async def stream_answer(run: StreamedRun, send: Send, receive: Receive,
                        include_usage: bool) -> None:
    """Stream, and stop the upstream as soon as the client hangs up: a generation
    nobody reads still costs tokens. The call is then recorded as cancelled."""
    pump = asyncio.ensure_future(_pump(run, send, include_usage))
    hangup = asyncio.ensure_future(_hangup(receive))
    try:
        await asyncio.wait((pump, hangup), return_when=asyncio.FIRST_COMPLETED)
    finally:
        hangup.cancel()
        if not pump.done():
            pump.cancel()
        await asyncio.gather(pump, hangup, return_exceptions=True)
    if not pump.cancelled() and pump.exception() is not None:
        raise pump.exception()  # e.g. the call failed before its first chunk: an error answer


async def until_hangup(call: Awaitable[RunResult], receive: Receive) -> RunResult | None:
    """Await a non-streamed call, cancelling it the moment the client hangs up (its
    upstream request is abandoned and the call recorded as cancelled): None then.

    The watcher (a task waiting on ``receive``) starts only once the call has taken
    ``HANGUP_WATCH_AFTER``: a task per request cost tens of microseconds, and a call
    that answers sooner is done before a hang-up could save anything."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    gone = False
    watcher: asyncio.Task | None = None

    async def watch() -> None:
        nonlocal gone
        await _hangup(receive)
        gone = True
        task.cancel()

    def start_watching() -> None:
        nonlocal watcher
        watcher = loop.create_task(watch())

    timer = loop.call_later(HANGUP_WATCH_AFTER, start_watching)
    try:
        result = await call
    except asyncio.CancelledError:
        task.uncancel()
        if not gone:  # the server's own: a shutdown past its grace (recorded as cancelled)
            raise GatewayError(503, "the gateway is shutting down; retry the call",
                               type="server_error", code="shutting_down",
                               headers={"retry-after": "1"}) from None
        return None
    finally:
        timer.cancel()
        if watcher is not None:
            watcher.cancel()
    if gone:  # it hung up just as the answer came: recorded, and nobody to send it to
        task.uncancel()
        return None
    return result


async def _hangup(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _pump(run: StreamedRun, send: Send, include_usage: bool) -> None:
    """SSE as OpenAI sends it. Failures before the first chunk are a normal error
    answer (status and all); after it, an ``error`` event and no ``[DONE]``, which
    OpenAI's SDKs raise as an error instead of taking the truncated text as whole."""
    call = run.call
    chunks = run.__aiter__()
    try:
        first = await anext(chunks, None)
    except CallFailed as exc:
        raise from_exception(exc) from None
    chat_id = f"chatcmpl-{call.id}"
    created = int(time.time())
    model = (first.model if first is not None else None) or call.spec.get("model") or ""
    release_id = call.release.id
    await send({"type": "http.response.start", "status": 200,
                "headers": SSE_HEADERS + call_headers(call.id, release_id=release_id,
                                                      route=call.route)})
    try:
        chunk = first
        while chunk is not None:
            model = chunk.model or model
            if chunk.usage is not None:
                if chunk.content is None and not chunk.tool_calls and not chunk.finish_reason \
                        and not chunk.role:
                    chunk = await anext(chunks, None)
                    continue  # usage goes out once, at the end, when asked for
                chunk.usage = None
            await send({"type": "http.response.body", "body": _event(
                chunk.to_openai(chat_id, model, created)), "more_body": True})
            chunk = await anext(chunks, None)
    except (CallFailed, RecordingUnavailable) as exc:  # no [DONE]: the client sees a failure
        error = from_exception(exc)
        await send({"type": "http.response.body", "body": _event(error.to_dict()),
                    "more_body": False})
        return
    finally:
        await chunks.aclose()  # a client that went away is recorded as cancelled
    tail = b""
    if include_usage and run.result is not None and run.result.usage is not None:
        tail = _event({"id": chat_id, "object": "chat.completion.chunk", "created": created,
                       "model": model, "choices": [], "usage": run.result.usage.to_openai()})
    await send({"type": "http.response.body", "body": tail + DONE, "more_body": False})


# --- passthrough targets ----------------------------------------------------------


def resolve_direct(model: str, project: Project) -> Direct:
    """``<provider>/<model>`` for a declared provider, else the default provider."""
    gateway = project.spec.gateway
    if not gateway.passthrough:
        raise GatewayError(404, f"model {model!r}: this gateway serves only trimtab/<system> "
                           "models (gateway.passthrough is false)", param="model",
                           code="model_not_found")
    declared = {*project.spec.providers, *BUILTIN_PROVIDERS}
    name, sep, rest = model.partition("/")
    if sep and name in declared and rest:
        provider, upstream_model = name, rest
    else:
        provider, upstream_model = default_provider(project), model
        if provider is None:
            raise GatewayError(
                404, f"model {model!r}: not a trimtab/<system> model and no provider to pass it "
                "to. Fix: call trimtab/<system>, name a provider as <provider>/<model> (declared: "
                f"{', '.join(sorted(declared))}), or set gateway.default_provider in "
                f"{project.path.name}", param="model", code="model_not_found")
    return Direct.of(project.provider(provider), upstream_model,
                     {"logging": gateway.logging})


def default_provider(project: Project) -> str | None:
    gateway = project.spec.gateway
    if gateway.default_provider is not None:
        if gateway.default_provider not in {*project.spec.providers, *BUILTIN_PROVIDERS}:
            raise GatewayError(500, f"{project.path.name}: gateway.default_provider "
                               f"{gateway.default_provider!r} is not declared under providers:",
                               type="server_error", code="gateway_misconfigured")
        return gateway.default_provider
    real = [n for n, p in project.spec.providers.items() if p.kind != "simulated"]
    return real[0] if len(real) == 1 else None


def model_list(project: Project, key: ApiKey | None) -> list[dict[str, Any]]:
    """``GET /v1/models``: the systems this key may call, then the declared passthrough models.

    A classic model (``kind: classic``) is recorded through ``/api/v1/records``, never
    called through chat completions, so listing it would invite a call that cannot work."""
    models = [{"id": f"{SYSTEM_PREFIX}{name}", "object": "model", "created": 0,
               "owned_by": "trimtab"}
              for name, system in project.spec.systems.items()
              if system.kind != "classic" and (key is None or key.allows(name))]
    if key is None or key.systems is None:
        for name in project.spec.gateway.models:
            provider = name.partition("/")[0] if "/" in name else default_provider(project)
            models.append({"id": name, "object": "model", "created": 0,
                           "owned_by": provider or PASSTHROUGH})
    return models


def unreleased(project: Project, stable: list[Any]) -> list[str]:
    """One line per chat system that has no active release in some environment:
    its calls there fail, and a gateway that starts silently leaves the operator to
    find out from the first 404 (``stable`` is ``ws.status()``)."""
    active = {(d.system, d.env) for d in stable}
    lines = []
    for name, system in project.spec.systems.items():
        if system.kind == "classic":
            continue
        missing = [env for env in project.environments if (name, env) not in active]
        if missing:
            lines.append(f"system {name!r} has no active release in {', '.join(missing)}: "
                         f"calls to {SYSTEM_PREFIX}{name} there fail until one is promoted "
                         f"(trimtab release {name}, then trimtab promote {name} RELEASE --env ENV)")
    return lines
