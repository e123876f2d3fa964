"""An echo provider and a channel that appends alert events to a file.

Everything a plugin needs from trimtab comes from ``trimtab.runtime``'s public
names; the rest (how it is called) is the entry-point contract described in
``trimtab.plugins``.
"""

from __future__ import annotations

import json
from pathlib import Path

from trimtab.runtime import ChatChunk, ChatResponse, Usage


class EchoProvider:
    """Answers with the last user message, after ``options.prefix``."""

    kind = "echo"

    def __init__(self, name, spec, **_context):
        self.name = name
        self.spec = spec
        self.prefix = spec.options.get("prefix", "echo: ")

    def _answer(self, request) -> tuple[str, Usage]:
        text = self.prefix + request.last_user_text()
        return text, Usage(len(request.text().split()), len(text.split()))

    async def complete(self, request):
        text, usage = self._answer(request)
        return ChatResponse(content=text, model=request.model or "echo", provider=self.name,
                            usage=usage)

    async def stream(self, request):
        text, usage = self._answer(request)
        for i, word in enumerate(text.split(" ")):
            yield ChatChunk(content=word if i == 0 else " " + word,
                            role="assistant" if i == 0 else None)
        yield ChatChunk(finish_reason="stop", usage=usage)

    async def aclose(self):
        return None


def deliver(channel, url, document, sleep):
    """Append the event as one JSON line to the file the channel's URL names."""
    path = Path(url.removeprefix("file://"))
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(document) + "\n")
    return True, f"appended to {path.name}"
