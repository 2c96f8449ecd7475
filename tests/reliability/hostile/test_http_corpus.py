"""A hostile corpus for every HTTP surface: the API's routes, the console's forms, cookies,
headers and query strings, and Partner Center's webhook receiver (partner_center_corpus.py),
on the real API process over real HTTP.

Every input gets its surface's own error shape (the API: Partner Center's error body; the
console: text or its HTML pages), never a 500 or a traceback, and the process's memory
stays bounded (tracemalloc's peak across the whole corpus). The sizes go to the figures.
"""

from __future__ import annotations

import json
import re
import tracemalloc

import httpx
import pytest
from pydantic import SecretStr

from services.api.app import create_app
from services.common.health import HttpServer
from services.common.ports import free_port
from services.partner_center.event_signature import (
    MAX_KEPT,
    CertificateStore,
    Rejected,
    allowed_hosts,
)
from tests.e2e import registry_data as R
from tests.reliability.harness import tally
from tests.reliability.hostile.partner_center_corpus import certificate_host, partner_center_corpus

KEY = "k-hostile-eu-4e6a8c0b2d4f6a81"
OPERATOR = "op-hostile-7b9d1f3a5c7e9b20"
VALIDATE = "/v1/partners/validateresellers"
PEAK_BYTES = 64 * 1024 * 1024

# Partner Center's error body: the API's shape for every refusal.
API_CODES = {
    "bad_request",
    "unauthorized",
    "payload_too_large",
    "rate_limited",
    "not_found",
    "method_not_allowed",
    "unavailable",
}

UNICODE = [
    "١٢٣٤٥٦٧",  # Arabic-Indic digits: not ASCII digits
    "１２３４５６７",  # full-width digits
    "1234567\u200b",  # zero-width space
    "\u202e7654321",  # right-to-left override
    "💥" * 50,
    "\ud800",  # a lone surrogate, escaped in JSON
    "a\u0000b",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00%0d%0a",
    "x" * 10_000,
]


def nested(depth: int) -> bytes:
    return b'{"partnerIds": ' + b"[" * depth + b"]" * depth + b"}"


def api_bodies() -> list[tuple[str, bytes]]:
    """(label, body) for POST validateresellers."""
    bodies = [
        ("empty", b""),
        ("not JSON", b"{partnerIds"),
        ("truncated", b'{"partnerIds": ["1234567"'),
        ("JSON null", b"null"),
        ("JSON array", b'["1234567"]'),
        ("JSON string", b'"1234567"'),
        ("JSON number", b"1234567"),
        ("JSON true", b"true"),
        ("not UTF-8", b'{"partnerIds": ["\xff\xfe"]}'),
        ("BOM", b'\xef\xbb\xbf{"partnerIds": ["1234567"]}'),
        ("NaN", b'{"partnerIds": [NaN]}'),
        ("Infinity", b'{"partnerIds": [Infinity]}'),
        ("duplicate keys", b'{"partnerIds": ["1"], "partnerIds": ["1234567"]}'),
        ("nested 100000 deep", nested(100_000)),
        ("5000-digit number", b'{"partnerIds": [' + b"9" * 5000 + b"]}"),
        ("over the cap", json.dumps({"partnerIds": ["1" * 70_000]}).encode()),
        ("no partnerIds", b'{"partnerids": ["1234567"]}'),
        ("partnerIds null", b'{"partnerIds": null}'),
        ("partnerIds a string", b'{"partnerIds": "1234567"}'),
        ("partnerIds an object", b'{"partnerIds": {"a": "1234567"}}'),
        ("partnerIds empty", b'{"partnerIds": []}'),
        ("ids numbers", b'{"partnerIds": [1234567, 7654321]}'),
        ("ids null", b'{"partnerIds": [null]}'),
        ("ids nested", b'{"partnerIds": [["1234567"]]}'),
        ("ids objects", b'{"partnerIds": [{"id": "1234567"}]}'),
        ("ten thousand ids", json.dumps({"partnerIds": ["1234567"] * 10_000}).encode()),
        ("extra fields", json.dumps({"partnerIds": [R.VALID], "distributorId": "x"}).encode()),
        ("NUL escaped", b'{"partnerIds": ["123\\u00004567"]}'),
    ]
    bodies += [
        (f"unicode id {n}", json.dumps({"partnerIds": [u]}).encode()) for n, u in enumerate(UNICODE)
    ]
    return bodies


