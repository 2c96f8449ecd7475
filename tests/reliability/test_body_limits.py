"""Memory before sign-in: no POST of the API or the console reads more of a body than its
cap, and the sign-in form is parsed with tight limits before its token is checked.

In process, over httpx's ASGI transport: it hands the app one chunk per `receive`, so the
test counts exactly how much of a body the app pulled. No server is needed: every refusal
here happens before a database or broker is touched.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from starlette.routing import Mount, Route

from services.api.app import MAX_BODY, create_app
from services.console.app import MAX_FORM_BODY
from services.settings import Settings

KEY = "k-limits-eu-6c1f0b9a2d4e7f38"
OPERATOR = "op-limits-2a4c6e8f0b1d3f5a"
CHUNK = 16 * 1024
HUGE = 16 * 1024 * 1024  # stands for the review's 300 MB: the cap must stop long before either


class Stream:
    """A body of `total` bytes in CHUNK pieces that counts what the app pulled."""

    def __init__(self, total: int, piece: bytes = b"a") -> None:
        self.total, self.piece, self.pulled = total, piece, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = (self.piece * CHUNK)[:CHUNK]
        while self.pulled < self.total:
            self.pulled += len(chunk)
            yield chunk


def settings() -> Settings:
    return Settings(
        api_keys=SecretStr(f"{KEY}=dist-eu-1"),
        operator_keys=SecretStr(OPERATOR),
        console_secret=SecretStr("s" * 40),
        api_rate_per_key=0,
    )


@pytest.fixture
async def client():
    app = create_app(settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


async def sign_in(client: httpx.AsyncClient, key: str = OPERATOR) -> str:
    page = await client.get("/console/sign-in")
    token = re.search(r'name="sign_in_token" value="([^"]+)"', page.text).group(1)
    r = await client.post("/console/sign-in", data={"sign_in_token": token, "key": key})
    assert r.status_code == 303, r.text
    overview_csrf = client.cookies  # the session cookie is kept by the client
    assert overview_csrf
    return token


def post_routes(app) -> list[str]:
    """Every POST path of the API and the mounted console, path parameters filled in."""
    out = []
    for route in app.routes:
        if isinstance(route, Mount) and route.path == "/console":
            out += [
                "/console" + r.path
                for r in route.routes
                if isinstance(r, Route) and "POST" in (r.methods or ())
            ]
        elif isinstance(route, Route) and "POST" in (route.methods or ()):
            out.append(route.path)
    return out


async def test_validateresellers_stops_reading_a_huge_body_at_its_cap(client):
    for headers in ({}, {"Content-Length": str(HUGE)}):
        body = Stream(HUGE)
        r = await client.post(
            "/v1/partners/validateresellers",
            content=body,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
            | headers,
        )
        assert r.status_code == 413, r.text
        assert r.json()["code"] == "payload_too_large"
        assert body.pulled <= MAX_BODY + CHUNK, (headers, body.pulled)


async def test_the_sign_in_form_is_refused_past_its_cap_before_its_token_is_checked(client):
    # 300 fields of a megabyte each took the process from 70 to 352 MB.
    body = Stream(HUGE, b"f=" + b"x" * 1000 + b"&")
    r = await client.post(
        "/console/sign-in",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    # Too many fields (400) or too many bytes (413), whichever the stream reaches first.
    assert r.status_code in (400, 413), r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert body.pulled <= MAX_FORM_BODY + CHUNK
    one_field = Stream(HUGE, b"x")
    r = await client.post(
        "/console/sign-in",
        content=one_field,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code in (400, 413), r.text
    assert one_field.pulled <= MAX_FORM_BODY + CHUNK


@pytest.mark.parametrize(
    "form",
    [
        {f"f{i}": "x" for i in range(200)},  # many small fields, within the byte cap
        {"key": "k" * 12_000, "sign_in_token": "t"},  # one field far over any key
    ],
    ids=["many-fields", "one-huge-field"],
)
async def test_the_sign_in_form_parses_only_a_few_small_fields(client, form):
    r = await client.post("/console/sign-in", data=form)
    assert r.status_code == 400, r.text
    assert "Traceback" not in r.text


async def test_every_post_route_stops_reading_at_its_cap_signed_in_or_not(client):
    routes = post_routes(client.app)
    assert "/v1/partners/validateresellers" in routes and "/console/sign-in" in routes
    assert len(routes) >= 5, routes
    await sign_in(client)
    for path in routes:
        for headers in ({}, {"Content-Length": str(HUGE)}):
            body = Stream(HUGE, b"letter=0%3A1&")
            # validateresellers reads its body after the key; another API route (no server
            # behind this app) is tried without one: refused before any byte is read.
            key = {"Authorization": f"Bearer {KEY}"} if path.endswith("validateresellers") else {}
            r = await client.post(
                path.replace("{partnerId}", "1234567"),
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"} | key | headers,
            )
            assert r.status_code in (400, 401, 403, 413), (path, r.status_code, r.text)
            assert body.pulled <= max(MAX_BODY, MAX_FORM_BODY) + CHUNK, (path, body.pulled)
