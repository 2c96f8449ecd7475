"""`GET /v1/partners/{partnerId}/explanation`: the decision table's walk for the key's
distributor, in the caller's language (X-Locale, else Accept-Language; en or ja).

Beyond Partner Center's API: it answers from porgate's registry, the validator's read, so
its codes are the ones the validator would give now (header X-Porgate-Authority: registry).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contracts.errors import language_of
from services.api.auth import Authenticator
from services.api.errors import error
from services.domain.regions import RegionTable
from services.por_validator.explanation import explanation_for
from services.rendering.explanation import render

log = logging.getLogger(__name__)
MAX_PARTNER_ID = 256  # as a wire partnerIdOnRecord


def partner_id_or_refusal(request: Request) -> str | Response:
    """The route's `partnerId`, or the 400 that refuses one too long to be a PLA id."""
    partner_id = request.path_params["partnerId"]
    if len(partner_id) > MAX_PARTNER_ID:
        return error(400, "bad_request", f"partnerId over {MAX_PARTNER_ID} characters")
    return partner_id


def explanation_endpoint(
    auth: Authenticator, regions: RegionTable, state: dict
) -> Callable[[Request], Awaitable[Response]]:
    """The route's function, given the app's keys, regions and state (its `pool`)."""

    async def explanation(request: Request) -> Response:
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
            async with state["pool"].acquire() as conn:
                walk = await explanation_for(conn, partner_id, distributor_id, regions)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.error("registry unavailable", extra={"error": repr(exc)})
            return error(
                503,
                "unavailable",
                "the partner registry is unavailable; retry later",
                **{"Retry-After": "5"},
            )
        return JSONResponse(
            render(walk, language),
            headers={"X-Porgate-Authority": "registry", "Content-Language": language},
        )

    return explanation