HEADER_SETS: list[dict[str, str]] = [
    {"MS-CorrelationId": "x" * 5000},
    {"MS-CorrelationId": "not a token; <b>", "MS-RequestId": "\x7f\x01"},
    {"X-Locale": "ja-JP" * 200},
    {"X-Locale": "xx-\u00e9"},
    {"Accept-Language": "*;q=abc, ja;q=2, " * 50},
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/json; charset=latin-1"},
    {"Content-Type": "multipart/form-data; boundary=x"},
    {"Content-Length": "abc"},
    {"Transfer-Encoding": "gzip"},
    {"Authorization": "Bearer " + KEY + " extra"},
    {"Authorization": "Basic " + "A" * 8000},
    {"X-Api-Key": "\u00e9" * 10},
    {"Authorization": "Bearer"},
]

EXPLAIN_IDS = [
    "%00",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "1" * 300,
    "%F0%9F%92%A5",
    "%E2%80%AE1234567",
    "%C0%AE",  # an overlong UTF-8 dot
    "%FF",
    "1234567%0d%0aX-Injected:%201",
    "%20%201234567%20",
    "%3Cscript%3E",
]


def api_error_shape(r: httpx.Response) -> None:
    body = r.json()
    assert set(body) >= {"code", "description", "source"}, body
    assert body["code"] in API_CODES, body


async def test_hostile_input_on_every_http_surface_gets_its_own_error_shape(migrated, tmp_path):
    async with certificate_host() as cert_host:
        await http_corpus(migrated, cert_host, tmp_path)


async def http_corpus(migrated, cert_host, tmp_path) -> None:
    # The webhook accepts events for the credentials file's distributors only.
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({R.DIST: {"tenantId": "t", "clientId": "c", "clientSecret": "s"}}))
    settings = migrated.model_copy(
        update={
            "partner_center_credentials_file": str(creds),
            "api_keys": SecretStr(f"{KEY}={R.DIST}"),
            "operator_keys": SecretStr(OPERATOR),
            "api_rate_per_key": 0,
            # Many wrong keys from one address, on purpose: the lockout has its own test.
            "sign_in_free_failures": 100_000,
            "partner_center_webhook_cert_hosts": cert_host.origin,
        }
    )
    port = free_port()
    server = HttpServer(create_app(settings), "127.0.0.1", port, lifespan="on")
    await server.start()
    sizes: dict[str, int] = {}
    tracemalloc.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            sizes["API"] = await api_corpus(c)
            sizes["console"] = await console_corpus(c)
            sizes["Partner Center webhooks"] = await partner_center_corpus(c, cert_host, settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await server.stop()
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.1f} MB over the corpus"
    tally(**{f"hostile corpus: {k}": v for k, v in sizes.items()})


async def test_the_certificates_kept_stay_bounded_however_many_urls_name_one():
    """Any caller can name the allowed host's certificate under endless URLs: a query string
    names the same certificate (one fetch), and endless paths keep at most MAX_KEPT
    certificates and failures, the one in use staying."""
    async with certificate_host() as host:
        store = CertificateStore(allowed_hosts(host.origin), ttl_s=3600)
        try:
            in_use = host.url("good.cer")
            await store.certificate(in_use)
            for n in range(MAX_KEPT * 4):
                await store.certificate(f"{in_use}?copy={n}#f{n}")
            assert host.fetches == 1 and len(store) == 1
            for n in range(MAX_KEPT * 4):
                with pytest.raises(Rejected):
                    await store.certificate(host.url(f"missing-{n}.cer"))
                await store.certificate(in_use)
            assert len(store) == 1 and len(store._failed) <= MAX_KEPT
            fetches = host.fetches
            await store.certificate(in_use)
            assert host.fetches == fetches  # still kept
        finally:
            await store.aclose()


