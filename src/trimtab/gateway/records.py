"""``POST /api/v1/records``: ``Workspace.record`` for applications not written in Python.

A Java service calling a SageMaker endpoint, a Node app with its own
OpenAI client: they post what they did and it lands in the same call log,
rollups and alerts as a call through the SDK. Every record in a request is
checked before any is kept, so a client retrying a rejected batch never
duplicates the good half; a client that sets ``id`` can also retry a
batch that timed out, since ids already stored are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trimtab.gateway.bodies import check_limits, check_records
from trimtab.gateway.chat import check_env_allowed, requester_of
from trimtab.gateway.errors import GatewayError, bad_request

if TYPE_CHECKING:
    from trimtab.gateway.app import Gateway, Request
    from trimtab.store.keys import ApiKey


def record_all(gw: Gateway, request: Request, key: ApiKey | None, body: Any) -> list[str]:
    project = gw.project()
    check_limits(body, project.spec.gateway.limits, request.raw)
    records = check_records(body)
    who = requester_of(request, key, project)
    many = isinstance(body, list)
    # X-Trimtab-Tags and a record's `tags` are each bounded by max_items; so are the names
    # they add together, or sending both would double it. The key's own tags (in who.tags
    # too, since they win) are the operator's and come on top.
    max_items = project.spec.gateway.limits.max_items
    header = who.tags or {}
    fixed = key.tags if key is not None else {}
    from_header = sum(1 for name in header if name not in fixed)
    for i, record in enumerate(records):
        where = f"[{i}]." if many else ""
        if record.system not in project.spec.systems:
            raise GatewayError(404, f"{where}system: no system {record.system!r} in "
                               f"{project.path.name}. Fix: declare it (a classic model too) "
                               "and run `trimtab sync`", param=f"{where}system",
                               code="unknown_system")
        if key is not None and not key.allows(record.system):
            raise GatewayError(403, f"this API key may not record calls of {record.system!r}",
                               type="permission_error", param=f"{where}system",
                               code="system_not_allowed")
        if record.env is not None and record.env not in project.spec.environments:
            raise bad_request(f"{where}env: unknown environment {record.env!r}; this project "
                              f"has {', '.join(project.environments)}", f"{where}env",
                              "unknown_environment")
        if record.env is not None:
            check_env_allowed(key, record.env, f"{where}env")
        added = from_header + sum(1 for name in record.tags or {} if name not in header)
        if added > max_items:
            raise GatewayError(400, f"{where}tags: {added} tags with those of X-Trimtab-Tags; "
                               f"at most {max_items} (gateway.limits.max_items)",
                               param=f"{where}tags", code="array_above_max_length")
    ids = []
    for record in records:
        tags = {**(who.tags or {}), **(record.tags or {})}
        if key is not None:
            tags.update(key.tags)
        ids.append(gw.ws.record(
            record.system, record.inputs, record.output, record.latency_ms,
            env=record.env or who.env, status=record.status, error=record.error,
            model=record.model, user=record.user or who.user, tags=tags or None,
            api_key_id=key.id if key is not None else None, **record.fields()))
    return ids
