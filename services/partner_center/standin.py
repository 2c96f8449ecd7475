"""A Partner Center stand-in, for development and tests.

It stands in for a remote service no test machine can reach (Entra ID and Partner Center),
following Microsoft's documented shapes (docs/microsoft.md), as the Graph
server of the GDAP tests does: the token endpoint (client-credentials and refresh-token
grants), `POST /v1/partners/validateresellers` answering from the registry it is given per
tenant, and `GET /v1/relationships` with continuation-token paging. Which tenant asks is
the tenant its token was issued for, as at Microsoft. `GET /v1/customers/{id}/relationships`
lists a customer's indirect resellers. `GET /v1/compliance/{program}/agreementstatus`
answers whether a PLA id's reseller signed the Microsoft Partner Agreement (by PLA id only:
porgate never asks by tenant id).

On demand it throttles (429 + Retry-After), fails (500), hangs, expires every token, or
answers 503 to one tenant's calls (one distributor's Partner Center down); it
counts calls per endpoint and keeps the headers each call carried. Where Microsoft documents
nothing it chooses: an id missing from the registry is invalid with 800016 (incorrect PLA
id); an app-only token on the relationships list gets 403; a refresh token works once (Entra
ID is more lenient: the stand-in proves the client keeps the rotated one).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracts.errors import ErrorCode
from services.common.health import HttpServer
from services.common.ports import free_port

SCOPE = "https://api.partnercenter.microsoft.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
INDIRECT_RESELLER_OF = "IsIndirectCloudSolutionProviderOf"
TOKEN, VALIDATE, RELATIONSHIPS = "token", "validateresellers", "relationships"
AGREEMENT_STATUS, CUSTOMER_RELATIONSHIPS = "agreementstatus", "customer-relationships"


@dataclass(frozen=True)
class Verdict:
    valid: bool
    error_code: int | None = None
    description: str | None = None


UNKNOWN_ID = Verdict(False, ErrorCode.INCORRECT_PLA_ID, "The PLA ID is incorrect.")


@dataclass
class StandinTenant:
    """One distributor's Partner Center tenant: its app registration and what it answers."""

    client_id: str
    client_secret: str
    registry: dict[str, Verdict] = field(default_factory=dict)
    relationships: list[dict[str, Any]] = field(default_factory=list)  # PartnerRelationship JSON
    refresh_token: str | None = None  # the one refresh token it accepts now
    # MPA signed or not, by PLA id, as this tenant's region sees it; an id not here: signed.
    agreements: dict[str, bool] = field(default_factory=dict)
    # Customer tenant id -> its indirect resellers' tenant ids (GET /v1/customers/{id}/relationships).
    customer_resellers: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedCall:
    endpoint: str
    tenant_id: str | None  # whose token it carried; None when the token was refused
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


@dataclass(frozen=True)
class _Issued:
    tenant_id: str
    user: bool  # issued through a refresh token (app+user)
    expires_at: float


