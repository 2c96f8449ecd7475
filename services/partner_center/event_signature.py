"""Verifying that a webhook request comes from Partner Center, as Microsoft documents it.

The request carries `Authorization: Signature <base64>` (or `x-ms-signature` when the
registration asked for it), `x-ms-signature-algorithm: rsa-sha256` and
`x-ms-certificate-url`; the signature is RSA PKCS#1 v1.5 with SHA-256 over the raw body. The
certificate is fetched only from the hosts of PORGATE_PARTNER_CENTER_WEBHOOK_CERT_HOSTS, over
https (an `http://host:port` entry admits a local stand-in, and nothing else), without
following redirects; it must be within its validity period and name the Organization
Microsoft documents checking. Fetched certificates are kept for a while: one fetch serves
many events.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ALGORITHM = "rsa-sha256"
CERT_URL, ALGORITHM_HEADER = "x-ms-certificate-url", "x-ms-signature-algorithm"
SIGNATURE_HEADER = "x-ms-signature"
MAX_CERT_BYTES = 64 * 1024
# Certificates (and failures) kept at once. Partner Center signs with one certificate at a
# time, but any caller can name endless paths on the allowed host (an escaped path, say): the
# least recently used goes, so memory stays bounded.
MAX_KEPT = 16
# How long a failed fetch answers for its URL: long enough to absorb a burst, short enough
# that Partner Center's retry after a 503 finds the host again.
FAILURE_TTL_S = 5.0


class Rejected(Exception):
    """Not a request Partner Center signed (unsigned, forged, or its certificate refused)."""


class CertificateUnavailable(Exception):
    """The certificate's allowed host did not answer usefully: worth a retry later (503)."""


@dataclass(frozen=True)
class SignedRequest:
    signature: bytes
    certificate_url: str


def signed_request(headers: Mapping[str, str]) -> SignedRequest:
    """The signature and certificate URL of a request; Rejected when one is missing."""
    algorithm = headers.get(ALGORITHM_HEADER, "").strip().lower()
    if algorithm != ALGORITHM:
        raise Rejected(f"{ALGORITHM_HEADER} must be {ALGORITHM}")
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    encoded = token.strip() if scheme.lower() == "signature" else headers.get(SIGNATURE_HEADER, "")
    if not encoded.strip():
        raise Rejected("no signature (Authorization: Signature ..., or x-ms-signature)")
    try:
        signature = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Rejected("the signature is not base64") from None
    url = headers.get(CERT_URL, "").strip()
    if not url:
        raise Rejected(f"no {CERT_URL}")
    return SignedRequest(signature, url)


def allowed_hosts(setting: str) -> frozenset[tuple[str, str, int]]:
    """(scheme, host, port) the certificate may come from: `host` means https on 443."""
    out = set()
    for entry in (e.strip() for e in setting.split(",")):
        if not entry:
            continue
        parts = urlsplit(entry if "://" in entry else f"https://{entry}")
        if parts.hostname:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            out.add((parts.scheme, parts.hostname.lower(), port))
    return frozenset(out)


def certificate_url_allowed(url: str, hosts: frozenset[tuple[str, str, int]]) -> bool:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    if parts.username or parts.password or not parts.hostname:
        return False
    return (parts.scheme, parts.hostname.lower(), port) in hosts


def verify(
    body: bytes, signature: bytes, cert: x509.Certificate, *, now: datetime, organization: str
) -> None:
    """Rejected unless `cert` is valid now, names `organization` and signed `body`."""
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise Rejected(
            f"the signing certificate is valid from {cert.not_valid_before_utc:%Y-%m-%d %H:%M}"
            f" to {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC, not now"
        )
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if organization not in orgs:
        raise Rejected(f"the signing certificate's Organization is not {organization}")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Rejected("the signing certificate's key is not RSA")
    try:
        key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise Rejected("the signature does not match the body") from None


