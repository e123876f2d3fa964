"""Provider entries and keys for tests that call a mock upstream."""

from __future__ import annotations

from tests.helpers.mock_upstream import MockUpstream
from trimtab.runtime import make_provider

KEY = "sk-test-Zq8d7Fh2Kx9Lm3Nv5Pw6Rt1Yu4"  # shaped like a real key
PLAIN_KEY = "plainsecretvalue-4711-unshaped"  # shaped like nothing: scrubbed by value


def provider_entry(up: MockUpstream | None, name: str = "up", kind: str = "openai",
                   **extra) -> dict:
    """A release-snapshot provider entry pointing at a mock upstream.

    The read timeout is generous so a busy CI machine cannot turn a healthy answer into a
    timeout; a test that plans a hang passes a short one for the hang to be cut."""
    entry = {"name": name, "kind": kind, "api_key_env": "TEST_KEY",
             "timeouts": {"connect": 5.0, "read": 10.0},
             "retries": {"max_retries": 2, "backoff": 0.001, "max_backoff": 0.01}}
    if up is not None:
        entry["base_url"] = up.root_url if kind == "anthropic" else up.base_url
    for key, value in extra.items():
        entry[key] = {**entry[key], **value} if isinstance(entry.get(key), dict) else value
    return entry


def provider_for(up: MockUpstream, key: str = KEY, **extra):
    return make_provider(provider_entry(up, **extra), env={"TEST_KEY": key})
