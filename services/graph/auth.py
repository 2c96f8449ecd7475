"""Graph access tokens: each distributor's own app (the Partner Center credentials file, Graph's
scope), else the one app of `PORGATE_GRAPH_TOKEN_URL`/`_CLIENT_ID`/`_CLIENT_SECRET`.

The global app predates per-distributor credentials and is kept for one tenant set-ups
only: once the file names any distributor, a call for a distributor not in it (or for an
unknown one) fails for good instead of borrowing the global app, so one tenant never
answers for, or confirms the end of, another distributor's relationships.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from services.common import tracing
from services.common.retry import retry_after_s
from services.graph import metrics
from services.graph.errors import GraphError
from services.graph.settings import GraphSettings
from services.partner_center.auth import GRAPH_SCOPE, TokenKind, TokenProvider
from services.partner_center.credentials import DistributorCredentials
from services.partner_center.errors import AuthenticationFailed, NotConfigured, Unavailable

GLOBAL = "(PORGATE_GRAPH_CLIENT_ID)"


@dataclass(frozen=True)
class GlobalApp:
    token_url: str
    client_id: str
    client_secret: str

    @classmethod
    def from_settings(cls, settings: GraphSettings) -> GlobalApp | None:
        if not (
            settings.graph_token_url and settings.graph_client_id and settings.graph_client_secret
        ):
            return None
        return cls(
            settings.graph_token_url,
            settings.graph_client_id,
            settings.graph_client_secret.get_secret_value(),
        )


class GraphTokens:
    def __init__(
        self,
        credentials: Mapping[str, DistributorCredentials],
        *,
        authority_url: str,
        margin_s: float,
        timeout_s: float,
        global_app: GlobalApp | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.credentials = credentials
        self.global_app = global_app
        self.margin_s = margin_s
        self.provider = TokenProvider(
            credentials, authority_url=authority_url, margin_s=margin_s, timeout_s=timeout_s
        )
        self.http = http or httpx.AsyncClient(timeout=timeout_s)
        self._global: tuple[str, float] | None = None
        self._global_lock = asyncio.Lock()

    @classmethod
    def from_settings(
        cls, settings: GraphSettings, credentials: Mapping[str, DistributorCredentials]
    ) -> GraphTokens:
        return cls(
            credentials,
            authority_url=settings.entra_authority_url,
            margin_s=settings.partner_center_token_margin_s,
            timeout_s=settings.graph_timeout_s,
            global_app=GlobalApp.from_settings(settings),
        )

    def _uses_global(self, distributor_id: str | None) -> bool:
        """The global app answers only where there are no per-distributor credentials at all."""
        return not self.credentials and self.global_app is not None

    def configured(self, distributor_id: str | None) -> bool:
        return (distributor_id in self.credentials) or self._uses_global(distributor_id)

    def whose(self, distributor_id: str | None) -> str:
        """Whose token a call for this distributor carries (for messages)."""
        if distributor_id is not None and distributor_id in self.credentials:
            return distributor_id
        return GLOBAL

    async def token(self, distributor_id: str | None) -> str:
        if distributor_id is not None and distributor_id in self.credentials:
            try:
                return await self.provider.token(distributor_id, TokenKind.GRAPH)
            except (AuthenticationFailed, NotConfigured) as exc:
                metrics.GRAPH_CALLS.labels("token", "refused").inc()
                raise GraphError(str(exc), permanent=True) from None
            except Unavailable as exc:
                metrics.GRAPH_CALLS.labels("token", "error").inc()
                raise GraphError(str(exc)) from None
        if self.credentials:
            # Another tenant's app (or the global one) would read another tenant's list.
            raise GraphError(
                f"no Graph credentials for distributor {distributor_id or '(unknown)'}: the"
                " credentials file names other distributors only, and their apps (or the global"
                " PORGATE_GRAPH_CLIENT_ID) cannot answer for this one; add it to"
                " PORGATE_PARTNER_CENTER_CREDENTIALS_FILE",
                permanent=True,
            )
        if self.global_app is None:
            raise GraphError(
                f"no Graph credentials for distributor {distributor_id or '(unknown)'}: add it to"
                " PORGATE_PARTNER_CENTER_CREDENTIALS_FILE (or set PORGATE_GRAPH_CLIENT_ID,"
                " _CLIENT_SECRET and _TOKEN_URL)",
                permanent=True,
            )
        return await self._global_token(self.global_app)

    def discard(self, distributor_id: str | None, token: str) -> None:
        if distributor_id is not None and distributor_id in self.credentials:
            self.provider.discard(distributor_id, TokenKind.GRAPH, token)
        elif self._global is not None and self._global[0] == token:
            self._global = None

    async def _global_token(self, app: GlobalApp) -> str:
        async with self._global_lock:  # concurrent calls share one token request
            if self._global is not None and time.monotonic() < self._global[1]:
                return self._global[0]
            form = {
                "grant_type": "client_credentials",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "scope": GRAPH_SCOPE,
            }
            with tracing.http_call("POST", app.token_url) as span:
                headers: dict[str, str] = {}
                tracing.inject(headers)
                try:
                    resp = await self.http.post(app.token_url, data=form, headers=headers)
                except httpx.HTTPError as exc:
                    metrics.GRAPH_CALLS.labels("token", "error").inc()
                    raise GraphError(f"token request failed: {type(exc).__name__}: {exc}") from None
                tracing.http_status(span, resp.status_code)
            metrics.GRAPH_CALLS.labels("token", str(resp.status_code)).inc()
            if resp.status_code != 200:
                transient = resp.status_code == 429 or resp.status_code >= 500
                raise GraphError(
                    f"token request: HTTP {resp.status_code}: {resp.text[:300]}",
                    status=resp.status_code,
                    permanent=not transient,
                    retry_after=retry_after_s(resp.headers.get("retry-after")),
                )
            try:
                body = resp.json()
                token, expires_in = str(body["access_token"]), float(body.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError) as exc:
                raise GraphError(f"token response unreadable: {exc}") from None
            self._global = (
                token,
                time.monotonic() + max(0.0, expires_in - min(self.margin_s, expires_in / 2)),
            )
            return token

    async def aclose(self) -> None:
        await self.provider.aclose()
        await self.http.aclose()
