"""docs/gateway.md lists every limit of the gateway, its runtime and its recorder, with
the default the code has and the setting that changes it.

Two directions: each documented default is the code's (a changed constant or field
default fails until the docs follow), and each limit in the code is documented (a new
``MAX_...`` constant or limit field fails until it is listed, or named below as not a
limit, with why).
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from pydantic import BaseModel

from trimtab.project.models import GatewaySpec, InputLimitSpec
from trimtab.runtime.config import LimitSpec, TimeoutSpec

DOC = Path(__file__).parents[2] / "docs" / "gateway.md"
MODULES = ("trimtab.gateway.app", "trimtab.gateway.bodies", "trimtab.gateway.chat",
           "trimtab.gateway.keyring", "trimtab.gateway.http_head", "trimtab.runtime.http1",
           "trimtab.runtime.http1_request",
           "trimtab.runtime._http", "trimtab.recorder.recorder", "trimtab.recorder.spool",
           "trimtab.sdk.calling")
LIMIT_NAME = re.compile(r"^(MAX_|MIN_)|_(BYTES|SECONDS|LIMIT|EXPIRY|TIMEOUT|AFTER)$|^HIGH_WATER$")

#: Settings in trimtab.yaml: the model holding the default, and the prefix the docs use.
SETTINGS: tuple[tuple[type[BaseModel], str, tuple[str, ...] | None], ...] = (
    (TimeoutSpec, "timeouts.", None),
    (LimitSpec, "limits.", None),
    (InputLimitSpec, "gateway.limits.", None),
    (GatewaySpec, "gateway.", ("shutdown_grace", "drain_timeout")),
)


def size(n: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n:,}"


def shown(name: str, value: float) -> str:
    """A default as the docs write it: sizes in KiB/MiB, seconds with `s`, counts with
    thousands separators."""
    if name.endswith("_bytes") or name == "max_string":
        return size(int(value))
    if isinstance(value, float):
        return f"{value:g} s"
    return f"{value:,}"


def fixed_limits() -> dict[str, tuple[str, str]]:
    """Each limit constant: the start of its row in the docs, and its default there."""
    from trimtab.gateway import app, bodies, chat, http_head, keyring
    from trimtab.recorder import recorder
    from trimtab.runtime import _http, http1
    from trimtab.sdk.calling import Caller

    def default(function, parameter: str) -> float:
        return inspect.signature(function).parameters[parameter].default

    return {
        "Gateway(key_ttl)": ("a key created or revoked elsewhere",
                             f"{default(app.Gateway, 'key_ttl'):g} s"),
        "Caller.aclose(timeout)": ("shadow calls still running at shutdown",
                                   f"{default(Caller.aclose, 'timeout'):g} s"),
        "trimtab.gateway.http_head.MAX_HEAD": ("a request's line and headers",
                                               size(http_head.MAX_HEAD)),
        "trimtab.gateway.http_head.HEAD_SECONDS": ("a request head's arrival",
                                                   f"{http_head.HEAD_SECONDS:g} s"),
        "trimtab.gateway.app.MAX_BODY": ("a request body", size(app.MAX_BODY)),
        "trimtab.gateway.app.BODY_SECONDS": ("a request body's arrival",
                                             f"{app.BODY_SECONDS:g} s"),
        "trimtab.gateway.app.MAX_DIRECT": ("passthrough model names remembered",
                                           f"{app.MAX_DIRECT:,}"),
        "trimtab.gateway.bodies.MAX_RECORDS": ("records in one",
                                               f"{bodies.MAX_RECORDS:,}"),
        "trimtab.gateway.bodies.MAX_TAG_KEY": ("a tag's key",
                                               f"{bodies.MAX_TAG_KEY} characters"),
        "trimtab.gateway.bodies.MAX_TAG_VALUE": ("a tag's value",
                                                 f"{bodies.MAX_TAG_VALUE} characters"),
        "trimtab.gateway.chat.MAX_USER": ("`model`, `user`", f"{chat.MAX_USER} characters"),
        "trimtab.gateway.keyring.MAX_REFUSED": ("unknown keys remembered",
                                                f"{keyring.MAX_REFUSED:,}"),
        "trimtab.runtime.http1.MAX_INTERIM": ("interim (1xx) answers",
                                              f"{http1.MAX_INTERIM}"),
        "trimtab.runtime.http1.MAX_HEADER_BYTES": ("an answer's head",
                                                   size(http1.MAX_HEADER_BYTES)),
        "trimtab.runtime.http1.MAX_HEADERS": ("header lines", f"{http1.MAX_HEADERS}"),
        "trimtab.runtime.http1.MAX_IDLE": ("idle connections kept", f"{http1.MAX_IDLE}"),
        "trimtab.runtime.http1.KEEPALIVE_EXPIRY": ("an idle provider connection",
                                                   f"{http1.KEEPALIVE_EXPIRY:g} s"),
        "trimtab.runtime.http1.HIGH_WATER": ("a stream's bytes the client has not read",
                                             size(http1.HIGH_WATER)),
        "trimtab.gateway.chat.HANGUP_WATCH_AFTER": (
            "a non-streamed call before the gateway watches", f"{chat.HANGUP_WATCH_AFTER:g} s"),
        "trimtab.runtime._http.MAX_ERROR_TEXT": ("a provider's error message",
                                                 f"{_http.MAX_ERROR_TEXT} characters"),
        "trimtab.recorder.recorder.MIN_FREE_BYTES": ("free space on the spool's disk",
                                                     size(recorder.MIN_FREE_BYTES)),
        "trimtab.recorder.recorder.DROP_LOG_SECONDS": (
            "log lines while records are dropped", f"{recorder.DROP_LOG_SECONDS:g} s apart"),
        "trimtab.recorder.recorder.DROP_REPORT_SECONDS": (
            "dropped records reported to the store", f"{recorder.DROP_REPORT_SECONDS:g} s apart"),
        "trimtab.recorder.recorder.SEGMENT_BYTES": ("a spool segment file",
                                                    size(recorder.SEGMENT_BYTES)),
        "trimtab.recorder.recorder.RESTART_LIMIT": ("crashes of the recorder's writer",
                                                    f"{recorder.RESTART_LIMIT} a minute"),
    }


#: Constants whose names look like limits but bound nobody's input or wait.
NOT_LIMITS = {
    "trimtab.recorder.spool.ORPHAN_SCAN_SECONDS": "how often a writer looks for orphans",
}


def documented() -> dict[str, tuple[str, str]]:
    """Rows of the Limits section's tables: first cell -> (default, setting)."""
    text = DOC.read_text()
    section = text[text.index("\n## Limits\n"):]
    section = section[:section.index("\n## ", 1)]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith(("| limit |", "|---")):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_every_limit_setting_is_documented_with_its_default():
    rows = documented()
    by_setting = {}
    for default, setting in rows.values():
        for name in re.findall(r"`([a-z_.]+)`", setting):
            by_setting[name] = default
    for model, prefix, only in SETTINGS:
        for field, info in model.model_fields.items():
            if only is not None and field not in only:
                continue
            key = prefix + field
            assert key in by_setting, f"docs/gateway.md, Limits: no row names `{key}`"
            assert by_setting[key] == shown(field, info.default), (
                f"docs/gateway.md, Limits: `{key}` says {by_setting[key]!r}; the code's "
                f"default is {shown(field, info.default)!r}")


def test_every_fixed_limit_is_documented_with_its_value():
    rows = documented()
    for name, (label, default) in fixed_limits().items():
        found = [cells for first, cells in rows.items() if first.startswith(label)]
        assert found, f"docs/gateway.md, Limits: no row starts with {label!r} ({name})"
        assert found[0][0] == default, (
            f"docs/gateway.md, Limits: {label!r} says {found[0][0]!r}; {name} is {default!r}")


def test_every_limit_constant_in_the_code_is_listed():
    listed = set(fixed_limits()) | set(NOT_LIMITS)
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if LIMIT_NAME.search(name) and isinstance(value, int | float):
                assert f"{module_name}.{name}" in listed, (
                    f"{module_name}.{name} = {value!r} looks like a limit: list it in "
                    "docs/gateway.md (Limits) and in fixed_limits() here, or in NOT_LIMITS "
                    "with why it is not one")
