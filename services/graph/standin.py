"""A Microsoft Graph stand-in for GDAP, for development and tests.

It stands in for a remote service no test machine can reach, following Microsoft's
documented shapes (docs/microsoft.md, Graph v1.0 reference): the token
endpoint (client credentials, Graph's scope), and per tenant (the tenant the token was
issued for, as at Microsoft) `delegatedAdminRelationships`: the list (`$top` at most 300,
`$filter=id eq '...'`, paging by `@odata.nextLink`), one relationship (with `@odata.etag` and
`ETag`), terminate requests (201, `Location`; `created`, then `pending`, then `succeeded` or
`failed` after a number of reads of the request), and DELETE of a `created` relationship with
`If-Match`. On demand it throttles (429 + Retry-After), fails (500), answers 404 for a
relationship it still lists, and fails a relationship's terminations.

Where Microsoft documents nothing it chooses: a terminate request for a relationship that is
not active is 409; a DELETE of one that is not `created` is 409, without `If-Match` 428, with
a stale ETag 412. Token requests with another scope go to the Partner Center stand-in when one
is given, so one local server plays Entra ID for both.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.common.health import HttpServer
from services.common.ports import free_port
from services.graph.client import MAX_TOP, RELATIONSHIPS
from services.graph.models import RESELLER_TYPE
from services.partner_center.auth import GRAPH_SCOPE

RELATIONSHIP_TYPE = "#microsoft.graph.delegatedAdminRelationship"
LIST, GET, TERMINATE, REQUEST, DELETE = "list", "get", "terminate", "request", "delete"
_FILTER_ID = re.compile(r"^\s*id\s+eq\s+'((?:[^']|'')*)'\s*$")


def relationship_json(
    relationship_id: str,
    customer_tenant_id: str,
    status: str = "active",
    *,
    customer_name: str = "",
    roles: tuple[str, ...] = ("62e90394-69f5-4237-9190-012177145e10",),
    end: datetime | None = None,
    indirect_provider_tenant_id: str | None = None,
) -> dict[str, Any]:
    """A delegatedAdminRelationship as Graph documents it (the reseller subtype when an
    indirect provider created it)."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    body: dict[str, Any] = {
        "@odata.type": RELATIONSHIP_TYPE,
        "id": relationship_id,
        "displayName": f"GDAP {relationship_id}",
        "duration": "P730D",
        "customer": {"tenantId": customer_tenant_id, "displayName": customer_name},
        "accessDetails": {"unifiedRoles": [{"roleDefinitionId": r} for r in roles]},
        "status": status,
        "autoExtendDuration": "PT0S",
        "createdDateTime": now,
        "lastModifiedDateTime": now,
        "activatedDateTime": now if status == "active" else None,
        "endDateTime": end.isoformat().replace("+00:00", "Z") if end else None,
    }
    if indirect_provider_tenant_id is not None:
        body["@odata.type"] = RESELLER_TYPE
        body["indirectProviderTenantId"] = indirect_provider_tenant_id
        body["isPartnerConsentPending"] = False
    return body


@dataclass
class GraphTenant:
    """One partner tenant (a distributor): its app registration and its relationships."""

    client_id: str
    client_secret: str
    relationships: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, body: dict[str, Any]) -> None:
        self.relationships[body["id"]] = {**body, "@odata.etag": f'W/"{secrets.token_hex(4)}"'}


@dataclass
class _Request:
    tenant_id: str
    relationship_id: str
    body: dict[str, Any]
    reads: int = 0


