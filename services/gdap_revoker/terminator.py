"""The terminator worker: carries out pending terminations, then publishes their revocations.

Each gateway call happens outside any transaction; the row's outcome and the revocation
event are then committed together, so a revocation is published only for a termination
that happened, and exactly once per relationship (the event id derives from it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg

from contracts.codec import new_event
from contracts.events import GdapPrivilegesRevoked
from contracts.ids import derived_event_id
from contracts.topics import REVOCATIONS
from services.common import tracing
from services.common.config import Settings
from services.common.service import Outgoing, Worker
from services.common.workers import WorkerContext, run_leased
from services.gdap_revoker import store
from services.gdap_revoker.gateway import Gateway, GatewayError, make_gateway

log = logging.getLogger(__name__)

SOURCE = "/porgate/gdap-revoker"
BATCH = 8  # claimed and called concurrently
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


def make_terminator(gateway_factory: GatewayFactory = make_gateway) -> Worker:
    async def terminator(ctx: WorkerContext) -> None:
        gateway = gateway_factory(ctx.settings, ctx.pool)
        # Long enough for a token request and a terminate request, each up to the timeout.
        lease_s = 2 * ctx.settings.graph_timeout_s + ctx.settings.delivery_lease_margin_s
        try:
            await run_leased(
                ctx,
                "termination",
                claim=lambda: store.claim_due(ctx.pool, BATCH, lease_s),
                # A failure that escapes leaves the lease to run out; the call is idempotent.
                work=lambda row: terminate_one(ctx, gateway, row),
                seconds_until_due=lambda: store.seconds_until_due(ctx.pool),
            )
        finally:
            await gateway.aclose()

    return terminator


async def terminate_one(ctx: WorkerContext, gateway: Gateway, row: asyncpg.Record) -> None:
    rid = row["relationship_id"]
    # Current while the gateway calls Graph and the revocation is written to the outbox, so
    # both carry on the trace of the event that asked for the termination.
    with tracing.worked(
        "terminate GDAP relationship",
        row["traceparent"],
        {"porgate.relationship_id": rid, "porgate.attempt": row["attempts"] + 1},
    ):
        try:
            await gateway.terminate(
                rid, row["customer_id"], row["reseller_tenant_id"], row["reason"]
            )
        except Exception as exc:  # noqa: BLE001 - every failure counts against the row's budget
            await _failed(ctx, row, exc)
            return
        await _completed(ctx, row)


async def _failed(ctx: WorkerContext, row: asyncpg.Record, exc: Exception) -> None:
    settings = ctx.settings
    permanent = isinstance(exc, GatewayError) and exc.permanent
    retry_after = exc.retry_after if isinstance(exc, GatewayError) else None
    attempts = row["attempts"] + 1
    error = str(exc) if isinstance(exc, GatewayError) else f"{type(exc).__name__}: {exc}"
    state = await ctx.retrying(
        "termination-failure",
        lambda: store.mark_attempt_failed(
            ctx.pool,
            row["relationship_id"],
            error,
            retry_in_s=retry_delay_s(settings, attempts, retry_after),
            max_attempts=settings.graph_max_attempts,
            permanent=permanent,
        ),
    )
    extra = {
        "service": ctx.service,
        "relationship_id": row["relationship_id"],
        "attempt": attempts,
        "error": error,
    }
    if state == "failed":
        log.error("GDAP termination failed; retry with `porgate gdap retry`", extra=extra)
    else:
        log.warning("GDAP termination attempt failed; will retry", extra=extra)


async def _completed(ctx: WorkerContext, row: asyncpg.Record) -> None:
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

    async def record(conn: asyncpg.Connection) -> list[Outgoing]:
        # Another instance that outlived our lease may have finished it: publish nothing twice.
        if not await store.mark_terminated(conn, rid, revoked_at):
            return []
        return [Outgoing(REVOCATIONS, row["reseller_tenant_id"], event)]

    await ctx.outbox.commit_and_publish("termination-complete", event.id, record)
    log.info(
        "GDAP relationship terminated",
        extra={"service": ctx.service, "relationship_id": rid, "reason": row["reason"]},
    )
