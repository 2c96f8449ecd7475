"""What each route of the API answers (statuses, headers, bodies), and the routes serving the
generated OpenAPI document at /openapi.json and Swagger UI at /docs from vendored files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from services.api.models import ErrorBody, Health, Live, ValidateResellersResponse
from services.api.openapi import Operation, Reply, openapi_document
from services.api.remediation import RECHECK, RECHECK_PATH, REMEDIATION, REMEDIATION_PATH
from services.api.validation import MAX_IDS, ValidateResellersRequest
from services.console.web import SECURITY_HEADERS, SecurityHeaders

STATIC = Path(__file__).parent / "static" / "swagger-ui"
VALIDATE_PATH = "/v1/partners/validateresellers"


def _error(description: str, *headers: str) -> Reply:
    return Reply(description, ErrorBody, headers=headers)


VALIDATE = Operation(
    summary="Validate the Partner of Record of resellers (Partner Center's validateresellers)",
    description=(
        "Partner Center's request and response, answered for the distributor of the API key: "
        "from porgate's registry, or through Partner Center when PORGATE_POR_AUTHORITY is "
        f"partner-center. At most {MAX_IDS} ids; unknown body fields are ignored."
    ),
    request=ValidateResellersRequest,
    request_example={"partnerIds": ["12345", "234567"]},
    secured=True,
    request_headers=("MS-CorrelationId", "MS-RequestId", "X-Locale", "Accept-Language"),
    tags=("validation",),
    replies={
        200: Reply(
            "One result per requested id",
            ValidateResellersResponse,
            headers=("X-Porgate-Authority",),
        ),
        400: _error('bad_request: the body is not {"partnerIds": [strings]} within the limits'),
        401: _error("unauthorized: no API key, or not a known one", "WWW-Authenticate"),
        413: _error("payload_too_large: a body over 64 KiB"),
        429: _error(
            "rate_limited: over PORGATE_API_RATE_PER_KEY requests a second, or too many wrong"
            " keys from this client (or for this key)",
            "Retry-After",
        ),
        500: _error("internal: a defect in porgate (never expected)"),
        503: _error(
            "unavailable (the registry) or partner_center_unavailable: retry later", "Retry-After"
        ),
    },
)
EXPLANATION_PATH = "/v1/partners/{partnerId}/explanation"
EXPLANATION = Operation(
    summary="Why a PLA id passes or fails: the decision table's walk for the key's distributor",
    description=(
        "Each step of the decision table, the registry facts it read (value; for the "
        "distributor's own rows, the as-of time and the id of the event that set them), whether it passed or which code it yields, and the "
        "remediation, in the language of X-Locale or Accept-Language (en or ja). From "
        "porgate's registry, as the validator reads it."
    ),
    secured=True,
    path_params=(("partnerId", "The PLA id to explain"),),
    request_headers=("MS-CorrelationId", "MS-RequestId", "X-Locale", "Accept-Language"),
    tags=("validation",),
    replies={
        200: Reply("The walk", headers=("X-Porgate-Authority",)),
        400: _error("bad_request: a partnerId over 256 characters"),
        401: _error("unauthorized: no API key, or not a known one", "WWW-Authenticate"),
        429: _error(
            "rate_limited: too many wrong keys from this client (or for this key)", "Retry-After"
        ),
        500: _error("internal: a defect in porgate (never expected)"),
        503: _error("unavailable: the registry; retry later", "Retry-After"),
    },
)
_HEALTH = {
    200: Reply("Every check passed, or degraded (a remote service is down)", Health),
    503: Reply("The database or the broker does not answer", Health),
}
OPERATIONS: dict[str, dict[str, Operation]] = {
    VALIDATE_PATH: {"POST": VALIDATE},
    EXPLANATION_PATH: {"GET": EXPLANATION},
    REMEDIATION_PATH: {"GET": REMEDIATION},
    RECHECK_PATH: {"POST": RECHECK},
    "/healthz": {"GET": Operation("Health: database and broker", _HEALTH, tags=("operations",))},
    "/readyz": {"GET": Operation("Readiness: as /healthz", _HEALTH, tags=("operations",))},
    "/livez": {
        "GET": Operation(
            "Liveness: the process answers", {200: Reply("Alive", Live)}, tags=("operations",)
        )
    },
    "/asyncapi.json": {
        "GET": Operation(
            "The AsyncAPI document of porgate's topics",
            {200: Reply("AsyncAPI 3"), 404: _error("not_found: this process has none")},
            tags=("documents",),
        )
    },
    "/openapi.json": {
        "GET": Operation("This document", {200: Reply("OpenAPI 3.1")}, tags=("documents",))
    },
    "/docs": {
        "GET": Operation(
            "Swagger UI on this document",
            {200: Reply("HTML page", media_type="text/html")},
            tags=("documents",),
        )
    },
}


def _porgate_version() -> str:
    try:
        return version("porgate")
    except PackageNotFoundError:
        return "0.0.0"


def docs_routes(app_routes: Callable[[], Iterable[BaseRoute]]) -> list[BaseRoute]:
    """/openapi.json (built once, from the app's routes at the first request), /docs and its
    assets. `app_routes` is called late: the routes include these very ones."""
    cached: list[bytes] = []

    async def openapi(request: Request) -> Response:
        if not cached:
            document = openapi_document(
                app_routes(),
                OPERATIONS,
                title="porgate API",
                version=_porgate_version(),
                description=(
                    "Partner Center's POR validation (validateresellers) and its conventions: "
                    "MS-CorrelationId and MS-RequestId echoed, X-Locale, errors as "
                    '{"code", "description", "data", "source"}, 429 with Retry-After.'
                ),
            )
            cached.append(json.dumps(document).encode())
        return Response(cached[0], media_type="application/json")

    async def docs(request: Request) -> Response:
        # The console's origin: the same headers (no framing, no inline script, nosniff).
        return HTMLResponse(_DOCS_PAGE, headers=SECURITY_HEADERS)

    return [
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Mount(
            "/docs/static",
            app=SecurityHeaders(StaticFiles(directory=STATIC)),
            name="docs-static",
        ),
    ]


_DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>porgate API</title>
    <link rel="stylesheet" href="docs/static/swagger-ui.css">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/static/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="docs/static/porgate-docs.js" charset="UTF-8"></script>
  </body>
</html>
"""
