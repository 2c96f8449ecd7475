"""The checks of `porgate doctor` on remote services: each distributor's Entra ID tokens
(Partner Center app-only and app+user; Microsoft Graph with the distributor's Graph app, by
default the same app registration), the global Graph app, and the webhook endpoint
(reachable, and not disabled by a 410 Gone)."""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import quote, urlsplit

import asyncpg
import httpx

from services.ops.doctor import Check, Status
from services.partner_center.auth import GRAPH_SCOPE, TokenKind, TokenProvider
from services.partner_center.credentials import (
    CredentialsError,
    DistributorCredentials,
    load_credentials,
)
from services.partner_center.errors import PartnerCenterError
from services.settings import Settings

TIMEOUT_S = 10.0
# What terminating GDAP relationships takes (gdap-revoker's Graph gateway).
GDAP_ROLE = "DelegatedAdminRelationship.ReadWrite.All"
CREDENTIALS_FIX = "correct the distributor's entry in PORGATE_PARTNER_CENTER_CREDENTIALS_FILE"


async def remote_checks(settings: Settings) -> list[Check]:
    parts = await asyncio.gather(
        partner_center_checks(settings), graph_gateway_checks(settings), webhook_checks(settings)
    )
    return [c for part in parts for c in part]


# ----------------------------------------------------------------------------- Entra ID


async def partner_center_checks(settings: Settings) -> list[Check]:
    if settings.partner_center_credentials_file is None:
        return [
            Check(
                "partner-center",
                "credentials",
                Status.UNCHECKED,
                "PORGATE_PARTNER_CENTER_CREDENTIALS_FILE is unset: no Partner Center calls",
            )
        ]
    try:
        credentials = load_credentials(settings.partner_center_credentials_file)
    except CredentialsError as exc:
        return [Check("partner-center", "credentials", Status.FAIL, str(exc), CREDENTIALS_FIX)]
    tokens = TokenProvider(
        credentials,
        authority_url=settings.entra_authority_url,
        margin_s=settings.partner_center_token_margin_s,
        timeout_s=TIMEOUT_S,
    )
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
        try:
            per_distributor = await asyncio.gather(
                *(_distributor(tokens, http, settings, c) for c in credentials.values())
            )
        finally:
            await tokens.aclose()
    return [c for checks in per_distributor for c in checks]


async def _distributor(
    tokens: TokenProvider,
    http: httpx.AsyncClient,
    settings: Settings,
    creds: DistributorCredentials,
) -> list[Check]:
    who = creds.distributor_id
    checks = [await _partner_center_token(tokens, who, TokenKind.APP, "app-only")]
    if creds.acts_as_user:
        checks.append(await _partner_center_token(tokens, who, TokenKind.APP_USER, "app+user"))
    else:
        checks.append(
            Check(
                "partner-center",
                f"{who} app+user",
                Status.WARN,
                "no refresh token: partner-center-sync cannot list this distributor's resellers",
                "add refreshToken (or refreshTokenEnv) to its credentials",
            )
        )
    token_url = f"{settings.entra_authority_url.rstrip('/')}/{quote(creds.tenant_id, safe='')}"
    client_id, secret = creds.graph_app
    problem = await client_credentials_refusal(
        http, f"{token_url}/oauth2/v2.0/token", client_id, secret.get_secret_value(), GRAPH_SCOPE
    )
    checks.append(
        Check("graph", who, Status.OK, f"token granted to {client_id}")
        if problem is None
        else Check(
            "graph",
            who,
            Status.FAIL,
            problem,
            f"grant the app registration Microsoft Graph's {GDAP_ROLE} application"
            " permission, with admin consent",
        )
    )
    return checks


async def _partner_center_token(tokens: TokenProvider, who: str, kind: TokenKind, label: str):
    try:
        await tokens.token(who, kind)
    except PartnerCenterError as exc:
        return Check("partner-center", f"{who} {label}", Status.FAIL, str(exc), CREDENTIALS_FIX)
    return Check("partner-center", f"{who} {label}", Status.OK, "token granted")


