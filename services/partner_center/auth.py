"""Entra ID access tokens for Partner Center, per distributor: app-only and app+user.

The grants themselves (client credentials; refresh token) go through authlib. Tokens are
cached per (distributor, kind) until shortly before they expire; a refresh token that Entra
ID rotates is kept in memory (the file's is the first one, good for as long as Entra keeps
it). Concurrent callers of one distributor share one token request.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Callable, Mapping
from enum import StrEnum
from urllib.parse import quote

import authlib.deprecate
import httpx
from authlib.integrations.base_client import OAuthError

from services.partner_center.credentials import DistributorCredentials
from services.partner_center.errors import AuthenticationFailed, NotConfigured, Unavailable

# authlib 1.7+ warns at import that its httpx integration will move to the httpx2 package,
# and forces that warning to show; porgate's HTTP client is httpx, so silence that one only.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", "The httpx module is deprecated", authlib.deprecate.AuthlibDeprecationWarning
    )
    from authlib.integrations.httpx_client import AsyncOAuth2Client

PARTNER_CENTER_SCOPE = "https://api.partnercenter.microsoft.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class TokenKind(StrEnum):
    APP = "app"  # client credentials: enough for validateresellers
    APP_USER = "app_user"  # refresh token: needed for the indirect-reseller list
    GRAPH = "graph"  # client credentials with Graph's scope: GDAP relationships


class TokenProvider:
    def __init__(
        self,
        credentials: Mapping[str, DistributorCredentials],
        *,
        authority_url: str,
        margin_s: float,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.authority_url = authority_url.rstrip("/")
        self.margin_s = margin_s
        self.timeout_s = timeout_s
        self.clock = clock
        self._tokens: dict[tuple[str, TokenKind], tuple[str, float]] = {}
        self._refresh_tokens: dict[str, str] = {}
        self._locks: dict[tuple[str, TokenKind], asyncio.Lock] = {}
        self._oauth: dict[tuple[str, TokenKind], AsyncOAuth2Client] = {}

    def credentials_of(self, distributor_id: str, kind: TokenKind) -> DistributorCredentials:
        creds = self.credentials.get(distributor_id)
        if creds is None:
            raise NotConfigured(
                distributor_id,
                "no Partner Center credentials (PORGATE_PARTNER_CENTER_CREDENTIALS_FILE has "
                "no entry for this distributor)",
            )
        if kind is TokenKind.APP_USER and not creds.acts_as_user:
            raise NotConfigured(
                distributor_id,
                "this call needs app+user access: add refreshToken or refreshTokenEnv to the "
                "distributor's credentials",
            )
        return creds

    def token_url(self, creds: DistributorCredentials) -> str:
        return f"{self.authority_url}/{quote(creds.tenant_id, safe='')}/oauth2/v2.0/token"

    async def token(self, distributor_id: str, kind: TokenKind) -> str:
        """A valid access token; fetched only when none is cached or it is about to expire."""
        key = (distributor_id, kind)
        cached = self._tokens.get(key)
        if cached is not None and self.clock() < cached[1]:
            return cached[0]
        creds = self.credentials_of(distributor_id, kind)
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._tokens.get(key)
            if cached is not None and self.clock() < cached[1]:
                return cached[0]  # another caller fetched it while this one waited
            access_token, expires_in = await self._fetch(creds, kind)
            margin = min(self.margin_s, expires_in / 2)
            self._tokens[key] = (access_token, self.clock() + expires_in - margin)
            return access_token

    def discard(self, distributor_id: str, kind: TokenKind, access_token: str) -> None:
        """Forget a token Partner Center refused, unless a newer one already replaced it."""
        cached = self._tokens.get((distributor_id, kind))
        if cached is not None and cached[0] == access_token:
            del self._tokens[(distributor_id, kind)]

    async def _fetch(self, creds: DistributorCredentials, kind: TokenKind) -> tuple[str, float]:
        oauth = self._client(creds, kind)
        url = self.token_url(creds)
        try:
            if kind is not TokenKind.APP_USER:
                token = await oauth.fetch_token(url, grant_type="client_credentials")
            else:
                refresh_token = self._refresh_tokens.get(creds.distributor_id)
                if refresh_token is None:
                    assert creds.refresh_token is not None  # credentials_of checked it
                    refresh_token = creds.refresh_token.get_secret_value()
                token = await oauth.refresh_token(url, refresh_token=refresh_token)
        except OAuthError as exc:
            # invalid_client, invalid_grant (a refresh token revoked or too old) and the
            # like: a person has to fix the credentials.
            raise AuthenticationFailed(
                creds.distributor_id,
                f"Entra ID refused the {kind} token request: {exc.error}: "
                f"{(exc.description or '')[:300]}",
            ) from None
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status == 429 or status >= 500:
                raise Unavailable(
                    creds.distributor_id, f"Entra ID token endpoint answered HTTP {status}"
                ) from None
            raise AuthenticationFailed(
                creds.distributor_id, f"Entra ID token endpoint answered HTTP {status}"
            ) from None
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable(
                creds.distributor_id, f"Entra ID token request failed: {type(exc).__name__}"
            ) from None
        if kind is TokenKind.APP_USER and token.get("refresh_token"):
            self._refresh_tokens[creds.distributor_id] = str(token["refresh_token"])
        try:
            return str(token["access_token"]), float(token.get("expires_in", 3600))
        except (KeyError, TypeError, ValueError):
            raise Unavailable(
                creds.distributor_id, "Entra ID token response lacks access_token or expires_in"
            ) from None

    def _client(self, creds: DistributorCredentials, kind: TokenKind) -> AsyncOAuth2Client:
        key = (creds.distributor_id, kind)
        if key not in self._oauth:
            client_id, secret = (
                creds.graph_app
                if kind is TokenKind.GRAPH
                else (creds.client_id, creds.client_secret)
            )
            self._oauth[key] = AsyncOAuth2Client(
                client_id=client_id,
                client_secret=secret.get_secret_value(),
                # Entra ID's documented form: client_id and client_secret in the body.
                token_endpoint_auth_method="client_secret_post",
                scope=GRAPH_SCOPE if kind is TokenKind.GRAPH else PARTNER_CENTER_SCOPE,
                timeout=self.timeout_s,
            )
        return self._oauth[key]

    async def aclose(self) -> None:
        for oauth in self._oauth.values():
            await oauth.aclose()
        self._oauth.clear()
