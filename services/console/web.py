"""What every console page shares: the sign-in guard, CSRF on every POST, rendering, and
the security headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.errors import language_of
from services.console.auth import Principal
from services.console.context import Console

Handler = Callable[[Request, Console, Principal], Awaitable[Response]]

# No inline script or style anywhere (charts are SVG drawn by the server), so nothing
# injected into a page can run; forms post only here; no page may be framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every console response, and keeps pages out of caches."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if "/static/" not in scope["path"]:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


# A page's form: its few named fields, and up to this many values of a repeated one (a
# redrive's letters). Starlette's defaults (1,000 fields of 1 MB, files) are for uploads.
MAX_FORM_FIELDS = 510
MAX_FIELD_BYTES = 1024


async def read_form(
    request: Request, max_fields: int = MAX_FORM_FIELDS, max_field_bytes: int = MAX_FIELD_BYTES
) -> FormData:
    """The request's form, parsed with tight limits (more fields, a longer field, or any
    file: 400). Starlette keeps the first parse: a later `request.form()` returns it."""
    return await request.form(max_files=0, max_fields=max_fields, max_part_size=max_field_bytes)


def url(request: Request, path: str = "") -> str:
    """A console path under wherever the console is mounted."""
    return request.scope.get("root_path", "").rstrip("/") + "/" + path.lstrip("/")


def language(request: Request) -> str:
    chosen = request.query_params.get("lang")
    if chosen in ("en", "ja"):
        return chosen
    return language_of(request.headers.get("accept-language"))


def guarded(console: Console, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Only for a signed-in reader; every POST must carry the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        if _has_nul(request.path_params.values()) or _has_nul(request.query_params.values()):
            # PostgreSQL text cannot hold NUL, and no page's input ever has one.
            return Response("NUL in the request", 400, media_type="text/plain")
        principal = console.principal(request)
        if principal is None:
            if request.method != "GET":
                return Response("sign in first", 403, media_type="text/plain")
            return RedirectResponse(url(request, "sign-in"), 303)
        if request.method == "POST":
            form = await read_form(request)  # kept: the handler's request.form() gets it
            if _has_nul(v for _, v in form.multi_items()):
                return Response("NUL in the form", 400, media_type="text/plain")
            token = form.get("csrf")
            if not console.sessions.csrf_ok(principal, token if isinstance(token, str) else None):
                return Response("missing or wrong CSRF token", 403, media_type="text/plain")
        return await handler(request, console, principal)

    return endpoint


def _has_nul(values) -> bool:
    return any(isinstance(v, str) and "\x00" in v for v in values)


def render(
    console: Console,
    request: Request,
    principal: Principal | None,
    template: str,
    status: int = 200,
    **context: Any,
) -> Response:
    return console.templates.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "csrf": principal.csrf_token if principal else "",
            "url": lambda path="": url(request, path),
            "current": request.url.path,
            **context,
        },
        status_code=status,
    )


def not_found(console: Console, request: Request, principal: Principal) -> Response:
    """The same answer for what does not exist and what belongs to another distributor."""
    return render(console, request, principal, "not_found.html", 404)
