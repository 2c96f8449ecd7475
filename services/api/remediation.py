"""`GET /v1/partners/{partnerId}/remediation`: what to do about a PLA id for the key's
distributor, as a message to forward; `POST /v1/partners/{partnerId}/recheck`: ask the
authority again now and release the blocked transactions that pass (rate-limited per key).

Beyond Partner Center's API, in its conventions (errors, ids, X-Locale).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
from aiokafka.errors import KafkaError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contracts.errors import language_of
from services.api.auth import Authenticator, presented_key
from services.api.errors import error
from services.api.explanation import partner_id_or_refusal
from services.api.models import ErrorBody
from services.api.openapi import Operation, Reply
from services.common.rate_limit import RateLimiter
from services.domain.regions import RegionTable
from services.partner_center.errors import PartnerCenterError, Throttled
from services.por_validator.recheck import Rechecker
from services.por_validator.remediation import PartnerCenterAuthority, remediation_for
from services.rendering.remediation import to_json
from services.settings import Settings

log = logging.getLogger(__name__)
REMEDIATION_PATH = "/v1/partners/{partnerId}/remediation"
RECHECK_PATH = "/v1/partners/{partnerId}/recheck"
_HEADERS = ("MS-CorrelationId", "MS-RequestId", "X-Locale", "Accept-Language")
_DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _error(description: str, *headers: str) -> Reply:
    return Reply(description, ErrorBody, headers=headers)


REMEDIATION = Operation(
    summary="What to do about a PLA id for the key's distributor: steps, and what would pass",
    description=(
        "Concrete steps per cause (the failed steps of the decision table, or Partner Center's "
        "code where it is the authority, with the reseller's MPA status), the PLA ids of the "
        "same organisation that pass now, and the whole as a message to forward (`message`), "
        "in the language of X-Locale or Accept-Language (en or ja)."
    ),
    secured=True,
    path_params=(("partnerId", "The PLA id"),),
    request_headers=_HEADERS,
    tags=("validation",),
    replies={
        200: Reply("The remediation", headers=("X-Porgate-Authority",)),
        400: _error("bad_request: a partnerId over 256 characters"),
        401: _error("unauthorized: no API key, or not a known one", "WWW-Authenticate"),
        429: _error(
            "rate_limited: too many wrong keys from this client (or for this key)", "Retry-After"
        ),
        500: _error("internal: a defect in porgate (never expected)"),
        503: _error("unavailable: the registry; retry later", "Retry-After"),
    },
)
RECHECK = Operation(
    summary="Re-check now: ask the authority again and release what passes",
    description=(
        "Bypasses the answer cache: asks Partner Center (or reads the registry, when it is "
        "the authority) about the PLA id for the key's distributor, records the answer, and "
        "re-decides that distributor's blocked transactions depending on it: each one that "
        "passes is released once, by an accepted decision superseding it. Answers what "
        "changed. At most PORGATE_RECHECK_RATE_PER_KEY re-checks a second per key."
    ),
    secured=True,
    path_params=(("partnerId", "The PLA id"),),
    request_headers=("MS-CorrelationId", "MS-RequestId"),
    tags=("validation",),
    replies={
        200: Reply("What the re-check found and released", headers=("X-Porgate-Authority",)),
        400: _error("bad_request: a partnerId over 256 characters"),
        401: _error("unauthorized: no API key, or not a known one", "WWW-Authenticate"),
        429: _error(
            "rate_limited: over PORGATE_RECHECK_RATE_PER_KEY re-checks, or too many wrong keys",
            "Retry-After",
        ),
        500: _error("internal: a defect in porgate (never expected)"),
        503: _error(
            "unavailable (the registry, the broker) or partner_center_unavailable", "Retry-After"
        ),
    },
)

Endpoint = Callable[[Request], Awaitable[Response]]


def _authority(settings: Settings, state: dict) -> PartnerCenterAuthority | None:
    client = state.get("partner_center_client")
    if client is None:
        return None
    if "partner_center_authority" not in state:
        state["partner_center_authority"] = PartnerCenterAuthority.of(
            client, settings.partner_center_cache_ttl_s
        )
    return state["partner_center_authority"]


def remediation_endpoint(
    settings: Settings, auth: Authenticator, regions: RegionTable, state: dict
) -> Endpoint:
    async def remediation(request: Request) -> Response:
        distributor_id = auth.distributor_or_refusal(request)
        if isinstance(distributor_id, Response):
            return distributor_id
        partner_id = partner_id_or_refusal(request)
        if isinstance(partner_id, Response):
            return partner_id
        language = language_of(
            request.headers.get("x-locale") or request.headers.get("accept-language")
        )
        try:
            found = await remediation_for(
                state["pool"],
                partner_id,
                distributor_id,
                regions,
                language,
                _authority(settings, state),
            )
        except _DB_ERRORS as exc:
            log.error("registry unavailable", extra={"error": repr(exc)})
            return error(503, "unavailable", "the registry is unavailable", **{"Retry-After": "5"})
        return JSONResponse(
            to_json(found),
            headers={"X-Porgate-Authority": found.authority, "Content-Language": language},
        )

    return remediation


def recheck_endpoint(
    settings: Settings, auth: Authenticator, regions: RegionTable, state: dict
) -> Endpoint:
    limiter = RateLimiter(settings.recheck_rate_per_key, time.monotonic)

    async def recheck(request: Request) -> Response:
        distributor_id = auth.distributor_or_refusal(request)
        if isinstance(distributor_id, Response):
            return distributor_id
        key = presented_key(request.headers)
        digest = hashlib.sha256((key or "").encode()).digest()
        if (wait := limiter.retry_after(digest)) is not None:
            return error(
                429,
                "rate_limited",
                f"over {settings.recheck_rate_per_key:g} re-checks a second for this key",
                **{"Retry-After": str(wait)},
            )
        partner_id = partner_id_or_refusal(request)
        if isinstance(partner_id, Response):
            return partner_id
        try:
            result = await rechecker(settings, regions, state).recheck(partner_id, distributor_id)
        except PartnerCenterError as exc:
            wait = exc.retry_after_s if isinstance(exc, Throttled) else 30.0
            return error(
                503,
                "partner_center_unavailable",
                f"Partner Center gave no answer: {exc}"[:300],
                **{"Retry-After": str(max(1, round(wait)))},
            )
        except (*_DB_ERRORS, KafkaError) as exc:
            log.error("re-check failed", extra={"error": repr(exc)})
            return error(503, "unavailable", "retry later", **{"Retry-After": "5"})
        return JSONResponse(result.to_json(), headers={"X-Porgate-Authority": result.authority})

    return recheck


def rechecker(settings: Settings, regions: RegionTable, state: dict) -> Rechecker:
    """The API process's re-checker: its pool and producer, Partner Center if configured."""
    return Rechecker(
        pool=state["pool"],
        producer=state["producer"],
        regions=regions,
        enforcement_start=settings.enforcement_start,
        window=timedelta(seconds=settings.release_window),
        topic_prefix=settings.topic_prefix,
        client=state.get("partner_center_client"),
        cache_ttl_s=settings.partner_center_cache_ttl_s,
    )
