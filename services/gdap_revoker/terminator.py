"""The terminator worker: carries out pending terminations, then publishes their revocations.

Each gateway call happens outside any transaction; the row's outcome and the revocation
event are then committed together, so a revocation is published only for a termination
that happened, and exactly once per relationship (the event id derives from it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

from contracts.codec import new_event
from contracts.events import GdapPrivilegesRevoked
from contracts.topics import REVOCATIONS
from services.common.config import Settings
from services.common.runtime import Outgoing, Runtime, Stopping
from services.domain.decisions import derived_event_id
from services.gdap_revoker import store
from services.gdap_revoker.gateway import Gateway, GatewayError, make_gateway

log = logging.getLogger(__name__)

SOURCE = "/porgate/gdap-revoker"
BATCH = 8  # claimed and called concurrently
MAX_POLL_S = 5.0  # also picks up work another instance's consumer committed
MAX_RETRY_AFTER_S = 3600.0

GatewayFactory = Callable[[Settings, asyncpg.Pool], Gateway]


def revocation_event_id(relationship_id: str) -> str:
    return derived_event_id("gdap-revoked", relationship_id)


def retry_delay_s(settings: Settings, attempts: int, retry_after: float | None) -> float:
    """Exponential in the attempts made so far, capped; never sooner than the server asked."""
    delay = settings.delivery_backoff_s(attempts)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
    return delay


def make_terminator(gateway_factory: GatewayFactory = make_gateway):
    async def terminator(runtime: Runtime) -> None:
        assert runtime.pool is not None
        gateway = gateway_factory(runtime.settings, runtime.pool)
        try:
            while True:
                try:
                    wait = await drain(runtime, gateway)
                except Stopping:
                    return
                except Exception:
                    log.exception("terminator pass failed", extra={"service": runtime.service.name})
                    wait = runtime.settings.delivery_retry_max_s
                if not await runtime.wait_for_work(max(0.01, wait)):
                    return
        finally:
            await gateway.aclose()

    return terminator


async def drain(runtime: Runtime, gateway: Gateway) -> float:
    """Work every due termination; return seconds until the next one comes due (capped)."""
    pool = runtime.pool
    assert pool is not None
    # Long enough for a token request and a terminate request, each up to the timeout.
    lease_s = 2 * runtime.settings.graph_timeout_s + runtime.settings.delivery_lease_margin_s
    while not runtime.stopping.is_set():
        rows = await runtime.retrying("claim", lambda: store.claim_due(pool, BATCH, lease_s))
        if not rows:
            break
        results = await asyncio.gather(
            *(terminate_one(runtime, gateway, row) for row in rows), return_exceptions=True
        )
        for result in results:
            if isinstance(result, Stopping):
                raise result
            if isinstance(result, BaseException):
                # The row's lease runs out and it is tried again; the gateway call is idempotent.
                log.error(
                    "termination not settled",
                    exc_info=result,
                    extra={"service": runtime.service.name},
                )
    due = await runtime.retrying("due", lambda: store.seconds_until_due(pool))
    return MAX_POLL_S if due is None else min(MAX_POLL_S, due)


async def terminate_one(runtime: Runtime, gateway: Gateway, row: asyncpg.Record) -> None:
    rid = row["relationship_id"]
    try:
        await gateway.terminate(rid, row["customer_id"], row["reseller_tenant_id"], row["reason"])
    except Exception as exc:  # noqa: BLE001 - every failure counts against the row's budget
        await _failed(runtime, row, exc)
        return
    await _completed(runtime, row)


async def _failed(runtime: Runtime, row: asyncpg.Record, exc: Exception) -> None:
    settings = runtime.settings
    permanent = isinstance(exc, GatewayError) and exc.permanent
    retry_after = exc.retry_after if isinstance(exc, GatewayError) else None
    attempts = row["attempts"] + 1
    error = str(exc) if isinstance(exc, GatewayError) else f"{type(exc).__name__}: {exc}"
    state = await runtime.retrying(
        "termination-failure",
        lambda: store.mark_attempt_failed(
            runtime.pool,
            row["relationship_id"],
            error,
            retry_in_s=retry_delay_s(settings, attempts, retry_after),
            max_attempts=settings.graph_max_attempts,
            permanent=permanent,
        ),
    )
    extra = {
        "service": runtime.service.name,
        "relationship_id": row["relationship_id"],
        "attempt": attempts,
        "error": error,
    }
    if state == "failed":
        log.error("GDAP termination failed; retry with `porgate gdap retry`", extra=extra)
    else:
        log.warning("GDAP termination attempt failed; will retry", extra=extra)


async def _completed(runtime: Runtime, row: asyncpg.Record) -> None:
    rid = row["relationship_id"]
    revoked_at = datetime.now(UTC)
    event = new_event(
        GdapPrivilegesRevoked(
            relationship_id=rid,
            customer_id=row["customer_id"],
            reseller_tenant_id=row["reseller_tenant_id"],
            reason=row["reason"],
            cause_event_id=row["cause_event_id"],
            revoked_at=revoked_at,
        ),
        source=SOURCE,
        id=revocation_event_id(rid),
        subject=rid,
        time=revoked_at,
    )
    pool = runtime.pool
    assert pool is not None

    async def commit() -> list[asyncpg.Record]:
        async with pool.acquire() as conn, conn.transaction():
            # Another instance that outlived our lease may have finished it: publish nothing twice.
            if not await store.mark_terminated(conn, rid, revoked_at):
                return []
            return await runtime.emit(
                conn, event.id, [Outgoing(REVOCATIONS, row["reseller_tenant_id"], event)]
            )

    rows = await runtime.retrying("termination-complete", commit)
    if rows:
        await runtime.publish_rows(rows)
    log.info(
        "GDAP relationship terminated",
        extra={"service": runtime.service.name, "relationship_id": rid, "reason": row["reason"]},
    )
