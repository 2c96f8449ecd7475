"""SASL/OAUTHBEARER tokens from Entra ID (client credentials), as Azure Event Hubs' Kafka
endpoint takes them: one token per process, fetched again before it expires."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections.abc import Callable

import httpx
from aiokafka.abc import AbstractTokenProvider
from aiokafka.errors import KafkaConnectionError

log = logging.getLogger(__name__)

# Fetch a new token this long before the old one expires (at most half its lifetime): a
# connection opened with a token about to expire is dropped by the broker soon after.
REFRESH_MARGIN_S = 300.0
TIMEOUT_S = 10.0


class EntraTokenError(KafkaConnectionError):
    """Entra ID gave no token; the message is one line with Entra's own error code.

    A connection error to aiokafka: its sender and coordinator retry those on reconnect,
    where any other exception would end the producer's sender task for good."""

    def __str__(self) -> str:
        # KafkaError prefixes the class name; the message is already the whole line.
        return str(self.args[0]) if self.args else type(self).__name__


class EntraTokenProvider(AbstractTokenProvider):
    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.scope = scope
        self._secret = client_secret
        self._http = http
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = 0.0
        self._expires_at = 0.0
        # One lock per event loop, made when first needed there: providers are shared per
        # process, and an asyncio.Lock used in one loop refuses to work in another.
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def token(self) -> str:
        async with self._lock():
            if self._token is None or self._clock() >= self._refresh_at:
                try:
                    await self._fetch()
                except EntraTokenError as exc:
                    # Entra down for a while need not stop clients whose token is still
                    # good: keep using it until it expires, and ask again next time.
                    if self._token is None or self._clock() >= self._expires_at:
                        raise
                    log.warning("%s; using the current token until it expires", exc)
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret,
            "scope": self.scope,
        }
        try:
            if self._http is not None:
                response = await self._http.post(self.token_url, data=form)
            else:
                async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
                    response = await http.post(self.token_url, data=form)
        except httpx.HTTPError as exc:
            raise EntraTokenError(
                f"Kafka OAUTHBEARER: Entra ID at {self.token_url} did not answer ({exc!r})"
            ) from None
        body = _json(response)
        if response.status_code != 200 or "access_token" not in body:
            # Entra's error body: {"error": "invalid_client", "error_description": "AADSTS..."}
            code = body.get("error", f"HTTP {response.status_code}")
            detail = str(body.get("error_description", "")).split("\n")[0][:200]
            raise EntraTokenError(
                f"Kafka OAUTHBEARER: Entra ID refused a token for client {self.client_id}"
                f" ({code}: {detail}); check PORGATE_KAFKA_SASL_USERNAME (client id),"
                " the secret, PORGATE_KAFKA_OAUTH_TENANT_ID and the scope"
            )
        lifetime = float(body.get("expires_in", 3600))
        now = self._clock()
        self._token = body["access_token"]
        self._expires_at = now + lifetime
        self._refresh_at = now + lifetime - min(REFRESH_MARGIN_S, lifetime / 2)


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


_providers: dict[tuple[str, ...], EntraTokenProvider] = {}


def token_provider(*, token_url: str, client_id: str, client_secret: str, scope: str):
    """The process's provider for these credentials: every client shares its token."""
    digest = hashlib.sha256(client_secret.encode()).hexdigest()
    key = (token_url, client_id, scope, digest)
    if key not in _providers:
        _providers[key] = EntraTokenProvider(
            token_url=token_url, client_id=client_id, client_secret=client_secret, scope=scope
        )
    return _providers[key]
