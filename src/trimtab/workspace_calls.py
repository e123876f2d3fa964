"""The call log side of a workspace: record calls, list them, metrics, retention.

A part of ``Workspace`` (see workspace.py), kept in its own module so each
stays readable in one sitting. It holds no state of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from trimtab.actor import current_actor
from trimtab.errors import TrimtabError
from trimtab.jsontext import canonical_json
from trimtab.observe.metrics import MetricRow
from trimtab.observe.metrics import compute as compute_metrics
from trimtab.recorder.records import CallRecord
from trimtab.store import calls as call_store
from trimtab.store.calls import Call

if TYPE_CHECKING:
    from trimtab.observe.retention import Pruned
    from trimtab.project.models import Project

# What record() accepts beyond its named arguments: usage, cost, timing.
RECORD_FIELDS = {
    "provider", "http_status", "ttft_ms", "input_tokens", "output_tokens",
    "cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "cost_micro_usd",
    "price_version", "error_kind", "id", "time", "api_key_id",
}


class CallLog:
    # --- calls ----------------------------------------------------------------

    def record(
        self,
        system: str,
        inputs: Any,
        output: Any,
        latency_ms: float,
        *,
        env: str | None = None,
        status: str = "ok",
        error: str | None = None,
        model: str | None = None,
        user: str | None = None,
        tags: dict[str, str] | None = None,
        **fields: Any,
    ) -> str:
        """Record a call or prediction made elsewhere (a scikit-learn model, an
        endpoint trimtab does not proxy). Returns the call id; never blocks on
        the database."""
        project = self.recent_project()
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
        try:
            release = self.active.get(system, env)
        except Exception:  # noqa: BLE001 - the store is down and this route is unknown:
            release = None  # still record; the call matters more than its release tag
        privacy, errors = self._record_privacy(project, system)
        record = CallRecord(
            system=system, env=env, latency_ms=float(latency_ms), status=status,
            error=errors.text(error), release_id=release.id if release else None,
            source="record", model=model, user_id=user, tags=tags,
            logging_mode=privacy.mode, request=_storable(privacy, inputs),
            response=_storable(privacy, output), **fields,
        )
        return self.emit(record)

    def _record_privacy(self, project: Project | None, system: str) -> tuple[Any, Any]:
        """The system's declared privacy, applied before anything is spooled (a
        system the project file does not declare gets the safe default), and the
        redactor for its error texts; worked out once per version of the file."""
        cached = self._privacy.get(system)
        if cached is not None and cached[0] is project:
            return cached[1], cached[2]
        from trimtab.runtime.redaction import Redactor  # trimtab.runtime loads httpx

        declared = project.spec.systems.get(system) if project else None
        privacy = Redactor.from_spec(declared.privacy() if declared else None)
        errors = privacy if privacy.mode in ("full", "redacted") else \
            Redactor("redacted", privacy.rules)  # an error message stays readable, masked
        if len(self._privacy) >= 1_000:  # record() takes any system name: stay bounded
            self._privacy.clear()
        self._privacy[system] = (project, privacy, errors)
        return privacy, errors

    def calls(
        self,
        *,
        system: str | None = None,
        env: str | None = None,
        since: datetime | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[Call]:
        with self.store.read() as conn:
            return call_store.query(
                conn, system=system, env=env, since=since, status=status, limit=limit
            )

    def metrics(
        self,
        *,
        window: timedelta = timedelta(hours=24),
        by: tuple[str, ...] | list[str] = (),
        system: str | None = None,
        env: str | None = None,
        tag: str | None = None,
        end: datetime | None = None,
    ) -> list[MetricRow]:
        """Calls, errors, p50/p95/p99, tokens and cost over a window, grouped."""
        return compute_metrics(self.store, window=window, by=tuple(by), system=system, env=env,
                               tag=tag, end=end)

    def call(self, ref: str) -> Call:
        with self.store.read() as conn:
            return call_store.get(conn, ref)

    def prune(
        self,
        older_than: timedelta | None = None,
        *,
        system: str | None = None,
        dry_run: bool = False,
    ) -> list[Pruned]:
        """Delete calls older than each system's ``retention_days``; ``older_than``
        reaches only systems that declare none. Audited per system; rollups stay."""
        from trimtab.observe import retention

        declared = self.project.spec.systems if self.project_file else {}
        return retention.prune(self.store, declared, actor=current_actor(),
                               older_than=older_than, system=system, dry_run=dry_run)


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
