"""The terminator worker: reads each open termination's relationship live, acts on what it
reads, tracks Graph's request until it settles, and publishes the revocation only on
Graph's confirmation (tracking.py says what counts).

Every Graph call happens outside any transaction. What it led to (a request to track, a
poll, a failed attempt, a confirmed revocation with its event) is then committed on the
termination row, the durable queue: a crash between a request and its confirmation leaves
a `requested` row whose lease runs out, and another worker (or the restarted one) carries
on reading it back. The revocation's event id derives from the relationship, so it is
published once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import asyncpg

from contracts.codec import new_event
from contracts.events import GdapPrivilegesRevoked, GdapTerminationFailed
from contracts.ids import derived_event_id
from contracts.topics import REVOCATIONS
from services.common import tracing
from services.common.service import Outgoing
from services.common.workers import WorkerContext, run_leased
from services.gdap_revoker import metrics, store
from services.gdap_revoker import tracking as tr
from services.gdap_revoker.gateway import (
    Conflict,
    Gateway,
    GatewayError,
    NotFound,
    PreconditionFailed,
    make_gateway,
)
from services.gdap_revoker.settings import GdapRevokerSettings

log = logging.getLogger(__name__)

SOURCE = "/porgate/gdap-revoker"
BATCH = 8  # claimed and called concurrently
MAX_RETRY_AFTER_S = 3600.0


GatewayFactory = Callable[[GdapRevokerSettings, asyncpg.Pool], Gateway]


def revocation_event_id(relationship_id: str) -> str:
    return derived_event_id("gdap-revoked", relationship_id)


def failure_event_id(relationship_id: str, failures: int) -> str:
    """A new id each time the row fails for good (after a `porgate gdap retry`, say)."""
    return derived_event_id("gdap-termination-failed", relationship_id, str(failures))


# The most Graph requests one attempt makes: a token, and for _act a read (by id, then the
# list), the action and a read again; each may be retried once with a fresh token on a 401.
CALLS_PER_ATTEMPT = 2 * 6


def lease_seconds(settings: GdapRevokerSettings) -> float:
    """Longer than an unthrottled attempt. A throttled one may outlive it: the claim token,
    not the lease, keeps that slower worker from writing over the next holder's outcome, and
    a short lease lets a restarted worker resume a crashed one's tracking within minutes."""
    return CALLS_PER_ATTEMPT * settings.graph_timeout_s + settings.delivery_lease_margin_s


def retry_delay_s(settings: GdapRevokerSettings, attempts: int, retry_after: float | None) -> float:
    """Exponential in the attempts made so far, capped; never sooner than the server asked."""
    delay = settings.delivery_backoff_s(attempts)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_S))
    return delay


async def terminator(ctx: WorkerContext, *, gateway_factory: GatewayFactory = make_gateway) -> None:
    """Carry out the queued terminations through the gateway until the service stops."""
    gateway = gateway_factory(ctx.settings, ctx.pool)
    lease_s = lease_seconds(ctx.settings)
    try:
        await run_leased(
            ctx,
            "termination",
            claim=partial(store.claim_due, ctx.pool, BATCH, lease_s),
            # A failure that escapes leaves the lease to run out; the reads are idempotent.
            work=partial(terminate_one, ctx, gateway),
            seconds_until_due=partial(_seconds_until_due, ctx.pool),
        )
    finally:
        await gateway.aclose()


async def _seconds_until_due(pool: asyncpg.Pool) -> float | None:
    metrics.FAILED.set(await store.failed_count(pool))
    return await store.seconds_until_due(pool)


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
            if row["state"] == "requested":
                step = await _follow(ctx.settings, gateway, row)
            else:
                step = await _act(gateway, row)
        except Exception as exc:  # noqa: BLE001 - every failure counts against the row's budget
            await _failed(ctx, row, exc)
            return
        await _record(ctx, row, step)


async def _act(gateway: Gateway, row: asyncpg.Record) -> tr.Step:
    """A row with nothing asked yet: read the relationship live, and act on what it says."""
    d, rid = row["distributor_id"], row["relationship_id"]
    # A failed attempt keeps request_action: a terminate asked before may still be under way.
    step = tr.decide(
        await gateway.read(d, rid), asked_terminate=row["request_action"] == "terminate"
    )
    if isinstance(step, tr.Terminate):
        try:
            request = await gateway.request_termination(d, rid)
        except (NotFound, Conflict) as exc:
            return tr.after_refusal(
                str(exc),
                tr.decide(await gateway.read(d, rid), acting_on="terminate"),
                "terminate",
            )
        settled = tr.decide_request(request)
        if isinstance(settled, tr.Revoked | tr.Retry):
            return settled  # the ledger's requests succeed at once
        return tr.Requested(request.request_id, "terminate")
    if isinstance(step, tr.Delete):
        try:
            await gateway.delete(d, rid, step.etag)
        except PreconditionFailed:
            return tr.Retry("the relationship changed since it was read (ETag): read again")
        except (NotFound, Conflict) as exc:
            return tr.after_refusal(
                str(exc), tr.decide(await gateway.read(d, rid), acting_on="delete"), "delete"
            )
        after = tr.decide(await gateway.read(d, rid), acting_on="delete")
        return tr.Requested(None, "delete") if isinstance(after, tr.Poll) else after
    if isinstance(step, tr.Poll):
        # Someone else's termination is under way: follow it by reading the relationship.
        return tr.Requested(None, "terminate")
    return step


