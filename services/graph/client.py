"""Microsoft Graph's GDAP endpoints for one distributor at a time, with that distributor's token.

Each method makes one request (a 401 gets one retry with a fresh token), except the list,
which follows `@odata.nextLink` and waits out 429 `Retry-After` within a budget: retrying a
termination is the terminator's, on its durable row, so it survives restarts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from services.common import tracing
from services.common.retry import retry_after_s
from services.graph import metrics
from services.graph.auth import GraphTokens
from services.graph.errors import Conflict, GraphError, NotFound, PreconditionFailed
from services.graph.models import Relationship, Request
from services.graph.settings import GraphSettings
from services.partner_center.credentials import DistributorCredentials

RELATIONSHIPS = "/v1.0/tenantRelationships/delegatedAdminRelationships"
MAX_TOP = 300  # Graph's documented maximum page size for this list
# A page, or a relationship's pages together, that runs past this is no answer to trust.
MAX_PAGES = 10_000


def _describe(resp: httpx.Response) -> str:
    return f"HTTP {resp.status_code}: {resp.text[:300]}"


def _transient(status: int) -> bool:
    return status == 429 or status >= 500 or status == 408


class GraphClient:
    def __init__(
        self,
        *,
        base_url: str,
        tokens: GraphTokens,
        timeout_s: float = 10.0,
        max_throttle_wait_s: float = 60.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.max_throttle_wait_s = max_throttle_wait_s
        self.http = client or httpx.AsyncClient(timeout=timeout_s)

    @classmethod
    def from_settings(
        cls, settings: GraphSettings, credentials: Mapping[str, DistributorCredentials]
    ) -> GraphClient:
        return cls(
            base_url=settings.graph_base_url,
            tokens=GraphTokens.from_settings(settings, credentials),
            timeout_s=settings.graph_timeout_s,
            max_throttle_wait_s=settings.partner_center_max_throttle_wait_s,
        )

    def _url(self, relationship_id: str, *rest: str) -> str:
        return "/".join((f"{self.base_url}{RELATIONSHIPS}", quote(relationship_id, safe=""), *rest))

    async def _call(
        self,
        distributor_id: str | None,
        operation: str,
        method: str,
        url: str,
        **kwargs: Any,
    ) -> httpx.Response:
        extra = kwargs.pop("headers", {})
        for attempt in (1, 2):
            token = await self.tokens.token(distributor_id)
            headers = {"Authorization": f"Bearer {token}", **extra}
            with tracing.http_call(method, url) as span:
                tracing.inject(headers)
                try:
                    resp = await self.http.request(method, url, headers=headers, **kwargs)
                except httpx.HTTPError as exc:  # timeouts, refused and reset connections
                    metrics.GRAPH_CALLS.labels(operation, "error").inc()
                    raise GraphError(f"{operation}: {type(exc).__name__}: {exc}") from None
                tracing.http_status(span, resp.status_code)
            metrics.GRAPH_CALLS.labels(operation, str(resp.status_code)).inc()
            if resp.status_code == 401 and attempt == 1:
                self.tokens.discard(distributor_id, token)  # revoked or expired early
                continue
            break
        return resp

    def _error(self, operation: str, resp: httpx.Response) -> GraphError:
        status = resp.status_code
        message = f"{operation}: {_describe(resp)}"
        if status == 404:
            return NotFound(message, status=status)
        if status == 409 or (status == 400 and operation in ("terminate", "delete")):
            return Conflict(message, status=status)
        if status == 412:
            return PreconditionFailed(message, status=status)
        return GraphError(
            message,
            status=status,
            permanent=not _transient(status) and status != 401,
            retry_after=retry_after_s(resp.headers.get("retry-after")),
        )

    async def relationships(
        self, distributor_id: str | None, filter_: str | None = None
    ) -> list[Relationship]:
        """Every relationship of the distributor's list (every page), or those `$filter` keeps."""
        # Only the first page gets parameters: a nextLink carries its own, and httpx would
        # replace them with any given.
        params: dict[str, str] | None = {"$top": str(MAX_TOP)}
        if filter_ is not None:
            params["$filter"] = filter_
        url: str | None = f"{self.base_url}{RELATIONSHIPS}"
        out: list[Relationship] = []
        waited, pages = 0.0, 0
        while url is not None:
            resp = await self._call(distributor_id, "list", "GET", url, params=params)
            if resp.status_code == 429:
                wait = retry_after_s(resp.headers.get("retry-after")) or 1.0
                if waited + wait > self.max_throttle_wait_s:
                    raise self._error("list", resp)
                waited += wait
                await asyncio.sleep(wait)
                continue
            if resp.status_code != 200:
                raise self._error("list", resp)
            try:
                body = resp.json()
                items = body["value"]
                if not isinstance(items, list):
                    raise TypeError("value is not a list")
                out.extend(Relationship.from_graph(item) for item in items)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                # A proxy's page or another API's answer is not an empty list.
                raise GraphError(
                    f"list: not a delegatedAdminRelationship collection: {exc}"
                ) from None
            pages += 1
            url, params = self._next(body.get("@odata.nextLink")), None
            if pages > MAX_PAGES:
                raise GraphError(f"list: more than {MAX_PAGES} pages")
        return out

    def _next(self, link: object) -> str | None:
        if link is None:
            return None
        # The token goes only where the first page came from.
        if not isinstance(link, str) or urlsplit(link).netloc != urlsplit(self.base_url).netloc:
            raise GraphError(f"list: @odata.nextLink leaves {self.base_url}: {str(link)[:200]}")
        return link

    async def relationship(
        self, distributor_id: str | None, relationship_id: str
    ) -> Relationship | None:
        """The relationship by id; None on a 404 (which proves nothing on its own)."""
        resp = await self._call(distributor_id, "get", "GET", self._url(relationship_id))
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._error("get", resp)
        return self._parse(resp, Relationship.from_graph, "get", resp.headers.get("etag"))

    async def read(self, distributor_id: str | None, relationship_id: str) -> Relationship | None:
        """The relationship live; None only when the distributor's own list shows it absent.

        A 404 by id is also what a wrong base URL or another tenant's token gets: only the
        list, answered in Graph's collection shape, can say the relationship is gone."""
        found = await self.relationship(distributor_id, relationship_id)
        if found is not None:
            return found
        return await self.listed(distributor_id, relationship_id)

    async def listed(self, distributor_id: str | None, relationship_id: str) -> Relationship | None:
        """The relationship as the distributor's own list shows it; None: not in the list."""
        quoted = relationship_id.replace("'", "''")  # OData string literal
        found = await self.relationships(distributor_id, f"id eq '{quoted}'")
        return next((r for r in found if r.relationship_id == relationship_id), None)

    async def request_termination(
        self, distributor_id: str | None, relationship_id: str
    ) -> Request:
        resp = await self._call(
            distributor_id,
            "terminate",
            "POST",
            self._url(relationship_id, "requests"),
            json={"action": "terminate"},
        )
        if resp.status_code not in (200, 201):
            raise self._error("terminate", resp)
        return self._parse(resp, Request.from_graph, "terminate")

    async def termination_request(
        self, distributor_id: str | None, relationship_id: str, request_id: str
    ) -> Request | None:
        resp = await self._call(
            distributor_id,
            "request",
            "GET",
            self._url(relationship_id, "requests", quote(request_id, safe="")),
        )
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._error("request", resp)
        return self._parse(resp, Request.from_graph, "request")

    async def delete(self, distributor_id: str | None, relationship_id: str, etag: str) -> None:
        resp = await self._call(
            distributor_id,
            "delete",
            "DELETE",
            self._url(relationship_id),
            headers={"If-Match": etag},
        )
        if resp.status_code not in (200, 204):
            raise self._error("delete", resp)

    @staticmethod
    def _parse(resp: httpx.Response, parse, operation: str, *args):
        try:
            return parse(resp.json(), *args)
        except (ValueError, TypeError, AttributeError) as exc:
            raise GraphError(f"{operation}: answer out of the documented shape: {exc}") from None

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.tokens.aclose()