class GraphStandin:
    def __init__(
        self,
        tenants: dict[str, GraphTenant],
        *,
        page_size: int = 100,
        reads_to_settle: int = 2,
        token_lifetime_s: float = 3600,
        partner_center: Any = None,
    ) -> None:
        self.tenants = tenants
        self.page_size = page_size  # Graph's own page size when $top asks for more
        self.reads_to_settle = reads_to_settle
        self.token_lifetime_s = token_lifetime_s
        self.partner_center = partner_center
        self.calls: Counter[str] = Counter()
        self.received: list[tuple[str, dict[str, str]]] = []  # (endpoint, headers), in order
        self.failing: set[str] = set()  # relationships whose terminate requests fail
        self.hidden: set[str] = set()  # 404 by id, still in the list
        self._faults: list[list] = []  # [kind, value, calls left]
        self._tokens: dict[str, tuple[str, float]] = {}
        self._requests: dict[str, _Request] = {}
        self._skips: dict[str, tuple[str, str | None, int]] = {}
        self._ids = itertools.count(1)
        base = RELATIONSHIPS
        self.routes: list[BaseRoute] = [
            Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
            Route(base, self._list, methods=["GET"]),
            Route(base + "/{rid}", self._get, methods=["GET"]),
            Route(base + "/{rid}", self._delete, methods=["DELETE"]),
            Route(base + "/{rid}/requests", self._terminate, methods=["POST"]),
            Route(base + "/{rid}/requests/{req}", self._request, methods=["GET"]),
        ]
        if partner_center is not None:
            self.routes += [r for r in partner_center.app.routes if "oauth2" not in r.path]
        self.app = Starlette(routes=self.routes)

    # Controls: faults apply to the next Graph calls (not token requests), in order.
    def throttle(self, calls: int = 1, retry_after_s: float = 1.0) -> None:
        self._faults.append(["throttle", retry_after_s, calls])

    def fail(self, calls: int = 1) -> None:
        self._faults.append(["fail", 0.0, calls])

    def clear_faults(self) -> None:
        self._faults.clear()

    def tenant_of(self, relationship_id: str) -> GraphTenant:
        return next(t for t in self.tenants.values() if relationship_id in t.relationships)

    def status(self, relationship_id: str) -> str | None:
        for tenant in self.tenants.values():
            if relationship_id in tenant.relationships:
                return tenant.relationships[relationship_id]["status"]
        return None

    def set_status(self, relationship_id: str, status: str) -> None:
        rel = self.tenant_of(relationship_id).relationships[relationship_id]
        rel.update(status=status, lastModifiedDateTime=_now())
        rel["@odata.etag"] = f'W/"{secrets.token_hex(4)}"'

    async def _token(self, request: Request) -> Response:
        # Parsed by hand: starlette's form parser needs python-multipart.
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("scope") != GRAPH_SCOPE and self.partner_center is not None:
            return await self.partner_center._token(request)
        self.calls["token"] += 1
        self.received.append(("token", dict(request.headers)))
        tenant_id = request.path_params["tenant"]
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            return _oauth(400, "invalid_request", f"AADSTS90002: Tenant '{tenant_id}' not found.")
        if (form.get("client_id"), form.get("client_secret")) != (
            tenant.client_id,
            tenant.client_secret,
        ):
            return _oauth(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if form.get("scope") != GRAPH_SCOPE or form.get("grant_type") != "client_credentials":
            return _oauth(400, "invalid_request", f"client_credentials with scope {GRAPH_SCOPE}")
        token = f"gt-{secrets.token_hex(12)}"
        self._tokens[token] = (tenant_id, time.monotonic() + self.token_lifetime_s)
        return JSONResponse(
            {"token_type": "Bearer", "expires_in": self.token_lifetime_s, "access_token": token}
        )

    def _caller(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        issued = self._tokens.get(token) if scheme.lower() == "bearer" else None
        return issued[0] if issued and time.monotonic() < issued[1] else None

    def _fault(self) -> Response | None:
        if not self._faults:
            return None
        kind, value, left = self._faults[0]
        if left <= 1:
            self._faults.pop(0)
        else:
            self._faults[0][2] = left - 1
        if kind == "throttle":
            return _error(429, "TooManyRequests", "Throttled.", {"Retry-After": f"{value:g}"})
        return _error(500, "InternalServerError", "Something went wrong.")

    def _admit(self, endpoint: str, request: Request) -> tuple[GraphTenant | None, Response | None]:
        self.calls[endpoint] += 1
        self.received.append((endpoint, dict(request.headers)))
        if (fault := self._fault()) is not None:
            return None, fault
        tenant_id = self._caller(request)
        if tenant_id is None:
            return None, _error(
                401, "InvalidAuthenticationToken", "Access token is missing or invalid."
            )
        return self.tenants[tenant_id], None

    def _find(self, tenant: GraphTenant, rid: str) -> dict[str, Any] | None:
        return None if rid in self.hidden else tenant.relationships.get(rid)

    async def _list(self, request: Request) -> Response:
        tenant, refusal = self._admit(LIST, request)
        if tenant is None:
            return refusal  # type: ignore[return-value]
        params = request.query_params
        if skip := params.get("$skiptoken"):
            held = self._skips.get(skip)
            if held is None or held[0] != self._caller(request):
                return _error(400, "BadRequest", "Invalid $skiptoken.")
            _, wanted, start = held
            top = self.page_size
        else:
            try:
                top = int(params.get("$top", self.page_size))
            except ValueError:
                return _error(400, "BadRequest", "$top must be an integer.")
            if not 1 <= top <= MAX_TOP:
                return _error(400, "BadRequest", f"$top must be between 1 and {MAX_TOP}.")
            wanted, start = None, 0
            if (expr := params.get("$filter")) is not None:
                match = _FILTER_ID.match(expr)
                if match is None:
                    return _error(400, "BadRequest", "Only $filter=id eq '...' is supported here.")
                wanted = match.group(1).replace("''", "'")
        items = [r for rid, r in sorted(tenant.relationships.items()) if wanted in (None, rid)]
        size = min(top, self.page_size)
        body: dict[str, Any] = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#tenantRelationships/delegatedAdminRelationships",
            "value": items[start : start + size],
        }
        if start + size < len(items):
            token = secrets.token_urlsafe(12)
            self._skips[token] = (self._caller(request), wanted, start + size)  # type: ignore[assignment]
            body["@odata.nextLink"] = (
                f"{request.base_url}{RELATIONSHIPS.lstrip('/')}?$skiptoken={token}"
            )
        return JSONResponse(body)

    async def _get(self, request: Request) -> Response:
        tenant, refusal = self._admit(GET, request)
        if tenant is None:
            return refusal  # type: ignore[return-value]
        rel = self._find(tenant, request.path_params["rid"])
        if rel is None:
            return _not_found()
        return JSONResponse(rel, headers={"ETag": rel["@odata.etag"]})

    async def _terminate(self, request: Request) -> Response:
        tenant, refusal = self._admit(TERMINATE, request)
        if tenant is None:
            return refusal  # type: ignore[return-value]
        rid = request.path_params["rid"]
        rel = self._find(tenant, rid)
        if rel is None:
            return _not_found()
        try:
            action = (await request.json()).get("action")
        except ValueError:
            action = None
        if action != "terminate":
            return _error(400, "BadRequest", "action must be terminate here.")
        if rel["status"] != "active":
            return _error(409, "Conflict", f"The relationship is {rel['status']}.")
        self.set_status(rid, "terminationRequested")
        request_id = str(uuid.UUID(int=next(self._ids)))
        now = _now()
        body = {
            "id": request_id,
            "action": "terminate",
            "status": "created",
            "createdDateTime": now,
            "lastModifiedDateTime": now,
        }
        self._requests[request_id] = _Request(self._caller(request) or "", rid, body)
        location = f"{request.url}/{request_id}"
        return JSONResponse(body, status_code=201, headers={"Location": location})

    async def _request(self, request: Request) -> Response:
        tenant, refusal = self._admit(REQUEST, request)
        if tenant is None:
            return refusal  # type: ignore[return-value]
        held = self._requests.get(request.path_params["req"])
        if (
            held is None
            or held.relationship_id != request.path_params["rid"]
            or (held.tenant_id != self._caller(request))
        ):
            return _not_found()
        held.reads += 1
        if held.body["status"] in ("created", "pending"):
            # The relationship follows its request, unless it ended otherwise meanwhile.
            following = self.status(held.relationship_id) in ("terminationRequested", "terminating")
            if held.reads >= self.reads_to_settle:
                failing = held.relationship_id in self.failing
                held.body["status"] = "failed" if failing else "succeeded"
                if following:
                    self.set_status(held.relationship_id, "active" if failing else "terminated")
            else:
                held.body["status"] = "pending"
                if following:
                    self.set_status(held.relationship_id, "terminating")
            held.body["lastModifiedDateTime"] = _now()
        return JSONResponse(held.body)

    async def _delete(self, request: Request) -> Response:
        tenant, refusal = self._admit(DELETE, request)
        if tenant is None:
            return refusal  # type: ignore[return-value]
        rid = request.path_params["rid"]
        rel = self._find(tenant, rid)
        if rel is None:
            return _not_found()
        etag = request.headers.get("if-match")
        if etag is None:
            return _error(428, "PreconditionRequired", "If-Match is required.")
        if etag != rel["@odata.etag"]:
            return _error(412, "PreconditionFailed", "The ETag does not match.")
        if rel["status"] != "created":
            return _error(
                409, "Conflict", f"Only a created relationship can be deleted, not {rel['status']}."
            )
        del tenant.relationships[rid]
        return Response(status_code=204)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    return JSONResponse(
        {"error": {"code": code, "message": message}}, status_code=status, headers=headers
    )


def _not_found() -> Response:
    return _error(404, "ResourceNotFound", "The delegatedAdminRelationship does not exist.")


def _oauth(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


@contextlib.asynccontextmanager
async def serving(standin: GraphStandin, port: int | None = None) -> AsyncIterator[str]:
    """Serve the stand-in on localhost; yields its base URL: `PORGATE_GRAPH_BASE_URL` and
    `PORGATE_ENTRA_AUTHORITY_URL` (and `PORGATE_PARTNER_CENTER_URL` with a Partner Center
    stand-in inside)."""
    port = port or free_port()
    server = HttpServer(standin.app, "127.0.0.1", port)
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if standin.partner_center is not None:
            standin.partner_center.stop()
        await server.stop()
