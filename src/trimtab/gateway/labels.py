"""``POST /api/v1/labels``: true labels for recorded predictions, from any language.

The truth about a prediction usually arrives in another system (a payments
service learns of the chargeback, a CRM of the renewal): it posts the labels
here, by call id or by a tag the call was recorded with, and they are stored
as ``ws.label`` stores them. A gateway key labels only calls of the systems
and environments it may call; the whole batch is checked before any label
is kept, and a 400 lists every problem with its index.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from trimtab.gateway.bodies import check_limits, describe
from trimtab.gateway.errors import GatewayError, bad_request
from trimtab.quality import labels as quality_labels

if TYPE_CHECKING:
    from trimtab.gateway.app import Gateway
    from trimtab.store.keys import ApiKey

MAX_LABELS = 5000

_Text = Annotated[str, Field(min_length=1, max_length=200)]


class LabelItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: _Text  # a call id, or with "key" the tag's value
    label: StrictBool | StrictInt | StrictFloat | Annotated[StrictStr, Field(max_length=200)]


class LabelsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: _Text | None = None
    key: _Text | None = None
    labels: Annotated[list[LabelItem], Field(min_length=1, max_length=MAX_LABELS)]
    output_field: _Text | None = None
    skip_unknown: bool = False


async def label_all(gw: Gateway, key: ApiKey | None, body: Any) -> dict[str, Any]:
    project = gw.project()
    check_limits(body, project.spec.gateway.limits)
    if not isinstance(body, dict):
        raise bad_request('the body must be a JSON object: {"labels": [{"ref": CALL_ID, '
                          '"label": VALUE}, ...]}')
    try:
        parsed = LabelsBody.model_validate(body)
    except ValidationError as exc:
        raise describe(exc.errors()) from None
    if parsed.system is not None and parsed.system not in project.spec.systems:
        raise GatewayError(404, f"system: no system {parsed.system!r} in {project.path.name}",
                           param="system", code="unknown_system")
    if parsed.system is not None and key is not None and not key.allows(parsed.system):
        # At once: checking the rows first would answer, row by row, what calls and tag
        # values another system's log holds.
        raise _not_allowed(parsed.system)
    rows = [quality_labels.LabelRow(item.ref, item.label, f"labels[{i}]")
            for i, item in enumerate(parsed.labels)]
    actor = f"key:{key.name}" if key is not None else "gateway"

    def actor_for(system: str, envs: set[str]) -> str:
        if key is not None and not key.allows(system):
            raise _not_allowed(system)
        for env in sorted(envs):
            if key is not None and not key.allows_env(env):
                raise GatewayError(403, f"this API key may not label calls in environment "
                                   f"{env!r}", type="permission_error", param="labels",
                                   code="env_not_allowed")
        return actor

    try:
        done = await asyncio.to_thread(
            quality_labels.apply, gw.ws.store, rows, actor_for=actor_for,
            source="POST /api/v1/labels", system=parsed.system, key=parsed.key,
            output_field=parsed.output_field, skip_unknown=parsed.skip_unknown)
    except quality_labels.LabelError as exc:
        raise GatewayError(400, str(exc)[:4000], param="labels", code="invalid_labels") \
            from None
    return done.to_dict()


def _not_allowed(system: str) -> GatewayError:
    return GatewayError(403, f"this API key may not label calls of {system!r}. Fix: use a "
                        f"key created with --system {system}, or one without a system list",
                        type="permission_error", param="labels", code="system_not_allowed")
