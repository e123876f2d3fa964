"""``ws.record()``: a call or prediction made elsewhere, made into a call record.

A scikit-learn model or an endpoint trimtab does not proxy is recorded like a
call through the SDK: checked, tagged with the release active for its route,
and stored only as the system's declared privacy allows. Nothing here blocks
on the database; the workspace spools what ``call_record`` builds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from trimtab.errors import TrimtabError
from trimtab.jsontext import canonical_json
from trimtab.recorder.records import CallRecord

if TYPE_CHECKING:
    from trimtab.project.models import Project
    from trimtab.store.releases import Release

# What record() accepts beyond its named arguments: usage, cost, timing.
RECORD_FIELDS = {
    "provider", "http_status", "ttft_ms", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "cost_micro_usd",
    "price_version", "error_kind", "id", "time", "api_key_id",
    "response_id", "finish_reasons", "params",
}


class RecordPrivacy:
    """Each system's declared privacy, applied before anything is spooled (a
    system the project file does not declare gets the safe default), and the
    redactor for its error texts; worked out once per version of the file."""

    def __init__(self) -> None:
        # system -> (the Project it was worked out from, privacy, error redactor)
        self._known: dict[str, tuple[Project | None, Any, Any]] = {}

    def of(self, project: Project | None, system: str) -> tuple[Any, Any]:
        cached = self._known.get(system)
        if cached is not None and cached[0] is project:
            return cached[1], cached[2]
        from trimtab.runtime.redaction import Redactor  # trimtab.runtime loads httpx

        declared = project.spec.systems.get(system) if project else None
        privacy = Redactor.from_spec(declared.privacy() if declared else None)
        errors = privacy if privacy.mode in ("full", "redacted") else \
            Redactor("redacted", privacy.rules)  # an error message stays readable, masked
        if len(self._known) >= 1_000:  # record() takes any system name: stay bounded
            self._known.clear()
        self._known[system] = (project, privacy, errors)
        return privacy, errors


def call_record(
    project: Project | None,
    release_of: Callable[[str, str], Release | None],
    privacy: RecordPrivacy,
    system: str,
    inputs: Any,
    output: Any,
    latency_ms: float,
    *,
    env: str | None,
    status: str,
    error: str | None,
    model: str | None,
    user: str | None,
    tags: dict[str, str] | None,
    fields: dict[str, Any],
) -> CallRecord:
    """The record of one call made elsewhere (see ``Workspace.record``), checked;
    ``release_of(system, env)`` names the release active for its route."""
    if env is None:
        env = project.production if project else "production"
    unknown = set(fields) - RECORD_FIELDS
    if unknown:
        raise TrimtabError(
            f"record(): unknown field(s) {', '.join(sorted(unknown))}. "
            f"Allowed: {', '.join(sorted(RECORD_FIELDS))}."
        )
    try:
        latency_ms = float(latency_ms)
    except (TypeError, ValueError):
        latency_ms = float("nan")
    if not math.isfinite(latency_ms) or latency_ms < 0:
        raise TrimtabError(f"record(): latency_ms must be a finite number ≥ 0 (milliseconds), "
                           f"not {latency_ms!r}.")
    if status not in ("ok", "error"):
        raise TrimtabError(f"record(): status must be 'ok' or 'error', not {status!r}.")
    _check_answer(fields)
    try:
        release = release_of(system, env)
    except Exception:  # noqa: BLE001 - the store is down and this route is unknown:
        release = None  # still record; the call matters more than its release tag
    kept, errors = privacy.of(project, system)
    return CallRecord(
        system=system, env=env, latency_ms=float(latency_ms), status=status,
        error=errors.text(error), release_id=release.id if release else None,
        source="record", model=model, user_id=user, tags=tags,
        logging_mode=kept.mode, request=_storable(kept, inputs),
        response=_storable(kept, output), **fields,
    )


def _check_answer(fields: dict[str, Any]) -> None:
    """The provider's answer fields a caller may pass on (the SDK and the gateway keep
    them for their own calls): refused here when of the wrong kind, rather than
    silently stored as nothing; their length is bounded where every record is
    (recorder/call_fields.py)."""
    answer_id, reasons, params = (fields.get(k) for k in ("response_id", "finish_reasons",
                                                          "params"))
    if answer_id is not None and (not isinstance(answer_id, str) or not answer_id):
        raise TrimtabError(f"record(): response_id must be the provider's answer id, a "
                           f"non-empty string, not {answer_id!r}.")
    if reasons is not None and (not isinstance(reasons, list)
                                or not all(isinstance(r, str) for r in reasons)):
        raise TrimtabError(f"record(): finish_reasons must be a list of strings, one per "
                           f"choice (e.g. ['stop']), not {reasons!r}.")
    if params is not None and (not isinstance(params, dict)
                               or not all(isinstance(k, str) for k in params)):
        raise TrimtabError(f"record(): params must be a dict of the sampling parameters "
                           f"sent (e.g. {{'temperature': 0}}), not {params!r}.")


def _storable(privacy: Any, value: Any) -> Any:
    """What of a recorded input or output may be stored, under a ``Redactor``.

    ``hashed`` keeps one hash of the whole value (equal inputs still compare,
    no part is readable); ``metadata`` keeps nothing; ``full`` and ``redacted``
    keep the structure and transform every string, dict keys included.
    """
    if value is None or privacy.mode == "metadata":
        return None
    if privacy.mode == "hashed":
        return privacy.text(value if isinstance(value, str) else
                            canonical_json(_json_like(value, str)))
    return _json_like(value, privacy.text)


def _json_like(value: Any, text: Callable[[str], Any]) -> Any:
    """A JSON-ready copy of ``value`` with ``text`` applied to every string. Long
    integers go through it too (a card number passed as a number), and objects
    JSON cannot hold (numpy, dates) as the text the spool would write for them."""
    if type(value) is dict:  # the usual inputs and outputs: keys and values are text
        return {text(k if type(k) is str else str(k)):
                text(v) if type(v) is str else _json_like(v, text) for k, v in value.items()}
    if isinstance(value, str):
        return text(value)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        masked = text(str(value)) if abs(value) >= 10**12 else None
        return value if masked is None or masked == str(value) else masked
    if isinstance(value, Mapping):
        return {text(str(k)): _json_like(v, text) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_like(v, text) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas series
        return _json_like(value.tolist(), text)
    return text(str(value))
