"""A bound on what the web app reads of a request body.

The JSON API's bodies are a few hundred bytes and the dashboard's forms smaller,
but FastAPI reads a whole body into memory before any dependency runs, the
credentials check included: without a bound, anyone who can reach the port makes
the server hold (and parse) whatever they send. The bound holds while the body
streams in, so a chunked body without a ``Content-Length`` stops there too; a
declared length past it is refused before a byte of the body is read. The
gateway's routes never come here (they have their own, larger, bound: model
requests carry images).
"""

from __future__ import annotations

from typing import Any

#: The most a request body to the web app may hold.
MAX_BODY = 1 << 20


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_body`` bytes, declared or sent."""

    def __init__(self, app: Any, max_body: int = MAX_BODY):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            return await self._refuse(send)
        seen = 0
        over = started = False

        async def bounded_receive() -> dict:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    # To the app, the client is gone: it stops reading, and what it
                    # answers is dropped for the 413 below.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if over and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except Exception:
            if not over or started:
                raise
        if over and not started:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = (f'{{"detail":"the request body is over {self.max_body:,} bytes, the most '
                'the web app reads. Fix: send a smaller body (the JSON API\'s bodies are '
                'small; records and labels go to the gateway\'s /api/v1/records and '
                '/api/v1/labels)."}').encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: dict) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses it
    return None
