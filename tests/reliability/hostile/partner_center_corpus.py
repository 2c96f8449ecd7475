"""The hostile corpus of Partner Center's webhook receiver (POST /v1/partner-center/events):
unsigned, forged and wrongly signed requests, certificate URLs that are off the allowed host,
redirect or serve no usable certificate, and signed bodies that are no event. Run by
test_http_corpus.py against the API it starts, inside its memory bound.

The certificate host is local (the stand-in's way: Microsoft's certificate is never fetched):
it serves the signer's certificate and every bad one beside it, on the one allowed origin.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.common.health import HttpServer
from services.common.ports import free_port
from services.partner_center import event_signer as pc
from services.partner_center.event_signature import CERT_URL
from services.partner_center.event_signer import EventSigner
from services.settings import Settings
from tests.reliability.harness import fetch

PATH = "/v1/partner-center/events"
ALGORITHM, NO_SIGNATURE = "must be rsa-sha256", "no signature"
FORGED, NO_URL, OFF_HOST = (
    "does not match the body",
    "no x-ms-certificate-url",
    "not on an allowed host",
)
DIST = "dist-eu-1"
DER = serialization.Encoding.DER
# Microsoft's documented shape, each field wrong in turn; signed, so only the body is at fault.
GOOD = json.loads(pc.relationship_event("terminated", "rel-hostile"))


def ec_certificate() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Microsoft's name on an elliptic-curve key: not the RSA key Partner Center signs with."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Microsoft Corporation")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert


@dataclass
class CertificateHost:
    """The allowed certificate host, serving the good certificate and every bad one."""

    signer: EventSigner = field(default_factory=EventSigner)
    expired: EventSigner = field(
        default_factory=lambda: EventSigner(
            valid_from=datetime.now(UTC) - timedelta(days=60),
            valid_until=datetime.now(UTC) - timedelta(days=1),
        )
    )
    not_yet: EventSigner = field(
        default_factory=lambda: EventSigner(valid_from=datetime.now(UTC) + timedelta(days=1))
    )
    stranger: EventSigner = field(default_factory=lambda: EventSigner(organization="Contoso"))
    ec: tuple = field(default_factory=ec_certificate)
    origin: str = ""
    fetches: int = 0

    def app(self) -> Starlette:
        certs = {
            "good.cer": self.signer.certificate.public_bytes(DER),
            "expired.cer": self.expired.certificate.public_bytes(DER),
            "not-yet.cer": self.not_yet.certificate.public_bytes(DER),
            "contoso.cer": self.stranger.certificate.public_bytes(DER),
            "ec.cer": self.ec[1].public_bytes(DER),
            "garbage.cer": b"\x30\x82garbage" * 10,
            "huge.cer": b"\x30" * 70_000,
        }

        async def serve(request: Request) -> Response:
            self.fetches += 1
            name = request.path_params["name"]
            if name == "redirect.cer":
                return RedirectResponse("/cert/good.cer", 302)
            if name == "redirect-away.cer":
                return RedirectResponse("https://example.org/cert.cer", 301)
            if name == "down.cer":
                return Response("busy", 500)
            if name not in certs:
                return Response("no such blob", 404)
            return Response(certs[name], media_type="application/pkix-cert")

        return Starlette(routes=[Route("/cert/{name}", serve)])

    def url(self, name: str) -> str:
        return f"{self.origin}/cert/{name}"

    def signed(self, body: bytes, signer: EventSigner | None = None, cert: str = "good.cer"):
        return (signer or self.signer).headers(body) | {"x-ms-certificate-url": self.url(cert)}


@contextlib.asynccontextmanager
async def certificate_host() -> AsyncIterator[CertificateHost]:
    host = CertificateHost()
    port = free_port()
    server = HttpServer(host.app(), "127.0.0.1", port)
    await server.start()
    host.origin = f"http://127.0.0.1:{port}"
    host.signer.certificate_url = host.url("good.cer")
    try:
        yield host
    finally:
        await server.stop()


@dataclass
class Attempt:
    label: str
    body: bytes
    headers: dict[str, str | bytes]
    status: int
    why: str = ""  # what the answer's description says (the reason it was refused)
    query: str = f"distributorId={DIST}"


def event(**over) -> bytes:
    return json.dumps({**GOOD, **over}).encode()


def header_attempts(host: CertificateHost) -> list[Attempt]:
    """Unsigned, forged, or signed another way than Partner Center's: each 401."""
    body = event()
    sig = host.signer.sign(body)
    good = host.signed(body)
    key = host.signer.key
    sha1 = base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA1())).decode()
    pss = base64.b64encode(
        key.sign(
            body,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
    ).decode()
    ec_sig = base64.b64encode(host.ec[0].sign(body, ec.ECDSA(hashes.SHA256()))).decode()
    forger = EventSigner()  # Microsoft's certificate URL, another key
    without = {k: v for k, v in good.items() if k != "x-ms-signature-algorithm"}
    no_url = {k: v for k, v in good.items() if k != "x-ms-certificate-url"}
    attempts = [
        ("unsigned", {"Content-Type": "application/json"}, ALGORITHM),
        ("no algorithm", without, ALGORITHM),
        (
            "algorithm rsa-sha1, signed with SHA-1",
            good | {"x-ms-signature-algorithm": "rsa-sha1", "Authorization": f"Signature {sha1}"},
            ALGORITHM,
        ),
        (
            "SHA-1 signature, algorithm rsa-sha256",
            good | {"Authorization": f"Signature {sha1}"},
            FORGED,
        ),
        ("PSS signature", good | {"Authorization": f"Signature {pss}"}, FORGED),
        ("algorithm hmac-sha256", good | {"x-ms-signature-algorithm": "hmac-sha256"}, ALGORITHM),
        ("algorithm none", good | {"x-ms-signature-algorithm": "none"}, ALGORITHM),
        ("algorithm twice", good | {"x-ms-signature-algorithm": "rsa-sha256, none"}, ALGORITHM),
        ("empty signature", good | {"Authorization": "Signature"}, NO_SIGNATURE),
        ("signature not base64", good | {"Authorization": "Signature !!!*&^%"}, "not base64"),
        (
            "signature of 6000 characters",
            good | {"Authorization": "Signature " + "A" * 6000},
            FORGED,
        ),
        ("signature, Bearer scheme", good | {"Authorization": f"Bearer {sig}"}, NO_SIGNATURE),
        ("signature, Basic scheme", good | {"Authorization": "Basic " + sig}, NO_SIGNATURE),
        ("signature not ASCII", good | {"Authorization": "Signature " + "é" * 40}, "not base64"),
        ("x-ms-signature empty", no_sig(good) | {"x-ms-signature": ""}, NO_SIGNATURE),
        ("x-ms-signature forged", no_sig(good) | {"x-ms-signature": forger.sign(body)}, FORGED),
        ("forged: another key", host.signed(body, forger), FORGED),
        (
            "ECDSA, Microsoft's name",
            good
            | {"Authorization": f"Signature {ec_sig}", "x-ms-certificate-url": host.url("ec.cer")},
            "key is not RSA",
        ),
        ("no certificate URL", no_url, NO_URL),
        ("certificate URL empty", good | {"x-ms-certificate-url": ""}, NO_URL),
    ]
    out = [Attempt(label, body, headers, 401, why) for label, headers, why in attempts]
    out.append(Attempt("signature of another body", event(ResourceName="x"), good, 401, FORGED))
    return out


def no_sig(headers: dict) -> dict:
    return {k: v for k, v in headers.items() if k != "Authorization"}


def certificate_attempts(host: CertificateHost) -> list[Attempt]:
    """Certificate URLs off the allowed host, redirecting, or serving no usable certificate."""
    body = event()
    port = host.origin.rsplit(":", 1)[1]
    microsoft = "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer"
    urls = [
        ("another host", "https://example.org/cert/good.cer", OFF_HOST),
        ("Microsoft's host, not allowed here", microsoft, OFF_HOST),
        ("allowed host, https", f"https://127.0.0.1:{port}/cert/good.cer", OFF_HOST),
        ("allowed host, another port", f"http://127.0.0.1:{int(port) + 1}/c.cer", OFF_HOST),
        ("allowed host as a subdomain", f"http://127.0.0.1.nip.io:{port}/c.cer", OFF_HOST),
        ("allowed host as user info", f"http://127.0.0.1:{port}@example.org/c.cer", OFF_HOST),
        ("user info on the allowed host", f"http://u:p@127.0.0.1:{port}/c.cer", OFF_HOST),
        ("file URL", "file:///etc/passwd", OFF_HOST),
        ("no scheme", f"127.0.0.1:{port}/cert/good.cer", OFF_HOST),
        ("port out of range", "http://127.0.0.1:99999/cert/good.cer", OFF_HOST),
        ("broken IPv6", "http://[::1/cert/good.cer", OFF_HOST),
        ("URL of 5000 characters", host.url("a" * 5000), "HTTP 404"),
        ("NUL escaped in the path", host.url("good.cer%00"), "HTTP 404"),
        ("not ASCII", host.url("gööd.cer"), "HTTP 404"),
        ("redirect on the allowed host", host.url("redirect.cer"), "HTTP 302"),
        ("redirect to another host", host.url("redirect-away.cer"), "HTTP 301"),
        ("404", host.url("missing.cer"), "HTTP 404"),
        ("not a certificate", host.url("garbage.cer"), "no X.509 certificate"),
        ("70 kB", host.url("huge.cer"), "more than 65536 bytes"),
    ]
    out = [
        Attempt(f"certificate: {label}", body, host.signed(body) | {CERT_URL: url}, 401, why)
        for label, url, why in urls
    ]
    for name, signer, why in (
        ("expired.cer", host.expired, "not now"),
        ("not-yet.cer", host.not_yet, "not now"),
        ("contoso.cer", host.stranger, "Organization is not Microsoft Corporation"),
    ):
        out.append(Attempt(f"certificate: {name}", body, host.signed(body, signer, name), 401, why))
    # The certificate under endless URLs, forged: each one fetched and refused (and the
    # certificates kept stay bounded: test_http_corpus.py).
    forger = EventSigner()
    for n in range(50):
        headers = host.signed(body, forger) | {CERT_URL: f"{host.url('good.cer')}?copy={n}"}
        out.append(Attempt(f"certificate: copy {n}, forged", body, headers, 401, FORGED))
    # The allowed host failing is worth Partner Center's retry: 503, not a refusal.
    down = host.signed(body, cert="down.cer")
    out.append(Attempt("certificate host answers 500", body, down, 503, "retry later"))
    return out


def body_attempts(host: CertificateHost) -> list[Attempt]:
    """Signed by Partner Center's key, yet no event (400), stale (401) or too big (413)."""
    stale = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    deep = event()[:-1] + b', "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    bodies = [
        ("empty", b"", "not JSON"),
        ("not JSON", b"{EventName", "not JSON"),
        ("truncated", event()[:40], "not JSON"),
        ("JSON null", b"null", "not an object"),
        ("JSON array", json.dumps([GOOD]).encode(), "not an object"),
        ("JSON string", b'"granular-admin-relationship-terminated"', "not an object"),
        ("not UTF-8", event(EventName="x").replace(b'"x"', b'"\xff\xfe"'), "can't decode"),
        ("raw NUL in a string", event(EventName="x").replace(b'"x"', b'"a\x00b"'), "control"),
        ("NUL escaped in EventName", event(EventName="granular-admin-relationship-\u0000"), "NUL"),
        ("NUL escaped in an unknown field", event(Extra={"k\u0000": "v"}), "NUL"),
        ("lone surrogate in EventName", event(EventName="granular\ud800"), "surrogate"),
        ("lone surrogate in an unknown field", event(Extra="\udfff"), "surrogate"),
        ("NaN in an unknown field", event()[:-1] + b', "Extra": NaN}', "NaN"),
        ("Infinity in an unknown field", event()[:-1] + b', "Extra": -Infinity}', "Infinity"),
        ("5000-digit number", event()[:-1] + b', "n": ' + b"9" * 5000 + b"}", "4300 digits"),
        ("nested 30000 deep", b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        ("an unknown field nested 20000 deep", deep, "nested too deeply"),
        ("no EventName", event(EventName=None), "EventName"),
        ("EventName empty", event(EventName=""), "EventName"),
        ("EventName of 200 characters", event(EventName="e" * 200), "EventName"),
        ("EventName a number", event(EventName=5), "EventName"),
        ("ResourceUri of 5000 characters", event(ResourceUri="u" * 5000), "ResourceUri"),
        ("ResourceUri an object", event(ResourceUri={"a": 1}), "ResourceUri"),
        ("no ResourceChangeUtcDate", event(ResourceChangeUtcDate=None), "ResourceChangeUtcDate"),
        ("date not a date", event(ResourceChangeUtcDate="yesterday"), "ResourceChangeUtcDate"),
        ("date in year 0", event(ResourceChangeUtcDate="0000-01-01T00:00:00Z"), "year 0"),
    ]
    out = [Attempt(f"body: {label}", b, host.signed(b), 400, why) for label, b, why in bodies]
    for label, b, status, why in (
        ("date a month ago", event(ResourceChangeUtcDate=stale), 401, "stale"),
        ("date 0 (1970)", event(ResourceChangeUtcDate=0), 401, "stale"),
        ("over the cap", event(Extra="x" * 70_000), 413, "body over 65536 bytes"),
    ):
        out.append(Attempt(f"body: {label}", b, host.signed(b), status, why))
    return out


def query_attempts(host: CertificateHost) -> list[Attempt]:
    body = event()
    signed = host.signed(body)
    queries = {
        "no distributorId": "",
        "distributorId empty": "distributorId=",
        "distributorId blank": "distributorId=%20%20",
        "distributorId of 300 characters": "distributorId=" + "d" * 300,
        "distributorId with a NUL": "distributorId=dist%00x",
        "distributorId not UTF-8": "distributorId=%FF%FE",
        "distributorId a lone surrogate": "distributorId=%ED%A0%80",
        "distributorId twice": f"distributorId={DIST}&distributorId=dist-other",
    }
    out = [
        Attempt(f"query: {label}", body, signed, 400, "distributorId", query)
        for label, query in queries.items()
    ]
    # Unsigned, with a hostile distributor: refused before the query is read.
    hostile = "distributorId=' OR 1=1 --&x=\u202e"
    out.append(Attempt("query: hostile, unsigned", body, {}, 401, ALGORITHM, hostile))
    return out


async def partner_center_corpus(c: httpx.AsyncClient, host: CertificateHost, settings: Settings):
    """Every attempt answered as expected in Partner Center's error shape, nothing recorded;
    then a good event is (so the check of nothing recorded can fail). Returns the count."""
    attempts = (
        header_attempts(host)
        + certificate_attempts(host)
        + body_attempts(host)
        + query_attempts(host)
    )
    problems = []
    for a in attempts:
        # As bytes: httpx sends non-ASCII header values only so (as UTF-8 octets).
        sent = {k: v.encode() if isinstance(v, str) else v for k, v in a.headers.items()}
        r = await c.post(f"{PATH}?{a.query}", content=a.body, headers=sent)
        if r.status_code != a.status:
            problems.append(f"{a.label}: {r.status_code}, not {a.status}: {r.text[:200]}")
            continue
        try:
            body = r.json()
        except ValueError:
            problems.append(f"{a.label}: not JSON: {r.text[:200]}")
            continue
        if set(body) != {"code", "description", "data", "source"} or "Traceback" in r.text:
            problems.append(f"{a.label}: not Partner Center's error shape: {r.text[:200]}")
        elif a.why not in body["description"]:
            problems.append(f"{a.label}: {body['description']!r} does not say {a.why!r}")
    tried = len(attempts)

    # Chunked, without a length: cut off once past the cap.
    async def chunks():
        for _ in range(64):
            yield b" " * 16_384

    body = event()
    r = await c.post(f"{PATH}?distributorId={DIST}", content=chunks(), headers=host.signed(body))
    tried += 1
    if r.status_code != 413 or r.json()["code"] != "payload_too_large":
        problems.append(f"chunked 1 MB: {r.status_code} {r.text[:200]}")
    for method in ("GET", "PUT", "DELETE"):
        r = await c.request(method, f"{PATH}?distributorId={DIST}")
        tried += 1
        if r.status_code != 405 or set(r.json()) != {"code", "description", "data", "source"}:
            problems.append(f"{method}: {r.status_code} {r.text[:200]}")
    assert not problems, "\n".join(problems)
    assert await recorded(settings) == [], "a refused request was recorded"

    good = pc.relationship_event("terminated", "rel-after-corpus")
    r = await c.post(f"{PATH}?distributorId={DIST}", content=good, headers=host.signed(good))
    assert r.status_code == 200 and r.json()["outcome"] == "queued", r.text
    assert await recorded(settings) == [(DIST, "granular-admin-relationship-terminated")]
    return tried


async def recorded(settings: Settings) -> list[tuple[str, str]]:
    rows = await fetch(
        settings, "SELECT distributor_id, event_name FROM partner_center_sync.partner_center_events"
    )
    return [(r["distributor_id"], r["event_name"]) for r in rows]
