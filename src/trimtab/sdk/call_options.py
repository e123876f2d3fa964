"""What a call is asked to do: its options, the target when no release is involved
(``Direct``, the gateway's passthrough), and the chat built from a release's prompts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trimtab.errors import TrimtabError
from trimtab.runtime import prompt_messages, render

JSON_FORMATS = {"json", "json_object", "json_schema"}


#: The system name direct calls (the gateway's passthrough) are recorded under.
PASSTHROUGH = "passthrough"
#: Where an eval calls a release: no environment, nobody is answered, so the
#: project's ``allow_simulated`` (which guards what users are served) does not apply.
EVAL_ENV = "eval"


@dataclass(frozen=True)
class Direct:
    """A provider's model called as it is, with no release: the gateway's passthrough.

    Shaped like a release (``id``, ``spec``) so a direct call is built,
    retried and recorded by the same code as a system's; ``id`` is None
    because no release was involved, and ``key`` names its router.
    """

    spec: dict[str, Any]
    key: str  # the provider's entry: one provider (one connection pool) per entry and loop
    id: None = None

    @classmethod
    def of(cls, provider: Mapping[str, Any], model: str,
           privacy: Mapping[str, Any] | None = None) -> Direct:
        spec = {"system": PASSTHROUGH, "provider": dict(provider), "model": model,
                "privacy": dict(privacy or {})}
        return cls(spec, json.dumps(spec["provider"], sort_keys=True))


@dataclass(frozen=True, slots=True)
class CallOptions:
    """What a caller asks of one call besides whom it calls: the same for the
    call and its shadow. ``source`` and ``api_key_id`` say where it came from."""

    variables: Mapping[str, Any] | None = None
    messages: list[dict[str, Any]] | None = None
    params: Mapping[str, Any] | None = None
    user: str | None = None
    tags: Mapping[str, str] | None = None
    source: str = "sdk"
    api_key_id: str | None = None


def wants_json(spec: Mapping[str, Any], params: Mapping[str, Any] | None) -> bool:
    fmt = (params or {}).get("response_format", (spec.get("params") or {}).get("response_format"))
    if isinstance(fmt, Mapping):
        fmt = fmt.get("type")
    return fmt in JSON_FORMATS


def build_messages(spec: Mapping[str, Any], variables: Mapping[str, Any] | None,
                   messages: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The chat for this call.

    With only variables, the release's prompts are the whole chat. With the
    caller's own messages (the gateway), the release contributes its system
    prompt unless the caller brought one, so the governed prompt still applies
    to clients that only send the user turn.
    """
    prompts = spec.get("prompts") or {}
    if messages is None:
        built = prompt_messages(prompts, variables or {})
        if not any(m["role"] == "user" for m in built):
            raise TrimtabError(
                f"the release of {spec.get('system')!r} has no `user` prompt, so it needs "
                "messages. Fix: pass messages=[...] or add prompts.user to the release."
            )
        return built
    if "system" in prompts and not any(m.get("role") == "system" for m in messages):
        entry = prompts["system"]
        content = entry["content"] if isinstance(entry, Mapping) else entry
        label = f"'system' ({entry['path']})" if isinstance(entry, Mapping) else "'system'"
        return [{"role": "system", "content": render(content, variables or {}, name=label)},
                *messages]
    return list(messages)
