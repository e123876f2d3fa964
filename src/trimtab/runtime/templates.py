"""Prompt templates: ``{{name}}`` placeholders, nothing more.

Deliberately not Jinja: prompts are data that non-programmers edit, a
template language inside them is a second program to review. A missing
variable is an error naming the variable and the prompt, never an empty
string silently sent to a model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from trimtab.errors import TrimtabError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")
#: Release prompt names that become chat messages, in this order.
ROLE_PROMPTS = ("system", "user")


class TemplateError(TrimtabError):
    """A template needs a variable the caller did not pass."""

    def __init__(self, missing: list[str], name: str, given: list[str]):
        self.missing = missing
        names = ", ".join(repr(m) for m in missing)
        plural = "s" if len(missing) > 1 else ""
        super().__init__(
            f"prompt {name}: missing variable{plural} {names}. Passed: "
            f"{', '.join(sorted(given)) or 'none'}. Fix: pass "
            + ", ".join(f"{m}=..." for m in missing)
            + " or remove the placeholder from the prompt."
        )


def variables(template: str) -> list[str]:
    """The placeholder names in order of first use."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(template):
        seen.setdefault(match.group(1), None)
    return list(seen)


def render(template: str, values: Mapping[str, Any], *, name: str = "template") -> str:
    """Fill every placeholder; extra values are fine, missing ones raise TemplateError."""
    missing = [v for v in variables(template) if v not in values]
    if missing:
        raise TemplateError(missing, name, list(values))
    return PLACEHOLDER.sub(lambda m: _text(values[m.group(1)]), template)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def prompt_messages(prompts: Mapping[str, Any], values: Mapping[str, Any]) -> list[dict[str, str]]:
    """Chat messages from a release's ``prompts`` (``system`` then ``user``).

    ``prompts`` is the release spec's mapping ``name → {path, content}``
    (plain strings are accepted too); other prompt names are left to the caller.
    """
    messages = []
    for role in ROLE_PROMPTS:
        if role not in prompts:
            continue
        entry = prompts[role]
        content = entry["content"] if isinstance(entry, Mapping) else entry
        label = f"{role!r} ({entry['path']})" if isinstance(entry, Mapping) else repr(role)
        messages.append({"role": role, "content": render(content, values, name=label)})
    return messages
