"""A request body's size, capped while it streams in, before anything buffers it.

Starlette's `request.body()` reads the whole body before a handler can check its length,
and `request.form()` accepts a thousand fields of a megabyte each: a body's size must be
refused where the bytes arrive. The app sees an HTTPException 413 from `receive`, so each
app answers it in its own error shape (its exception handler for 413).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"body over {limit} bytes")
        self.limit = limit


class BodyLimit:
    """ASGI middleware: at most `max_bytes` of any request body reach the app.

    A declared Content-Length over the cap fails at the first read, without reading a byte
    of the body; a chunked body fails as soon as what arrived passes the cap. A handler
    that never reads the body is not stopped (the server drains or drops it)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = _content_length(scope)
        received = 0

        async def capped() -> Message:
            nonlocal received
            if declared is not None and declared > limit:
                raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, capped, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed one before we get here
    return None
