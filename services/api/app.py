"""The HTTP API: POR validation in Partner Center's shape, health, metrics and AsyncAPI."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time

import asyncpg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from contracts.errors import language_of
from services.api import metrics
from services.api.auth import ApiKeys, Authenticator, presented_key
from services.api.conventions import PartnerCenterConventions, locale_of
from services.api.docs import EXPLANATION_PATH, VALIDATE_PATH, docs_routes
from services.api.errors import error
from services.api.explanation import explanation_endpoint
from services.api.partner_center_events import (
    EVENTS_PATH,
    partner_center_events_endpoint,
    webhook_distributors,
)
from services.api.remediation import (
    RECHECK_PATH,
    REMEDIATION_PATH,
    recheck_endpoint,
    remediation_endpoint,
)
from services.api.validation import BadRequest, parse_request, validation_results
from services.common.body_limit import BodyLimit
from services.common.db import create_pool
from services.common.health import broker_check, database_check, health_routes
from services.common.kafka_clients import start_producer
from services.common.rate_limit import RateLimiter
from services.common.sign_in_attempts import SignInAttempts
from services.console.app import create_console
from services.domain.por_rules import normalize_partner_id
from services.domain.regions import RegionTable
from services.partner_center.client import PartnerCenterClient
from services.partner_center.errors import NotConfigured, Rejected
from services.partner_center.event_signature import CertificateStore, allowed_hosts
from services.partner_center.outage import OUTAGES, retry_after_s, when_unanswered
from services.partner_center_sync import store as sync_store
from services.por_validator import store
from services.por_validator.partner_center import CachedPartnerCenter
from services.settings import Settings

log = logging.getLogger(__name__)

# Every body the API takes (the console's forms included), capped while it streams in.
MAX_BODY = 64 * 1024
# How long an API request may wait out Partner Center's Retry-After before answering 503.
API_THROTTLE_WAIT_S = 5.0


def create_app(settings: Settings, asyncapi_json: str | None = None) -> Starlette:
    keys = ApiKeys(settings.api_key_map())
    # Wrong keys on the API and the console's sign-in count together.
    attempts = SignInAttempts(time.monotonic, settings.sign_in_free_failures)
    auth = Authenticator(keys, attempts)
    regions = RegionTable.load(settings.region_overrides_file)
    limiter = RateLimiter(settings.api_rate_per_key, time.monotonic)
    state: dict = {}

    async def validate_resellers(request: Request) -> Response:
        started = time.perf_counter()
        response = await _validate(request)
        metrics.REQUESTS.labels("validateresellers", str(response.status_code)).inc()
        metrics.LATENCY.labels("validateresellers").observe(time.perf_counter() - started)
        return response

    async def _validate(request: Request) -> Response:
        distributor_id = auth.distributor_or_refusal(request)
        if isinstance(distributor_id, Response):
            return distributor_id
        key = presented_key(request.headers)
        # Per key, not per distributor: a distributor's systems may each hold their own key.
        key_digest = hashlib.sha256((key or "").encode()).digest()
        if (wait := limiter.retry_after(key_digest)) is not None:
            return error(
                429,
                "rate_limited",
                f"over {settings.api_rate_per_key:g} requests a second for this key",
                **{"Retry-After": str(wait)},
            )
        body = await request.body()  # at most MAX_BODY: BodyLimit refuses more (413)
        try:
            parsed = parse_request(body)
        except BadRequest as exc:
            return error(400, "bad_request", f'expected {{"partnerIds": ["1234567", ...]}}: {exc}')
        answers, authority = None, "registry"
        if (cached := state.get("partner_center")) is not None:
            ids = {n for pid in parsed.partner_ids if (n := normalize_partner_id(pid))}
            try:
                answers = await cached.answers(state["pool"], distributor_id, ids)
                authority = "partner_center"
            except (NotConfigured, Rejected, *OUTAGES) as exc:
                # A caller is waiting: an outage has lasted as long as it may wait.
                fallback = when_unanswered(
                    exc, when_unavailable=settings.partner_center_unavailable, waited_out=True
                )
                if fallback == "wait":
                    return error(
                        503,
                        "partner_center_unavailable",
                        "Partner Center does not answer now; retry later",
                        **{"Retry-After": str(max(1, round(retry_after_s(exc))))},
                    )
                if isinstance(exc, Rejected):
                    log.error("Partner Center rejected a validation", extra={"error": str(exc)})
                authority = fallback
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.error("answer cache unavailable", extra={"error": repr(exc)})
                return error(503, "unavailable", "retry later", **{"Retry-After": "5"})
        try:
            async with state["pool"].acquire() as conn:
                registry = await store.registry_for(
                    conn, parsed.partner_ids, (distributor_id,), regions
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.error("registry unavailable", extra={"error": repr(exc)})
            return error(
                503,
                "unavailable",
                "the partner registry is unavailable; retry later",
                **{"Retry-After": "5"},
            )
        result = validation_results(
            parsed.partner_ids,
            distributor_id,
            registry,
            language_of(locale_of(request.headers)),
            answers,
        )
        # DEBUG, not INFO: the API answers many small requests (benchmarks/README.md).
        # 503 and 500 still log at ERROR.
        log.debug(
            "validated resellers",
            extra={"distributor_id": distributor_id, "ids": len(parsed.partner_ids)},
        )
        # Who answered: partner_center, registry, or registry_fallback (Partner Center down).
        return JSONResponse(result, headers={"X-Porgate-Authority": authority})

    async def asyncapi(request: Request) -> Response:
        if asyncapi_json is None:
            return error(404, "not_found", "no AsyncAPI document")
        return Response(asyncapi_json, media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        state["pool"] = await create_pool(
            settings.database_url, store.SCHEMA, min_size=1, max_size=10
        )
        state["producer"] = await start_producer(settings)
        # Partner Center's webhook events: partner-center-sync's inbox, the signers' certificates.
        state["pc_events_pool"] = await create_pool(
            settings.database_url, sync_store.SCHEMA, min_size=0, max_size=2
        )
        state["pc_distributors"] = webhook_distributors(settings)
        state["pc_certificates"] = CertificateStore(
            allowed_hosts(settings.partner_center_webhook_cert_hosts),
            ttl_s=settings.partner_center_webhook_cert_ttl_s,
        )
        client = None
        if settings.por_authority == "partner-center":
            # One client and cache for every key: internal tools get Partner Center's answer
            # without each holding credentials or tripping its throttling.
            # A caller is waiting: a short budget for Retry-After, then 503 with Retry-After.
            client = PartnerCenterClient.from_settings(
                settings.model_copy(
                    update={
                        "partner_center_max_throttle_wait_s": min(
                            settings.partner_center_max_throttle_wait_s, API_THROTTLE_WAIT_S
                        )
                    }
                )
            )
            state["partner_center"] = CachedPartnerCenter(
                client, settings.partner_center_cache_ttl_s
            )
            state["partner_center_client"] = client  # remediation and re-check ask it too
        try:
            yield
        finally:
            if client is not None:
                await client.aclose()
            await state["pc_certificates"].aclose()
            await state["pc_events_pool"].close()
            await state["pool"].close()
            await state["producer"].stop()

    checks = {
        "database": database_check(lambda: state.get("pool")),
        "broker": lambda: broker_check(state["producer"])(),
    }
    app = Starlette(
        routes=[
            Route(VALIDATE_PATH, validate_resellers, methods=["POST"]),
            Route(EXPLANATION_PATH, explanation_endpoint(auth, regions, state)),
            Route(REMEDIATION_PATH, remediation_endpoint(settings, auth, regions, state)),
            Route(
                RECHECK_PATH,
                recheck_endpoint(settings, auth, regions, state),
                methods=["POST"],
            ),
            Route(EVENTS_PATH, partner_center_events_endpoint(settings, state), methods=["POST"]),
            Route("/asyncapi.json", asyncapi),
            *health_routes(checks),
            *docs_routes(lambda: app.routes),
            Mount("/console", app=create_console(settings, attempts)),
        ],
        lifespan=lifespan,
        # Outermost of the app's own middleware: every answer, 404 and crash too, has the ids.
        middleware=[
            Middleware(PartnerCenterConventions),
            Middleware(BodyLimit, max_bytes=MAX_BODY),
        ],
        exception_handlers={404: _not_found, 405: _not_allowed, 413: _too_large},
    )
    # For the health port's server (services/runner.py), which serves /metrics too.
    app.state.health_checks = checks
    return app


async def _not_found(request: Request, exc: Exception) -> Response:
    return error(404, "not_found", f"no route {request.url.path}")


async def _too_large(request: Request, exc: Exception) -> Response:
    return error(413, "payload_too_large", f"body over {MAX_BODY} bytes")


async def _not_allowed(request: Request, exc: Exception) -> Response:
    # Starlette's exception carries the Allow header a 405 must have (RFC 9110).
    headers = exc.headers if isinstance(exc, HTTPException) and exc.headers else {}
    return error(
        405,
        "method_not_allowed",
        f"{request.method} is not allowed on {request.url.path}",
        **headers,
    )