async def _follow(settings: GdapRevokerSettings, gateway: Gateway, row: asyncpg.Record) -> tr.Step:
    """A row tracking a request (or a termination under way): read it back."""
    d, rid, action = row["distributor_id"], row["relationship_id"], row["request_action"]
    step = None
    if row["request_id"] is not None:
        step = tr.decide_request(await gateway.read_request(d, rid, row["request_id"]))
    if step is None or isinstance(step, tr.Poll):
        # The relationship may have ended otherwise (the customer terminated it, Partner
        # Center's event said so): reading it confirms that without waiting for the request.
        live = tr.decide(await gateway.read(d, rid), acting_on=action or "terminate")
        if step is None or isinstance(live, tr.Revoked):
            step = live
    if isinstance(step, tr.Poll) and row["polls"] + 1 >= settings.graph_max_polls:
        return tr.Retry(f"not settled after {row['polls'] + 1} reads: {step.note}")
    return step


async def _record(ctx: WorkerContext, row: asyncpg.Record, step: tr.Step) -> None:
    settings, rid = ctx.settings, row["relationship_id"]
    if isinstance(step, tr.Revoked):
        await _completed(ctx, row, step.confirmed_by)
    elif isinstance(step, tr.Requested):
        first = tr.poll_delay_s(0, settings.graph_poll_initial_s, settings.graph_poll_max_s)
        await ctx.retrying(
            "termination-requested",
            lambda: store.mark_requested(
                ctx.pool, rid, row["claim_token"], step.request_id, step.action, poll_in_s=first
            ),
        )
        log.info(
            "GDAP %s requested; tracking it until Graph confirms",
            step.action,
            extra={"service": ctx.service, "relationship_id": rid, "request_id": step.request_id},
        )
    elif isinstance(step, tr.Poll):
        wait = tr.poll_delay_s(
            row["polls"] + 1, settings.graph_poll_initial_s, settings.graph_poll_max_s
        )
        await ctx.retrying(
            "termination-poll",
            lambda: store.mark_polled(ctx.pool, rid, row["claim_token"], step.note, poll_in_s=wait),
        )
    elif isinstance(step, tr.Retry):
        await _failed(ctx, row, GatewayError(step.reason))
    else:  # Terminate or Delete left over: never from _act or _follow
        await _failed(ctx, row, GatewayError(f"unexpected step {step!r}"))


async def _failed(ctx: WorkerContext, row: asyncpg.Record, exc: Exception) -> None:
    settings = ctx.settings
    permanent = isinstance(exc, GatewayError) and exc.permanent
    retry_after = exc.retry_after if isinstance(exc, GatewayError) else None
    attempts = row["attempts"] + 1
    error = str(exc) if isinstance(exc, GatewayError) else f"{type(exc).__name__}: {exc}"
    rid = row["relationship_id"]

    async def record(conn: asyncpg.Connection) -> list[Outgoing]:
        done = await store.mark_attempt_failed(
            conn,
            rid,
            row["claim_token"],
            error,
            retry_in_s=retry_delay_s(settings, attempts, retry_after),
            max_attempts=settings.graph_max_attempts,
            permanent=permanent,
        )
        if done is None or done["state"] != "failed":
            return []
        # Told to the distributor (the notifier) and to anyone watching the topic.
        failed_at = datetime.now(UTC)
        event = new_event(
            GdapTerminationFailed(
                relationship_id=rid,
                customer_id=row["customer_id"],
                reseller_tenant_id=row["reseller_tenant_id"],
                distributor_id=done["distributor_id"],
                reason=row["reason"],
                cause_event_id=row["cause_event_id"],
                attempts=done["attempts"],
                last_error=error[:2000],
                failed_at=failed_at,
            ),
            source=SOURCE,
            id=failure_event_id(rid, done["failures"]),
            subject=rid,
            time=failed_at,
        )
        return [Outgoing(REVOCATIONS, row["reseller_tenant_id"], event)]

    sent = await ctx.outbox.commit_and_publish(
        "termination-failure", f"gdap-termination-failed:{rid}", record
    )
    extra = {"service": ctx.service, "relationship_id": rid, "attempt": attempts, "error": error}
    if sent:
        metrics.TERMINATIONS.labels("failed").inc()
        log.error("GDAP termination failed; retry with `porgate gdap retry`", extra=extra)
    else:
        metrics.TERMINATIONS.labels("retried").inc()
        log.warning("GDAP termination attempt failed; will retry", extra=extra)


async def _completed(ctx: WorkerContext, row: asyncpg.Record, confirmed_by: str) -> None:
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
            confirmed_by=confirmed_by,
        ),
        source=SOURCE,
        id=revocation_event_id(rid),
        subject=rid,
        time=revoked_at,
    )

    async def record(conn: asyncpg.Connection) -> list[Outgoing]:
        # Another instance that outlived our lease may have finished it: publish nothing twice.
        if not await store.mark_terminated(conn, rid, row["claim_token"], revoked_at, confirmed_by):
            return []
        return [Outgoing(REVOCATIONS, row["reseller_tenant_id"], event)]

    if await ctx.outbox.commit_and_publish("termination-complete", event.id, record):
        metrics.TERMINATIONS.labels("revoked").inc()
    log.info(
        "GDAP privileges revoked, confirmed by Graph",
        extra={
            "service": ctx.service,
            "relationship_id": rid,
            "reason": row["reason"],
            "confirmed_by": confirmed_by,
        },
    )
