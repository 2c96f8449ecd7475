"""Partner Center's request conventions on every response: MS-CorrelationId, MS-RequestId and
X-Locale echoed (the ids generated when the caller sent none), and logged with the request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.errors import error
from services.common import tracing
from services.common.logs import request_ids

log = logging.getLogger("porgate.api.access")

CORRELATION_ID, REQUEST_ID, LOCALE = "MS-CorrelationId", "MS-RequestId", "X-Locale"
DEFAULT_LOCALE = "en-US"
# Microsoft sends GUIDs; anything token-like is echoed, anything else (too long, spaces,
# control characters) is replaced, so a caller cannot write arbitrary text into our logs.
_ECHOABLE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def _echoable(value: str | None) -> str | None:
    return value if value is not None and _ECHOABLE.fullmatch(value) else None


def locale_of(headers) -> str | None:
    """X-Locale (Partner Center's) when sent, else the first Accept-Language tag, else None."""
    for name in ("x-locale", "accept-language"):
        value = (headers.get(name) or "").split(",")[0].split(";")[0].strip()
        if value:
            return value
    return None


class PartnerCenterConventions:
    """ASGI middleware: outermost, so 404, 405, health and even a crash carry the ids."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        ids = {
            "correlation_id": _echoable(headers.get("ms-correlationid")) or str(uuid.uuid4()),
            "request_id": _echoable(headers.get("ms-requestid")) or str(uuid.uuid4()),
        }
        locale = _echoable(locale_of(headers)) or DEFAULT_LOCALE
        # Each request is served in its own task, so this never leaks into another request.
        request_ids.set(ids)
        echoed = [
            (CORRELATION_ID.encode(), ids["correlation_id"].encode()),
            (REQUEST_ID.encode(), ids["request_id"].encode()),
            (LOCALE.encode(), locale.encode()),
        ]
        status = 0
        started = time.perf_counter()
        method = scope["method"]
        with tracing.http_server(method, scope["path"], headers) as span:
            if span is not None:
                span.set_attribute("porgate.correlation_id", ids["correlation_id"])
                span.set_attribute("porgate.request_id", ids["request_id"])

            async def send_with_ids(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    tracing.http_server_status(span, status)
                    message = {**message, "headers": [*message.get("headers", []), *echoed]}
                await send(message)

            try:
                await self.app(scope, receive, send_with_ids)
            except Exception:
                log.exception("unhandled API error")
                if status:
                    raise  # the response has begun: nothing to do but drop the connection
                await error(500, "internal", "internal error")(scope, receive, send_with_ids)
            # Starlette's router leaves the route it matched in the scope.
            route = getattr(scope.get("route"), "path", None)
            if route:
                tracing.http_route(span, method, route)
            self._log(ids, scope, status, started)

    @staticmethod
    def _log(ids: dict[str, str], scope: Scope, status: int, started: float) -> None:
        # Errors (not 429, which comes in floods by nature) at INFO; the rest at DEBUG, as
        # the API answers many small requests (benchmarks/README.md).
        level = logging.INFO if status >= 400 and status != 429 else logging.DEBUG
        log.log(
            level,
            "api request",
            extra={
                **ids,
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "seconds": round(time.perf_counter() - started, 6),
            },
        )