class PartnerCenterStandin:
    def __init__(
        self,
        tenants: dict[str, StandinTenant],
        *,
        token_lifetime_s: float = 3600,
        page_size: int = 100,
        hang_s: float = 5.0,
        delay_s: float = 0.0,
    ) -> None:
        self.tenants = tenants
        self.token_lifetime_s = token_lifetime_s
        self.page_size = page_size
        self.hang_s = hang_s
        self.delay_s = delay_s  # added to every API answer, as a far-away service would
        self.calls: Counter[str] = Counter()
        self.received: list[ReceivedCall] = []
        self.in_flight = 0
        self.max_in_flight = 0
        # (kind, value, calls left): a count, not one entry per call, so "fail until cleared"
        # is fail(calls=10**9) at no cost.
        self._faults: deque[list] = deque()
        # Tenants whose API calls all answer 503: one distributor's Partner Center down.
        self.down: set[str] = set()
        self._tokens: dict[str, _Issued] = {}
        self._continuations: dict[str, tuple[str, int]] = {}
        self._stopping = asyncio.Event()
        self.app = Starlette(
            routes=[
                Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
                Route("/v1/partners/validateresellers", self._validate, methods=["POST"]),
                Route("/v1/relationships", self._relationships, methods=["GET"]),
                Route(
                    "/v1/compliance/{program}/agreementstatus",
                    self._agreement_status,
                    methods=["GET"],
                ),
                Route(
                    "/v1/customers/{customer}/relationships",
                    self._customer_relationships,
                    methods=["GET"],
                ),
            ]
        )

    # Controls: faults apply to the next API calls (not token requests), in the order given.
    def throttle(self, calls: int = 1, retry_after_s: float = 1.0) -> None:
        self._faults.append(["throttle", retry_after_s, calls])

    def fail(self, calls: int = 1) -> None:
        self._faults.append(["fail", 0.0, calls])

    def hang(self, calls: int = 1, seconds: float | None = None) -> None:
        self._faults.append(["hang", self.hang_s if seconds is None else seconds, calls])

    def clear_faults(self) -> None:
        self._faults.clear()

    def take_down(self, tenant_id: str) -> None:
        """Every API call with this tenant's token answers 503 until `bring_up`."""
        self.down.add(tenant_id)

    def bring_up(self, tenant_id: str) -> None:
        self.down.discard(tenant_id)

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (401)."""
        self._tokens.clear()

    def calls_to(self, endpoint: str) -> list[ReceivedCall]:
        return [call for call in self.received if call.endpoint == endpoint]

    def stop(self) -> None:
        self._stopping.set()  # hung answers end, so the server can shut down

    async def _token(self, request: Request) -> Response:
        self.calls[TOKEN] += 1
        # Parsed by hand: starlette's form parser needs python-multipart.
        form = dict(parse_qsl((await request.body()).decode()))
        tenant_id = request.path_params["tenant"]
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            return _oauth_error(
                400, "invalid_request", f"AADSTS90002: Tenant '{tenant_id}' not found."
            )
        if (
            form.get("client_id") != tenant.client_id
            or form.get("client_secret") != tenant.client_secret
        ):
            return _oauth_error(
                401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
            )
        # Entra ID issues the same app registration tokens for Microsoft Graph too.
        if form.get("scope") not in (SCOPE, GRAPH_SCOPE):
            return _oauth_error(400, "invalid_scope", f"AADSTS70011: scope must be {SCOPE}.")
        grant = form.get("grant_type")
        body: dict[str, Any] = {"token_type": "Bearer", "expires_in": self.token_lifetime_s}
        if grant == "refresh_token":
            if tenant.refresh_token is None or form.get("refresh_token") != tenant.refresh_token:
                return _oauth_error(400, "invalid_grant", "AADSTS70000: refresh token invalid.")
            tenant.refresh_token = body["refresh_token"] = f"rt-{secrets.token_hex(8)}"
        elif grant != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", f"{grant} is not supported here.")
        access_token = f"at-{secrets.token_hex(12)}"
        self._tokens[access_token] = _Issued(
            tenant_id, grant == "refresh_token", time.monotonic() + self.token_lifetime_s
        )
        return JSONResponse({**body, "access_token": access_token})

    async def _validate(self, request: Request) -> Response:
        async def answer(issued: _Issued) -> Response:
            try:
                ids = (await request.json())["partnerIds"]
                if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                return error_response(400, "400", "partnerIds must be a list of strings")
            registry = self.tenants[issued.tenant_id].registry
            return JSONResponse(
                {"validationResults": [_result(i, registry.get(i, UNKNOWN_ID)) for i in ids]}
            )

        return await self._api(VALIDATE, request, answer)

    async def _relationships(self, request: Request) -> Response:
        async def answer(issued: _Issued) -> Response:
            if not issued.user:
                return error_response(403, "403", "This API needs app+user authentication.")
            if request.query_params.get("relationship_type") != INDIRECT_RESELLER_OF:
                return error_response(
                    400, "400", "relationship_type must be IsIndirectCloudSolutionProviderOf"
                )
            start = 0
            if request.query_params.get("seekOperation") == "Next":
                held = self._continuations.get(request.headers.get("ms-continuationtoken", ""))
                if held is None or held[0] != issued.tenant_id:
                    return error_response(400, "400", "unknown continuation token")
                start = held[1]
            items = self.tenants[issued.tenant_id].relationships
            body: dict[str, Any] = {
                "totalCount": len(items),
                "items": items[start : start + self.page_size],
                "attributes": {"objectType": "Collection"},
            }
            headers = {}
            if start + self.page_size < len(items):
                token = secrets.token_urlsafe(12)
                self._continuations[token] = (issued.tenant_id, start + self.page_size)
                headers["MS-ContinuationToken"] = token
                body["links"] = {
                    "next": {
                        "uri": f"/relationships?relationship_type={INDIRECT_RESELLER_OF}&seekOperation=Next",
                        "method": "GET",
                        "headers": [{"key": "MS-ContinuationToken", "value": token}],
                    }
                }
            return JSONResponse(body, headers=headers)

        return await self._api(RELATIONSHIPS, request, answer)

    async def _agreement_status(self, request: Request) -> Response:
        # The 400s of Microsoft's page: code 2001 with neither id, 2000 with both or a bad one.
        async def answer(issued: _Issued) -> Response:
            if not issued.user:
                return error_response(403, "403", "This API needs app+user authentication.")
            query = {k.lower(): v for k, v in request.query_params.items()}
            mpn_id, tenant_id = query.get("mpnid"), query.get("tenantid")
            if not mpn_id and not tenant_id:
                return error_response(400, 2001, "Both MPN Id and Tenant Id cannot be empty.")
            if mpn_id and tenant_id:
                return error_response(400, 2000, "Both MPN Id and Tenant Id should not be passed.")
            if mpn_id is None or not mpn_id.isdigit():
                return error_response(400, 2000, "MPN Id must be numeric.")
            signed = self.tenants[issued.tenant_id].agreements.get(mpn_id, True)
            return JSONResponse({"isAgreementSigned": signed})

        return await self._api(AGREEMENT_STATUS, request, answer)

    async def _customer_relationships(self, request: Request) -> Response:
        async def answer(issued: _Issued) -> Response:
            if not issued.user:
                return error_response(403, "403", "This API needs app+user authentication.")
            known = self.tenants[issued.tenant_id].customer_resellers
            customer = request.path_params["customer"]
            if customer not in known:
                return error_response(404, "600008", f"Customer {customer} was not found.")
            items = [
                {"id": tid, "name": tid, "relationshipType": "IsIndirectResellerOf",
                 "attributes": {"objectType": "PartnerRelationship"}}
                for tid in known[customer]
            ]  # fmt: skip
            return JSONResponse(
                {
                    "totalCount": len(items),
                    "items": items,
                    "attributes": {"objectType": "Collection"},
                }
            )

        return await self._api(CUSTOMER_RELATIONSHIPS, request, answer)

    async def _api(self, endpoint: str, request: Request, answer) -> Response:
        """What every API call goes through: counting, faults, the token's tenant, echoes."""
        self.calls[endpoint] += 1
        issued = self._issued(request)
        self.received.append(
            ReceivedCall(
                endpoint, issued and issued.tenant_id, dict(request.headers), time.monotonic()
            )
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            response = await self._fault()
            if response is None and issued is not None and issued.tenant_id in self.down:
                response = error_response(503, "503", "Service unavailable.")
            if response is None:
                if issued is None:
                    response = error_response(
                        401, "401", "The access token is missing, invalid or expired."
                    )
                else:
                    response = await answer(issued)
        finally:
            self.in_flight -= 1
        for name in ("MS-RequestId", "MS-CorrelationId", "X-Locale"):
            if name in request.headers:
                response.headers[name] = request.headers[name]
        return response

    async def _fault(self) -> Response | None:
        if not self._faults:
            return None
        kind, value, left = self._faults[0]
        if left <= 1:
            self._faults.popleft()
        else:
            self._faults[0][2] = left - 1
        if kind == "throttle":
            return error_response(429, "429", "Too many requests.", {"Retry-After": f"{value:g}"})
        if kind == "fail":
            return error_response(500, "500", "Internal server error.")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), value)  # hang, past the client's timeout
        return None

    def _issued(self, request: Request) -> _Issued | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        issued = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if issued is None or time.monotonic() >= issued.expires_at:
            return None
        return issued


def _result(partner_id: str, verdict: Verdict) -> dict[str, Any]:
    result: dict[str, Any] = {"partnerId": partner_id, "isValidPartnerIdOnRecord": verdict.valid}
    if not verdict.valid:
        result["errorCode"] = verdict.error_code
        result["errorDescription"] = verdict.description
    return result


def error_response(
    status: int, code: str | int, description: str, headers: dict | None = None
) -> Response:
    body = {"code": code, "description": description, "data": [], "source": "PartnerCenter"}
    return JSONResponse(body, status_code=status, headers=headers)


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


@contextlib.asynccontextmanager
async def serving(standin: PartnerCenterStandin, port: int | None = None) -> AsyncIterator[str]:
    """Serve the stand-in on localhost (a free port unless given); yields its base URL, which
    is both `PORGATE_ENTRA_AUTHORITY_URL` and `PORGATE_PARTNER_CENTER_URL`."""
    port = port or free_port()
    server = HttpServer(standin.app, "127.0.0.1", port)
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        standin.stop()
        await server.stop()