async def api_corpus(c: httpx.AsyncClient) -> int:
    tried = 0
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    for label, body in api_bodies():
        r = await c.post(VALIDATE, content=body, headers=auth)
        tried += 1
        assert r.status_code in (200, 400, 413), (label, r.status_code, r.text[:300])
        if r.status_code != 200:
            api_error_shape(r)
        else:
            assert all(isinstance(v["errorCodes"], list) for v in r.json()["validationResults"]), (
                label
            )
        assert "Traceback" not in r.text
    good = json.dumps({"partnerIds": [R.VALID]}).encode()
    for headers in HEADER_SETS:
        for method, path, body in (("POST", VALIDATE, good), ("GET", "/healthz", None)):
            # As bytes: httpx sends non-ASCII header values only so (as UTF-8 octets).
            sent = {k: v.encode() for k, v in {**auth, **headers}.items()}
            try:
                r = await c.request(method, path, content=body, headers=sent)
            except httpx.LocalProtocolError:
                continue  # the client refuses to send it: nothing reached the server
            tried += 1
            assert r.status_code < 500, (headers, path, r.status_code, r.text[:300])
            if path == VALIDATE and r.status_code != 200:
                api_error_shape(r)
            # Echoed ids are tokens only: never the text a caller sent.
            for name in ("ms-correlationid", "ms-requestid", "x-locale"):
                echoed = r.headers.get(name, "")
                assert re.fullmatch(r"[A-Za-z0-9._:\-]{1,128}", echoed), (name, echoed)
    for pid in EXPLAIN_IDS:
        for method, route in (("GET", "explanation"), ("GET", "remediation"), ("POST", "recheck")):
            r = await c.request(method, f"/v1/partners/{pid}/{route}", headers=auth)
            tried += 1
            # 429: the re-check's own rate per key.
            assert r.status_code in (200, 400, 404, 429), (pid, route, r.status_code, r.text[:300])
            if r.status_code != 200:
                api_error_shape(r)
    for method, path in (
        ("PUT", VALIDATE),
        ("DELETE", VALIDATE),
        ("PATCH", "/v1/partners/1234567/explanation"),
        ("GET", "/v1/partners/validateresellers/../../metrics"),
        ("GET", "/%00"),
        ("GET", "/" + "a" * 4000),
        ("POST", "/metrics"),
        ("POST", "/healthz"),
    ):
        r = await c.request(method, path, headers=auth, content=b"{}")
        tried += 1
        assert r.status_code in (404, 405), (method, path, r.status_code)
        api_error_shape(r)
    return tried


async def sign_in(c: httpx.AsyncClient, key: str) -> str | None:
    page = await c.get("/console/sign-in")
    token = re.search(r'name="sign_in_token" value="([^"]+)"', page.text).group(1)
    r = await c.post("/console/sign-in", data={"sign_in_token": token, "key": key})
    return r.headers.get("location") if r.status_code == 303 else None


def console_ok(r: httpx.Response, *allowed: int) -> None:
    assert r.status_code in allowed, (r.request.url, r.status_code, r.text[:300])
    assert "Traceback" not in r.text and "internal error" not in r.text
    if r.status_code != 303:  # a redirect has no body
        assert r.headers["content-type"].startswith(("text/plain", "text/html"))


