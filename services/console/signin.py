"""Sign-in with an API key or an operator key, and sign-out. The key travels only in a POST
body and is never logged, echoed or put in a URL."""

from __future__ import annotations

import hashlib
import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.console.auth import SESSION_COOKIE, SIGN_IN_COOKIE, SIGN_IN_MAX_AGE_S, Principal
from services.console.context import Console
from services.console.web import read_form, render, url

log = logging.getLogger(__name__)


def _cookie_flags(request: Request) -> dict:
    # Secure when the reader came over HTTPS (uvicorn honours X-Forwarded-Proto from a
    # trusted proxy); a plain-HTTP `porgate dev` on localhost could not sign in otherwise.
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": url(request, ""),
    }


def _form(
    console: Console, request: Request, error: str | None, status: int, **headers: str
) -> Response:
    cookie, token = console.sessions.new_sign_in_nonce()
    response = render(
        console, request, None, "sign_in.html", status, error=error, sign_in_token=token
    )
    response.headers.update(headers)
    response.set_cookie(SIGN_IN_COOKIE, cookie, max_age=SIGN_IN_MAX_AGE_S, **_cookie_flags(request))
    return response


async def sign_in_page(request: Request, console: Console) -> Response:
    if console.principal(request) is not None:
        return RedirectResponse(url(request, ""), 303)
    return _form(console, request, None, 200)


# The sign-in form has two fields; a key is a few dozen characters. Parsed with these
# limits before its token is checked, so an anonymous post costs a few KB at most.
SIGN_IN_FIELDS = 4
SIGN_IN_FIELD_BYTES = 4096


def _subjects(request: Request, key: str) -> list[object]:
    # As the API counts them (services/api/auth.py): the same limiter, the same subjects.
    subjects: list[object] = [("address", request.client.host if request.client else "")]
    if key.strip():
        subjects.append(("key", hashlib.sha256(key.strip().encode()).digest()))
    return subjects


async def sign_in(request: Request, console: Console) -> Response:
    if (wait := console.attempts.retry_after(_subjects(request, ""))) is not None:
        return _locked_out(console, request, wait)
    form = await read_form(request, SIGN_IN_FIELDS, SIGN_IN_FIELD_BYTES)
    token, key = form.get("sign_in_token"), form.get("key")
    if not console.sessions.sign_in_form_ok(
        request.cookies.get(SIGN_IN_COOKIE), token if isinstance(token, str) else None
    ):
        return Response("missing or wrong CSRF token", 403, media_type="text/plain")
    key = key if isinstance(key, str) else ""
    subjects = _subjects(request, key)
    if (wait := console.attempts.retry_after(subjects)) is not None:
        return _locked_out(console, request, wait)
    cookie = console.sessions.sign_in(key)
    if cookie is None:
        if key.strip():
            console.attempts.failed(subjects)
        log.info("console: sign-in refused")  # never the key, not even a part of it
        return _form(console, request, "That key is not valid.", 401)
    principal = console.sessions.principal(cookie)
    assert principal is not None
    log.info(
        "console: signed in",
        extra={"distributor_id": principal.distributor_id or "(operator)"},
    )
    response = RedirectResponse(url(request, ""), 303)
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=console.sessions.lifetime_s, **_cookie_flags(request)
    )
    response.delete_cookie(SIGN_IN_COOKIE, **_cookie_flags(request))
    return response


def _locked_out(console: Console, request: Request, wait: int) -> Response:
    log.warning("console: sign-in locked out after wrong keys", extra={"retry_after_s": wait})
    return _form(
        console,
        request,
        f"Too many wrong keys from here. Try again in {wait} second(s).",
        429,
        **{"Retry-After": str(wait)},
    )


async def sign_out(request: Request, console: Console, principal: Principal) -> Response:
    console.sessions.sign_out(principal)
    response = RedirectResponse(url(request, "sign-in"), 303)
    response.delete_cookie(SESSION_COOKIE, **_cookie_flags(request))
    return response
