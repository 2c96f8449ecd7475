"""Where a termination is carried out: a ledger table (the default) or Microsoft Graph.

A gateway makes one attempt per call. Retrying (backoff, Retry-After, the attempt budget)
is the terminator's, on the termination row, so that it survives restarts and never holds
a worker asleep.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol
from urllib.parse import quote

import asyncpg
import httpx

from services.common import metrics, tracing
from services.common.config import Settings
from services.common.retry import retry_after_s
from services.gdap_revoker import store

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# Refresh the token this long before Graph says it expires: clocks drift, requests take time.
TOKEN_MARGIN_S = 120.0


class GatewayError(Exception):
    """A failed attempt. Permanent ones are not retried; `retry_after` is the server's wish."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Gateway(Protocol):
    async def terminate(
        self, relationship_id: str, customer_id: str, reseller_tenant_id: str, reason: str
    ) -> None:
        """Return once the relationship is terminated (or known gone); raise GatewayError otherwise."""

    async def aclose(self) -> None: ...


class LedgerGateway:
    """Records terminations in `termination_ledger`, for environments without Graph access."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def terminate(
        self, relationship_id: str, customer_id: str, reseller_tenant_id: str, reason: str
    ) -> None:
        await store.record_in_ledger(
            self.pool, relationship_id, customer_id, reseller_tenant_id, reason
        )

    async def aclose(self) -> None:
        pass


def graph_credentials(settings: Settings) -> tuple[str, str, str]:
    """Token URL, client id and secret; a clear error at start when one is missing."""
    missing = [
        name
        for name in ("graph_token_url", "graph_client_id", "graph_client_secret")
        if not getattr(settings, name)
    ]
    if missing:
        raise ValueError(
            f"gdap_gateway=graph needs {', '.join('PORGATE_' + m.upper() for m in missing)}"
        )
    assert settings.graph_token_url and settings.graph_client_id and settings.graph_client_secret
    return (
        settings.graph_token_url,
        settings.graph_client_id,
        settings.graph_client_secret.get_secret_value(),
    )


def _transient_status(status: int) -> bool:
    return status == 429 or status >= 500


def _describe(resp: httpx.Response) -> str:
    return f"HTTP {resp.status_code}: {resp.text[:300]}"


class GraphGateway:
    """`POST /v1.0/tenantRelationships/delegatedAdminRelationships/{id}/requests {"action": "terminate"}`."""

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.client = client or httpx.AsyncClient(timeout=timeout_s)
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphGateway:
        token_url, client_id, client_secret = graph_credentials(settings)
        return cls(
            base_url=settings.graph_base_url,
            token_url=token_url,
            client_id=client_id,
            client_secret=client_secret,
            timeout_s=settings.graph_timeout_s,
        )

    async def _access_token(self) -> str:
        async with self._token_lock:  # concurrent terminations share one token request
            if self._token is not None and time.monotonic() < self._token_expires:
                return self._token
            with tracing.http_call("POST", self.token_url) as span:
                headers: dict[str, str] = {}
                tracing.inject(headers)
                try:
                    resp = await self.client.post(
                        self.token_url,
                        data={
                            "grant_type": "client_credentials",
                            "client_id": self.client_id,
                            "client_secret": self.client_secret,
                            "scope": GRAPH_SCOPE,
                        },
                        headers=headers,
                    )
                except httpx.HTTPError as exc:
                    metrics.GRAPH_CALLS.labels("token", "error").inc()
                    raise GatewayError(
                        f"token request failed: {type(exc).__name__}: {exc}"
                    ) from exc
                tracing.http_status(span, resp.status_code)
            metrics.GRAPH_CALLS.labels("token", str(resp.status_code)).inc()
            if resp.status_code != 200:
                # Bad credentials will not fix themselves; an outage or throttling may.
                raise GatewayError(
                    f"token request: {_describe(resp)}",
                    permanent=not _transient_status(resp.status_code),
                    retry_after=retry_after_s(resp.headers.get("retry-after")),
                )
            try:
                body = resp.json()
                token = str(body["access_token"])
                expires_in = float(body.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError) as exc:
                raise GatewayError(f"token response unreadable: {exc}") from exc
            self._token = token
            self._token_expires = time.monotonic() + max(
                0.0, expires_in - min(TOKEN_MARGIN_S, expires_in / 2)
            )
            return token

    async def terminate(
        self, relationship_id: str, customer_id: str, reseller_tenant_id: str, reason: str
    ) -> None:
        token = await self._access_token()
        url = (
            f"{self.base_url}/v1.0/tenantRelationships/delegatedAdminRelationships/"
            f"{quote(relationship_id, safe='')}/requests"
        )
        with tracing.http_call("POST", url) as span:
            headers = {"Authorization": f"Bearer {token}"}
            tracing.inject(headers)
            try:
                resp = await self.client.post(url, json={"action": "terminate"}, headers=headers)
            except httpx.HTTPError as exc:  # timeouts, refused and reset connections
                metrics.GRAPH_CALLS.labels("terminate", "error").inc()
                raise GatewayError(f"{type(exc).__name__}: {exc}") from exc
            tracing.http_status(span, resp.status_code)
        status = resp.status_code
        metrics.GRAPH_CALLS.labels("terminate", str(status)).inc()
        if 200 <= status < 300:
            return
        # 404: the relationship is gone; 409: a termination is already under way or done.
        if status in (404, 409) or (
            400 <= status < 500 and "already terminated" in resp.text.lower()
        ):
            return
        if status == 401:
            # Revoked or expired early: fetch a new token on the next attempt.
            self._token = None
            raise GatewayError(_describe(resp))
        raise GatewayError(
            _describe(resp),
            permanent=not _transient_status(status),
            retry_after=retry_after_s(resp.headers.get("retry-after")),
        )

    async def aclose(self) -> None:
        await self.client.aclose()


def make_gateway(settings: Settings, pool: asyncpg.Pool) -> Gateway:
    if settings.gdap_gateway == "graph":
        return GraphGateway.from_settings(settings)
    return LedgerGateway(pool)
