"""Partner Center's side of a webhook delivery, for the tests and `porgate dev --demo`.

It stands in for a remote service no machine here can reach, following Microsoft's
documented shape: a signing certificate (a test one: RSA 2048, self-signed, subject
Organization "Microsoft Corporation" unless told otherwise) served as DER from a local URL,
and event bodies POSTed with `Authorization: Signature <base64 RSA-SHA256 of the body>`,
`x-ms-certificate-url` and `x-ms-signature-algorithm: rsa-sha256`. Microsoft's own
certificate is never involved: porgate accepts this one only where the local URL's host is
allowed (`PORGATE_PARTNER_CENTER_WEBHOOK_CERT_HOSTS=http://127.0.0.1:PORT`).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.common.health import HttpServer
from services.common.ports import free_port

CERT_PATH = "/cert/pcnotifications-dispatch.microsoft.com.cer"


def signing_certificate(
    key: rsa.RSAPrivateKey,
    *,
    organization: str = "Microsoft Corporation",
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "pcnotifications-dispatch.microsoft.com"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from or now - timedelta(days=1))
        .not_valid_after(valid_until or now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


class EventSigner:
    def __init__(self, **certificate: Any) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certificate = signing_certificate(self.key, **certificate)
        self.certificate_url = ""  # set by serving()
        self.certificate_fetches = 0
        self.app = Starlette(routes=[Route(CERT_PATH, self._certificate, methods=["GET"])])

    async def _certificate(self, request: Request) -> Response:
        self.certificate_fetches += 1
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return Response(der, media_type="application/pkix-cert")

    def sign(self, body: bytes) -> str:
        signature = self.key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Authorization": f"Signature {self.sign(body)}",
            "x-ms-certificate-url": self.certificate_url,
            "x-ms-signature-algorithm": "rsa-sha256",
        }

    async def deliver(self, url: str, body: bytes, client: httpx.AsyncClient) -> httpx.Response:
        """POST one signed event, as Partner Center does on each of its delivery attempts."""
        return await client.post(url, content=body, headers=self.headers(body))


def event_body(
    name: str,
    resource_uri: str | None,
    *,
    resource_name: str = "",
    changed_at: datetime | None = None,
) -> bytes:
    """An event in the shape of Microsoft's examples (seven fractional digits, +00:00)."""
    at = (changed_at or datetime.now(UTC)).astimezone(UTC)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"
    return json.dumps(
        {
            "EventName": name,
            "ResourceUri": resource_uri,
            "ResourceName": resource_name,
            "AuditUri": None,
            "ResourceChangeUtcDate": stamp,
        },
        indent=4,
    ).encode()


def relationship_event(action: str, relationship_id: str, **kw: Any) -> bytes:
    """granular-admin-relationship-{approved|activated|terminated|expired}."""
    return event_body(
        f"granular-admin-relationship-{action}",
        f"https://partner.microsoft.com/granularAdminRelationships/{relationship_id}",
        resource_name="GranularAdminRelationship",
        **kw,
    )


def customer_accepted_event(customer_id: str, **kw: Any) -> bytes:
    return event_body(
        "indirect-reseller-relationship-accepted-by-customer",
        f"https://api.partnercenter.microsoft.com/v1/customers/{customer_id}",
        resource_name="Customer",
        **kw,
    )


@contextlib.asynccontextmanager
async def serving(signer: EventSigner, port: int | None = None) -> AsyncIterator[str]:
    """Serve the certificate on localhost; yields the origin to allow as its host."""
    port = port or free_port()
    server = HttpServer(signer.app, "127.0.0.1", port)
    await server.start()
    origin = f"http://127.0.0.1:{port}"
    signer.certificate_url = origin + CERT_PATH
    try:
        yield origin
    finally:
        await server.stop()
