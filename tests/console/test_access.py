"""The console's access rules, tried with crafted requests: a distributor's key reaches its
own data only, every post needs the session's CSRF token, the cookie and the headers are
as strict as promised, and no key reaches a URL or the logs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

import asyncpg
import httpx

from tests.console.conftest import (
    BLOCKED_ORDER,
    JA_LETTER_ORDER,
    JA_ORDER,
    KEY_EU,
    KEY_JA,
    OPERATOR_KEY,
)
from tests.e2e import registry_data as R


@contextlib.asynccontextmanager
async def signed_in(url: str, key: str):
    """A client with a session for `key`, and its CSRF token."""
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        yield client, await _sign_in(client, key)


async def _sign_in(client: httpx.AsyncClient, key: str) -> str:
    page = await client.get("/console/sign-in")
    token = re.search(r'name="sign_in_token" value="([^"]+)"', page.text).group(1)
    r = await client.post("/console/sign-in", data={"sign_in_token": token, "key": key})
    assert r.status_code == 303, r.text
    assert key not in r.headers["location"]
    overview = await client.get("/console/")
    assert overview.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', overview.text).group(1)


async def fetch(settings, sql: str, *args):
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def test_a_distributor_cannot_see_or_act_on_another_distributors_data(world, caplog):
    caplog.set_level(logging.DEBUG)
    settings, url = world["settings"], world["url"]
    ja_decision = await fetch(
        settings, "SELECT decision_id FROM por_validator.decisions WHERE order_id = $1", JA_ORDER
    )
    async with signed_in(url, KEY_EU) as (client, csrf):
        # The page of another distributor's transaction: the same 404 as one that does not exist.
        theirs = await client.get(f"/console/transactions/{ja_decision}")
        missing = await client.get("/console/transactions/no-such-decision")
        assert theirs.status_code == missing.status_code == 404
        assert JA_ORDER not in theirs.text

        # Their dead letter: not listed, not shown, not redriven.
        listing = (await client.get("/console/dead-letters")).text
        offsets = re.findall(r'name="letter" value="(\d+:\d+)"', listing)
        assert len(offsets) == 1 and R.DIST_JA not in listing
        async with signed_in(url, OPERATOR_KEY) as (operator, _):
            every = re.findall(
                r'name="letter" value="(\d+:\d+)"',
                (await operator.get("/console/dead-letters")).text,
            )
        (ja_letter,) = set(every) - set(offsets)
        partition, offset = ja_letter.split(":")
        assert (await client.get(f"/console/dead-letters/{partition}/{offset}")).status_code == 404
        r = await client.post(
            "/console/dead-letters/redrive",
            data={"csrf": csrf, "letter": ja_letter, "mode": "redrive"},
        )
        assert r.status_code == 404
        await asyncio.sleep(3)  # a redriven order would be decided by now
        assert not await fetch(
            settings,
            "SELECT count(*) FROM por_validator.decisions WHERE order_id = $1",
            JA_LETTER_ORDER,
        )

        # Their failed notification: not retried.
        r = await client.post(
            "/console/gdap/retry-notification", data={"csrf": csrf, "notification_id": "ntf-ja-1"}
        )
        assert r.status_code == 404
        assert (
            await fetch(
                settings,
                "SELECT state FROM notifier.notifications WHERE notification_id = 'ntf-ja-1'",
            )
            == "failed"
        )

        # Their report: asking for it by name still gives one's own.
        r = await client.get("/console/eligibility.csv", params={"distributor": R.DIST_JA})
        assert r.status_code == 200 and R.DIST in r.headers["content-disposition"]
        assert R.DIST_JA not in r.headers["content-disposition"]

        # Re-check now: not on their transaction, not for an id its lines do not carry, and
        # on the resellers page only ever for one's own distributor.
        r = await client.post(
            f"/console/transactions/{ja_decision}/recheck",
            data={"csrf": csrf, "partner_id": R.VALID},
        )
        assert r.status_code == 404
        eu_blocked = await fetch(
            settings,
            "SELECT decision_id FROM por_validator.decisions WHERE order_id = $1",
            BLOCKED_ORDER,
        )
        r = await client.post(
            f"/console/transactions/{eu_blocked}/recheck",
            data={"csrf": csrf, "partner_id": R.VALID},  # on no line of this order
        )
        assert r.status_code == 404
        r = await client.post(
            "/console/resellers/recheck",
            data={"csrf": csrf, "partner_id": R.VALID, "distributor": R.DIST_JA},
        )
        assert r.status_code == 200 and f"for {R.DIST}</h2>" in r.text
        assert not await fetch(
            settings,
            "SELECT count(*) FROM por_validator.decisions WHERE supersedes_decision_id IS NOT NULL",
        )

        # Filters naming the other distributor are ignored.
        r = await client.get("/console/transactions", params={"distributor": R.DIST_JA})
        assert JA_ORDER not in r.text

    for key in (KEY_EU, KEY_JA, OPERATOR_KEY):
        assert key not in caplog.text


async def test_every_post_without_the_sessions_csrf_token_is_refused(world):
    settings, url = world["settings"], world["url"]
    async with signed_in(url, OPERATOR_KEY) as (client, csrf):
        for data in ({}, {"csrf": ""}, {"csrf": csrf[:-1] + ("1" if csrf.endswith("0") else "0")}):
            r = await client.post(
                "/console/gdap/retry-notification", data={**data, "notification_id": "ntf-eu-1"}
            )
            assert r.status_code == 403, data
            r = await client.post(
                "/console/dead-letters/redrive", data={**data, "letter": "0:0", "mode": "redrive"}
            )
            assert r.status_code == 403
            r = await client.post(
                "/console/resellers/recheck",
                data={**data, "partner_id": R.SUSPENDED_TENANT, "distributor": R.DIST},
            )
            assert r.status_code == 403
        # Another session's token does not do either.
        async with signed_in(url, OPERATOR_KEY) as (_, other_csrf):
            pass
        assert other_csrf != csrf
        r = await client.post(
            "/console/gdap/retry-notification",
            data={"csrf": other_csrf, "notification_id": "ntf-eu-1"},
        )
        assert r.status_code == 403
        assert (
            await fetch(
                settings,
                "SELECT state FROM notifier.notifications WHERE notification_id = 'ntf-eu-1'",
            )
            == "failed"
        )
        # The sign-in form itself: no token, no session.
        fresh = httpx.AsyncClient(base_url=url)
        async with fresh:
            r = await fresh.post("/console/sign-in", data={"key": OPERATOR_KEY})
            assert r.status_code == 403 and "porgate_console" not in r.headers.get("set-cookie", "")
        # Without a session, a post is refused before anything else.
        anonymous = httpx.AsyncClient(base_url=url)
        async with anonymous:
            r = await anonymous.post("/console/gdap/retry-notification", data={"csrf": csrf})
            assert r.status_code == 403


async def test_the_session_cookie_and_headers_are_strict_and_sign_out_ends_the_session(world):
    url = world["url"]
    client = httpx.AsyncClient(base_url=url, timeout=20)
    async with client:
        page = await client.get("/console/sign-in")
        csp = page.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]+)", csp).group(1)
        assert script_src.strip() == "'self'" and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["cache-control"] == "no-store"
        assert "<script>" not in page.text and " style=" not in page.text

        # A wrong key: refused, and the key is not echoed.
        token = re.search(r'name="sign_in_token" value="([^"]+)"', page.text).group(1)
        r = await client.post("/console/sign-in", data={"sign_in_token": token, "key": "nope-123"})
        assert r.status_code == 401 and "nope-123" not in r.text

    async with signed_in(url, KEY_EU) as (client, csrf):
        cookie = next(c for c in client.cookies.jar if c.name == "porgate_console")
        assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/console/"
        assert not cookie.secure  # plain HTTP (porgate dev on localhost)
        raw = await signed_raw_cookie_header(url)
        assert "httponly" in raw.lower() and "samesite=strict" in raw.lower()
        assert KEY_EU not in cookie.value
        r = await client.post("/console/sign-out", data={"csrf": csrf})
        assert r.status_code == 303
        # The old cookie, replayed, opens nothing.
        replay = httpx.AsyncClient(base_url=url, cookies={"porgate_console": cookie.value})
        async with replay:
            assert (await replay.get("/console/")).status_code == 303

    # Behind an HTTPS proxy (uvicorn trusts X-Forwarded-Proto from 127.0.0.1) it is Secure.
    assert "secure" in (await signed_raw_cookie_header(url, https=True)).lower()


async def signed_raw_cookie_header(url: str, https: bool = False) -> str:
    """The Set-Cookie header of a sign-in, as the browser receives it."""
    headers = {"x-forwarded-proto": "https"} if https else {}
    async with httpx.AsyncClient(base_url=url, headers=headers) as client:
        page = await client.get("/console/sign-in")
        token = re.search(r'name="sign_in_token" value="([^"]+)"', page.text).group(1)
        # By hand: a client on plain HTTP would not send back a cookie marked Secure.
        nonce = re.search(r"porgate_console_sign_in=([^;]+)", page.headers["set-cookie"]).group(1)
        client.cookies.clear()
        r = await client.post(
            "/console/sign-in",
            data={"sign_in_token": token, "key": KEY_EU},
            headers={"cookie": f"porgate_console_sign_in={nonce}"},
        )
        assert r.status_code == 303, r.text
        return next(v for v in r.headers.get_list("set-cookie") if v.startswith("porgate_console="))