async def console_corpus(c: httpx.AsyncClient) -> int:
    tried = 0
    # The sign-in form, anonymous.
    page = await c.get("/console/sign-in")
    token = re.search(r'name="sign_in_token" value="([^"]+)"', page.text).group(1)
    forms: list[tuple[dict | None, bytes | None, dict]] = [
        ({}, None, {}),
        ({"key": OPERATOR}, None, {}),  # no token
        ({"sign_in_token": "x", "key": OPERATOR}, None, {}),
        ({"sign_in_token": token, "key": ""}, None, {}),
        ({"sign_in_token": token, "key": "k" * 5000}, None, {}),
        ({"sign_in_token": token, "key": "\u00e9\u0000\u202e"}, None, {}),
        ({"sign_in_token": token * 100, "key": OPERATOR}, None, {}),
        ({f"f{i}": "x" for i in range(50)}, None, {}),
        (None, b"\xff\xfe=\x80", {"Content-Type": "application/x-www-form-urlencoded"}),
        (None, b"%%%%", {"Content-Type": "application/x-www-form-urlencoded"}),
        (None, b'{"key": "x"}', {"Content-Type": "application/json"}),
        (
            None,
            b"--b\r\nContent-Disposition: form-data; name=key; filename=k.txt\r\n\r\nx\r\n--b--\r\n",
            {"Content-Type": "multipart/form-data; boundary=b"},
        ),
        (None, b"--b\r\ngarbage", {"Content-Type": "multipart/form-data; boundary=b"}),
        (None, b"key=" + b"x" * 20_000, {"Content-Type": "application/x-www-form-urlencoded"}),
    ]
    for data, content, headers in forms:
        r = await c.post("/console/sign-in", data=data, content=content, headers=headers)
        tried += 1
        console_ok(r, 400, 401, 403, 413)
    # Cookies: garbage, tampered, huge, non-ASCII; each is a stranger (a redirect to sign in).
    for cookie in (
        "garbage",
        "a" * 4000,
        "eyJzaWQiOiJ4In0.ZZZZ.tampered",
        "\u00e9t\u00e9",
        "",
        ".",
        "..",
    ):
        r = await c.get("/console/", headers={"Cookie": f"porgate_console={cookie}".encode()})
        tried += 1
        console_ok(r, 303)
    c.cookies.clear()
    assert await sign_in(c, OPERATOR)
    overview = await c.get("/console/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', overview.text).group(1)
    # Every page with hostile query strings.
    queries = [
        {"code": "abc", "since": "yesterday", "until": "\u0000", "outcome": "<b>"},
        {"after": "not-a-cursor", "q": "' OR 1=1 --"},
        {"q": "x" * 3000, "distributor": "\u202e" * 10},
        {"months": "-5"},
        {"months": "1e308"},
        {"region": "<script>", "status": "\u00e9", "authorized": "maybe", "check": "١٢٣٤٥٦٧"},
        {"lang": "../../etc", "done": "\r\nSet-Cookie: x=1"},
        {"q": "ord\u0000", "after": "\u0000"},
    ]
    for path in (
        "/console/",
        "/console/transactions",
        "/console/resellers",
        "/console/eligibility",
        "/console/eligibility.csv",
        "/console/gdap",
        "/console/dead-letters",
    ):
        for params in queries:
            r = await c.get(path, params=params)
            tried += 1
            if path.endswith(".csv"):
                assert r.status_code in (200, 400) and "Traceback" not in r.text
            else:
                console_ok(r, 200, 400)
    for path in (
        "/console/transactions/%00",
        "/console/transactions/" + "x" * 2000,
        "/console/dead-letters/99/0",
        "/console/dead-letters/0/99999999999999999999",
        "/console/dead-letters/-1/0",
    ):
        r = await c.get(path)
        tried += 1
        console_ok(r, 400, 404)
    # The actions, with the session's token and hostile values.
    actions = [
        ("/console/dead-letters/redrive", {"letter": ["a:b", "-1:5", ":", "0:"], "mode": "x"}),
        ("/console/dead-letters/redrive", {"letter": "99999999999999999999:1", "mode": "redrive"}),
        ("/console/dead-letters/redrive", {"letter": ["0:" + "9" * 39], "mode": "preview"}),
        ("/console/gdap/retry-termination", {"relationship_id": "\u0000" * 10}),
        ("/console/gdap/retry-termination", {"relationship_id": "x" * 1000}),
        ("/console/gdap/retry-notification", {"notification_id": "' OR 1=1 --"}),
        ("/console/gdap/retry-notification", {}),
        ("/console/gdap/retry-notification", {"notification_id": "ntf\u0000"}),
        ("/console/transactions/no-such/recheck", {"partner_id": "1000001"}),
        ("/console/transactions/" + "x" * 2000 + "/recheck", {"partner_id": "' OR 1=1 --"}),
        ("/console/resellers/recheck", {"partner_id": "x" * 1000, "distributor": "d"}),
        ("/console/resellers/recheck", {"partner_id": "\u202e1000001", "distributor": "\u0000"}),
        ("/console/resellers/recheck", {}),
        ("/console/sign-out", {"extra": "\u202e"}),
    ]
    for path, form in actions:
        r = await c.post(path, data={"csrf": csrf, **form})
        tried += 1
        console_ok(r, 200, 303, 400, 404)
    return tried
