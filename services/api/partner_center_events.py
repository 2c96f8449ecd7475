"""`POST /v1/partner-center/events?distributorId=ID`: Partner Center's webhook events.

Verified before anything else is read (services/partner_center/event_signature.py): a body
over PORGATE_PARTNER_CENTER_WEBHOOK_MAX_BODY is 413; an unsigned or forged request, a
certificate from another host, out of its validity or not Microsoft's, or an event older
than PORGATE_PARTNER_CENTER_WEBHOOK_MAX_AGE_S (a replay) is 401; none is recorded. The
signature says only that Partner Center sent the event, not for which distributor: the URL's
distributorId must be one in PORGATE_PARTNER_CENTER_CREDENTIALS_FILE (401 otherwise, nothing
recorded), so a signed event cannot be filed under a distributor porgate does not serve. A verified
event goes to partner-center-sync's inbox, keyed by the distributor and the body's SHA-256,
so Partner Center's redeliveries (up to 10) have one effect; the events porgate acts on are
queued there for its worker, which reads what they name (event_worker.py). The answer is 200
once the event is recorded: Partner Center stops retrying.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import asyncpg
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from services.api import metrics
from services.api.errors import error
from services.api.models import ErrorBody, EventReceived
from services.api.openapi import Operation, Reply
from services.partner_center import event_signature as sig
from services.partner_center.credentials import CredentialsError, load_credentials
from services.partner_center.events import NotAnEvent, PartnerCenterEvent, parse_event
from services.partner_center_sync import event_store
from services.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/v1/partner-center/events"
_DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _error(description: str, *headers: str) -> Reply:
    return Reply(description, ErrorBody, headers=headers)


PARTNER_CENTER_EVENTS = Operation(
    summary="Receive Partner Center's webhook events (its registration's WebhookUrl)",
    description=(
        "Partner Center POSTs {EventName, ResourceUri, ResourceName, AuditUri, "
        "ResourceChangeUtcDate}, signed: RSA-SHA256 over the raw body, the signature in "
        "`Authorization: Signature <base64>` (or x-ms-signature), x-ms-signature-algorithm "
        "rsa-sha256, the certificate at x-ms-certificate-url (fetched only from "
        "PORGATE_PARTNER_CENTER_WEBHOOK_CERT_HOSTS). No API key: the signature is the "
        "authentication. Register it with `porgate partner-center webhooks register`."
    ),
    request=PartnerCenterEvent,
    request_example={
        "EventName": "granular-admin-relationship-terminated",
        "ResourceUri": "https://api.partnercenter.microsoft.com/v1/granularAdminRelationships/{id}",
        "ResourceName": "GranularAdminRelationship",
        "AuditUri": None,
        "ResourceChangeUtcDate": "2026-01-10T09:00:00.1234567+00:00",
    },
    query_params=(("distributorId", "The distributor whose registration this URL is", True),),
    request_headers=("MS-CorrelationId", "MS-RequestId"),
    tags=("partner-center",),
    replies={
        200: Reply("Recorded (or a redelivery of an event recorded before)", EventReceived),
        400: _error("bad_request: signed, but not an event, or no distributorId"),
        401: _error(
            "unauthorized: unsigned, forged, an untrusted certificate, stale, or a distributorId"
            " not in PORGATE_PARTNER_CENTER_CREDENTIALS_FILE"
        ),
        413: _error("payload_too_large: a body over PORGATE_PARTNER_CENTER_WEBHOOK_MAX_BODY"),
        500: _error("internal: a defect in porgate (never expected)"),
        503: _error("unavailable: the certificate's host or the database; retry", "Retry-After"),
    },
)


def partner_center_events_endpoint(settings: Settings, state: dict):
    max_body = settings.partner_center_webhook_max_body
    max_age = timedelta(seconds=settings.partner_center_webhook_max_age_s)

    def rejected(status: int, code: str, why: str, event: str = "unknown") -> Response:
        metrics.RECEIVED.labels(event, "rejected").inc()
        log.warning("Partner Center event rejected", extra={"status": status, "error": why})
        return error(status, code, why)

    async def receive(request: Request) -> Response:
        body = await _body_within(request, max_body)
        if body is None:
            return rejected(413, "payload_too_large", f"body over {max_body} bytes")
        try:
            signed = sig.signed_request(request.headers)
            cert = await state["pc_certificates"].certificate(signed.certificate_url)
            sig.verify(
                body,
                signed.signature,
                cert,
                now=datetime.now(UTC),
                organization=settings.partner_center_webhook_cert_org,
            )
        except sig.Rejected as exc:
            return rejected(401, "unauthorized", f"not signed by Partner Center: {exc}")
        except sig.CertificateUnavailable as exc:
            log.error("Partner Center's certificate unavailable", extra={"error": str(exc)})
            return error(503, "unavailable", f"{exc}; retry later", **{"Retry-After": "30"})
        try:
            parsed, event = parse_event(body)
        except NotAnEvent as exc:
            return rejected(400, "bad_request", f"signed, but not a Partner Center event: {exc}")
        name = event.event_name
        if datetime.now(UTC) - event.changed_at > max_age:
            return rejected(401, "unauthorized", "stale: ResourceChangeUtcDate too old", name)
        distributor_id = _distributor_id(request.scope["query_string"])
        if distributor_id is None:
            return rejected(400, "bad_request", "the URL has no single valid distributorId", name)
        if distributor_id not in state["pc_distributors"]:
            return rejected(
                401,
                "unauthorized",
                "the URL's distributorId is not a distributor of"
                " PORGATE_PARTNER_CENTER_CREDENTIALS_FILE: the credentials file names the"
                " distributors whose events are accepted",
                name,
            )
        act = event.action != "none"
        try:
            new = await event_store.receive(
                state["pc_events_pool"],
                distributor_id,
                hashlib.sha256(body).hexdigest(),
                name,
                event.resource_uri,
                event.changed_at,
                parsed,
                act=act,
            )
        except _DB_ERRORS as exc:
            log.error("Partner Center event not recorded", extra={"error": repr(exc)})
            return error(503, "unavailable", "retry later", **{"Retry-After": "5"})
        outcome = "duplicate" if not new else "queued" if act else "ignored"
        metrics.RECEIVED.labels(name, outcome).inc()
        log.info(
            "Partner Center event received",
            extra={"distributor_id": distributor_id, "event_name": name, "outcome": outcome},
        )
        return JSONResponse({"eventName": name, "outcome": outcome})

    return receive


def webhook_distributors(settings: Settings) -> frozenset[str]:
    """The distributors whose events are accepted: those of the credentials file (none without
    one). A file that does not load refuses every event rather than stopping the API."""
    try:
        return frozenset(load_credentials(settings.partner_center_credentials_file))
    except CredentialsError as exc:
        log.error("Partner Center events refused: %s", exc)
        return frozenset()


def _distributor_id(query: bytes) -> str | None:
    """The one distributorId of the query, decoded strictly: an id PostgreSQL can hold, or None.
    Starlette's query_params would turn bytes that are not UTF-8 into U+FFFD, a different id."""
    try:
        pairs = parse_qsl(query.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    values = [value.strip() for name, value in pairs if name == "distributorId"]
    if len(values) != 1 or not values[0] or len(values[0]) > 256 or "\x00" in values[0]:
        return None
    return values[0]


async def _body_within(request: Request, limit: int) -> bytes | None:
    """The raw body (the signature covers its bytes), or None once it runs past `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    except ClientDisconnect:
        return b""
    return b"".join(chunks)