def parse_certificate(data: bytes) -> x509.Certificate:
    """DER (Microsoft's .cer) or PEM."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def certificate_key(url: str) -> str:
    """The URL a certificate is fetched from and kept under: without query and fragment, so
    no caller can make a fresh fetch by naming the same certificate under another query."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class CertificateStore:
    """Fetches signing certificates from the allowed hosts and keeps each for `ttl_s`.

    One fetch at a time per URL (a burst of events shares it), never one for all URLs: a slow
    URL must not hold up the events signed with another. A failed fetch is remembered for
    FAILURE_TTL_S, so a stream of requests naming a dead or wrong URL costs one fetch each
    few seconds, not one each."""

    def __init__(
        self,
        hosts: frozenset[tuple[str, str, int]],
        *,
        ttl_s: float,
        timeout_s: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.hosts = hosts
        self.ttl_s = ttl_s
        self.http = http or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self.fetches = 0
        self._kept: OrderedDict[str, tuple[x509.Certificate, float]] = OrderedDict()
        self._failed: OrderedDict[str, tuple[Exception, float]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[x509.Certificate]] = {}

    def __len__(self) -> int:
        """How many certificates are kept."""
        return len(self._kept)

    async def certificate(self, url: str) -> x509.Certificate:
        if not certificate_url_allowed(url, self.hosts):
            raise Rejected(f"{CERT_URL} is not on an allowed host")
        key = certificate_key(url)
        if (cert := _fresh(self._kept, key)) is not None:
            return cert
        if (failure := _fresh(self._failed, key)) is not None:
            raise type(failure)(*failure.args)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch_and_keep(key))
            self._inflight[key] = task
            task.add_done_callback(partial(self._landed, key))
        # Shielded: one waiter's cancellation (a client gone) does not cancel the others' fetch.
        return await asyncio.shield(task)

    def _landed(self, key: str, task: asyncio.Task) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here too: every waiter may have gone

    async def _fetch_and_keep(self, key: str) -> x509.Certificate:
        try:
            cert = await self._fetch(key)
        except (Rejected, CertificateUnavailable) as exc:
            _keep(self._failed, key, exc, FAILURE_TTL_S)
            raise
        _keep(self._kept, key, cert, self.ttl_s)
        return cert

    async def _fetch(self, url: str) -> x509.Certificate:
        self.fetches += 1
        try:
            # identity: the limit below counts the bytes the certificate is, not compressed ones.
            headers = {"Accept-Encoding": "identity"}
            async with self.http.stream("GET", url, headers=headers) as resp:
                if resp.status_code >= 500 or resp.status_code == 429:
                    raise CertificateUnavailable(f"certificate fetch: HTTP {resp.status_code}")
                if resp.status_code != 200:
                    # A redirect is not followed: the certificate must be on the allowed host.
                    raise Rejected(f"{CERT_URL} answered HTTP {resp.status_code}")
                if resp.headers.get("content-encoding", "identity").lower() != "identity":
                    raise Rejected(f"{CERT_URL} answered compressed, though asked not to")
                data = bytearray()
                # Read no further than the limit, whatever Content-Length says or omits.
                async for chunk in resp.aiter_bytes():
                    data += chunk
                    if len(data) > MAX_CERT_BYTES:
                        raise Rejected(f"{CERT_URL} answered more than {MAX_CERT_BYTES} bytes")
        except httpx.HTTPError as exc:
            raise CertificateUnavailable(f"certificate fetch: {type(exc).__name__}") from None
        try:
            return parse_certificate(bytes(data))
        except ValueError:
            raise Rejected(f"{CERT_URL} answered no X.509 certificate") from None

    async def aclose(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        await self.http.aclose()


def _fresh(kept: OrderedDict, key: str):
    entry = kept.get(key)
    if entry is None:
        return None
    if time.monotonic() >= entry[1]:
        del kept[key]
        return None
    kept.move_to_end(key)
    return entry[0]


def _keep(kept: OrderedDict, key: str, value: object, ttl_s: float) -> None:
    kept[key] = (value, time.monotonic() + ttl_s)
    kept.move_to_end(key)
    while len(kept) > MAX_KEPT:
        kept.popitem(last=False)