async def client_credentials_refusal(
    http: httpx.AsyncClient,
    token_url: str,
    client_id: str,
    secret: str,
    scope: str,
    required_role: str | None = GDAP_ROLE,
) -> str | None:
    """Why Entra ID grants no usable client-credentials token for `scope`; None when it does.

    Entra ID grants a token even to an app without any permission on the resource: the
    token's `roles` tell, so a JWT lacking `required_role` counts as refused."""
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": secret,
        "scope": scope,
    }
    try:
        response = await http.post(token_url, data=form)
    except httpx.HTTPError as exc:
        return f"Entra ID at {token_url} did not answer ({type(exc).__name__})"
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200 and isinstance(body, dict) and "access_token" in body:
        return _missing_role(str(body["access_token"]), required_role)
    body = body if isinstance(body, dict) else {}
    detail = str(body.get("error_description", "")).split("\n")[0].strip()[:200]
    return f"Entra ID refused: {body.get('error', f'HTTP {response.status_code}')}: {detail}"


async def graph_gateway_checks(settings: Settings) -> list[Check]:
    """The global Graph app (`PORGATE_GRAPH_*`), for distributors without their own."""
    if settings.gdap_gateway != "graph":
        return []
    names = ("graph_token_url", "graph_client_id", "graph_client_secret")
    unset = [f"PORGATE_{n.upper()}" for n in names if not getattr(settings, n)]
    if unset and settings.partner_center_credentials_file:
        return []  # each distributor's own Graph app, checked above
    if unset:
        return [
            Check(
                "graph",
                "gdap-revoker",
                Status.FAIL,
                "PORGATE_GDAP_GATEWAY=graph without per-distributor credentials"
                f" (PORGATE_PARTNER_CENTER_CREDENTIALS_FILE) or {', '.join(unset)}",
                "set PORGATE_PARTNER_CENTER_CREDENTIALS_FILE (docs/gdap-and-partner-center-events.md)",
            )
        ]
    assert settings.graph_token_url and settings.graph_client_id and settings.graph_client_secret
    async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
        problem = await client_credentials_refusal(
            http,
            settings.graph_token_url,
            settings.graph_client_id,
            settings.graph_client_secret.get_secret_value(),
            GRAPH_SCOPE,
        )
    if problem is None:
        return [Check("graph", "gdap-revoker", Status.OK, "token granted")]
    fix = "check PORGATE_GRAPH_TOKEN_URL, PORGATE_GRAPH_CLIENT_ID and PORGATE_GRAPH_CLIENT_SECRET"
    return [Check("graph", "gdap-revoker", Status.FAIL, problem, fix)]


# ----------------------------------------------------------------------------- webhook


async def webhook_checks(settings: Settings) -> list[Check]:
    url = settings.notify_webhook_url
    if not url:
        return [
            Check(
                "webhook",
                "endpoint",
                Status.WARN,
                "PORGATE_NOTIFY_WEBHOOK_URL is unset: notifications wait, undelivered",
                "set PORGATE_NOTIFY_WEBHOOK_URL (and PORGATE_NOTIFY_WEBHOOK_SECRET)",
            )
        ]
    subject = _without_credentials(url)
    disabled = await _disabled_reason(settings, url)
    if disabled is not None:
        return [
            Check(
                "webhook",
                subject,
                Status.FAIL,
                f"disabled by the notifier: {disabled}",
                "once the receiver is back: porgate notifications enable",
            )
        ]
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            # HEAD carries no notification: any answer but 410 means the receiver is there.
            response = await http.head(url)
    except httpx.HTTPError as exc:
        return [
            Check(
                "webhook",
                subject,
                Status.FAIL,
                f"unreachable: {type(exc).__name__}: {exc}",
                "check PORGATE_NOTIFY_WEBHOOK_URL and that the network lets the notifier out",
            )
        ]
    if response.status_code == 410:
        return [
            Check(
                "webhook",
                subject,
                Status.FAIL,
                "answered 410 Gone: the notifier would disable it",
                "point PORGATE_NOTIFY_WEBHOOK_URL at the receiver's current URL",
            )
        ]
    return [
        Check("webhook", subject, Status.OK, f"reachable (HEAD answered {response.status_code})")
    ]


def _missing_role(token: str, role: str | None) -> str | None:
    """A JWT's missing application permission; None if present, or if the token is opaque."""
    parts = token.split(".")
    if role is None or len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    roles = payload.get("roles", []) if isinstance(payload, dict) else []
    if role in roles:
        return None
    return f"token granted without the {role} application permission (roles: {roles or 'none'})"


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


async def _disabled_reason(settings: Settings, url: str) -> str | None:
    # The notifier's record of the endpoint; the database check reports an unreachable server.
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return None
    try:
        row = await conn.fetchrow(
            "SELECT disabled_reason FROM notifier.webhook_endpoints"
            " WHERE url = $1 AND disabled_at IS NOT NULL",
            url,
        )
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    return None if row is None else (row["disabled_reason"] or "410 Gone")
