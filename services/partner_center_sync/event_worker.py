"""The partner-center-sync worker that acts on Partner Center's webhook events the API queued.

An event only says that something changed; the worker reads what it names and publishes
that read, never the event itself:
- `granular-admin-relationship-*`: the relationship is read live from Graph with the
  distributor's credentials and goes through the GDAP sync (gdap_syncer.refresh); a
  `terminated` event thus settles a pending revocation only once Graph says so, and
  gdap-revoker then confirms it with Graph again before publishing the revocation.
- `indirect-reseller-relationship-accepted-by-customer`: Partner Center is asked for the
  customer's indirect resellers, and each is published as assigned to the customer
  (`csp.customer-assignment.upserted.v1`), in the transaction that settles the event.
A failed read is retried with backoff (`PORGATE_DELIVERY_RETRY_*`), at most
`PORGATE_GRAPH_MAX_ATTEMPTS` times; the event is kept with its last error either way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from pydantic import ValidationError

from contracts.codec import new_event
from contracts.events import CustomerAssignmentUpserted
from contracts.ids import derived_event_id
from contracts.topics import PARTNER_REGISTRY
from services.common.service import Outgoing, Worker
from services.common.workers import WorkerContext, run_leased
from services.partner_center.credentials import CredentialsError
from services.partner_center.customers import customer_partners
from services.partner_center.errors import PartnerCenterError
from services.partner_center.events import PartnerCenterEvent
from services.partner_center_sync import event_store, metrics
from services.partner_center_sync.gdap_syncer import GdapSyncer, partner_center_lookup
from services.partner_center_sync.scheduler import GraphFactory, SharedPartnerCenter

log = logging.getLogger(__name__)

SOURCE = "/porgate/partner-center-events"
BATCH = 8


class _Failed(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class _Clients:
    def __init__(
        self, ctx: WorkerContext, partner_center: SharedPartnerCenter, graph_factory: GraphFactory
    ) -> None:
        self.client, self.credentials = partner_center.open(ctx.settings)
        self.graph = graph_factory(ctx.settings, self.credentials)
        self.gdap = GdapSyncer(
            self.graph,
            self.credentials,
            partner_center_lookup(self.client, self.credentials),  # type: ignore[arg-type]
            ctx.pool,
            ctx.outbox,
        )


def make_event_worker(partner_center: SharedPartnerCenter, graph_factory: GraphFactory) -> Worker:
    async def partner_center_events(ctx: WorkerContext) -> None:
        settings = ctx.settings
        # Long enough for a token request and a few Graph and Partner Center calls.
        timeout = max(settings.graph_timeout_s, settings.partner_center_timeout_s)
        lease_s = 4 * timeout + settings.delivery_lease_margin_s
        clients: _Clients | None = None

        async def acting(row: asyncpg.Record) -> None:
            nonlocal clients
            if clients is None:
                clients = _Clients(ctx, partner_center, graph_factory)
            await act(ctx, clients, row)

        async def work(row: asyncpg.Record) -> None:
            await attempt(ctx, row, acting)

        try:
            await run_leased(
                ctx,
                "partner-center-event",
                claim=lambda: event_store.claim_due(ctx.pool, BATCH, lease_s),
                work=work,
                seconds_until_due=lambda: event_store.seconds_until_due(ctx.pool),
            )
        finally:
            if clients is not None:
                await clients.graph.aclose()

    return partner_center_events


async def attempt(
    ctx: WorkerContext, row: asyncpg.Record, acting: Callable[[asyncpg.Record], Awaitable[None]]
) -> None:
    """One attempt at an event; every failure counts against its budget (a defect escaping
    as anything else would only wait out the lease, again and again, uncounted)."""
    try:
        await acting(row)
    except CredentialsError as exc:
        await _failed(ctx, row, _Failed(f"credentials: {exc}"))
    except _Failed as exc:
        await _failed(ctx, row, exc)
    except Exception as exc:  # every failure is counted, as terminate_one does
        log.exception("Partner Center event attempt failed", extra={"service": ctx.service})
        await _failed(ctx, row, _Failed(f"{type(exc).__name__}: {exc}"))


async def act(ctx: WorkerContext, clients: _Clients, row: asyncpg.Record) -> None:
    d, sha = row["distributor_id"], row["body_sha256"]
    try:
        event = PartnerCenterEvent.model_validate(json.loads(row["body"]))
    except (ValueError, ValidationError) as exc:
        raise _Failed(f"unreadable event: {exc}", permanent=True) from None
    if event.action == "gdap_relationship":
        rid = event.relationship_id()
        if rid is None:
            raise _Failed("its ResourceUri names no granularAdminRelationship", permanent=True)
        outcome = await clients.gdap.refresh(d, rid)
        if outcome.plan is None:
            raise _Failed(f"GDAP read: {outcome.error}")
        note = f"relationship {rid}: {len(outcome.plan.changes)} change(s) published"
        await ctx.retrying(
            "partner-center-event", lambda: event_store.settle(ctx.pool, d, sha, note)
        )
    elif event.action == "customer_reseller":
        await _customer_accepted(ctx, clients, row, event)
    else:  # queued by an older receiver, or a name it acted on: nothing to read
        await ctx.retrying(
            "partner-center-event", lambda: event_store.settle(ctx.pool, d, sha, None)
        )
    metrics.PROCESSED.labels(event.event_name, "done").inc()
    log.info(
        "Partner Center event acted on",
        extra={"service": ctx.service, "distributor_id": d, "event_name": event.event_name},
    )


async def _customer_accepted(
    ctx: WorkerContext, clients: _Clients, row: asyncpg.Record, event: PartnerCenterEvent
) -> None:
    d, sha = row["distributor_id"], row["body_sha256"]
    customer = event.customer_id()
    creds = clients.credentials.get(d)
    if customer is None:
        raise _Failed("its ResourceUri names no customer", permanent=True)
    if creds is None or not creds.acts_as_user:
        raise _Failed(
            f"reading {customer}'s resellers needs {d}'s Partner Center app+user credentials"
            " (refreshToken) in PORGATE_PARTNER_CENTER_CREDENTIALS_FILE"
        )
    try:
        partners = await customer_partners(clients.client, d, customer, event_id=sha)
    except PartnerCenterError as exc:
        raise _Failed(f"Partner Center: {str(exc).removeprefix(f'{d}: ')}") from None
    resellers = partners.reseller_tenant_ids(creds.tenant_id)

    async def effect(conn: asyncpg.Connection) -> list[Outgoing]:
        note = f"customer {customer}: {len(resellers)} reseller(s) assigned"
        if not await event_store.settle(conn, d, sha, note):
            return []  # another instance, outliving our lease, did it
        return [_assignment(d, sha, customer, tenant) for tenant in resellers]

    await ctx.outbox.commit_and_publish("partner-center-event", f"pc-event:{d}:{sha}", effect)


def _assignment(distributor_id: str, sha: str, customer: str, tenant: str) -> Outgoing:
    key = f"{distributor_id}:{customer}:{tenant}"
    event: Any = new_event(
        CustomerAssignmentUpserted(
            customer_id=customer,
            reseller_tenant_id=tenant,
            distributor_id=distributor_id,
            status="assigned",
        ),
        source=SOURCE,
        # A redelivered event was never queued twice; a new acceptance is a new body.
        id=derived_event_id("partner-center-event", distributor_id, sha, customer, tenant),
        subject=key,
    )
    return Outgoing(PARTNER_REGISTRY, key, event)


async def _failed(ctx: WorkerContext, row: asyncpg.Record, exc: _Failed) -> None:
    settings = ctx.settings
    d, sha = row["distributor_id"], row["body_sha256"]
    state = await ctx.retrying(
        "partner-center-event",
        lambda: event_store.attempt_failed(
            ctx.pool,
            d,
            sha,
            str(exc),
            retry_in_s=settings.delivery_backoff_s(row["attempts"] + 1),
            max_attempts=settings.graph_max_attempts,
            permanent=exc.permanent,
        ),
    )
    outcome = "failed" if state == "failed" else "retried"
    metrics.PROCESSED.labels(row["event_name"], outcome).inc()
    extra = {"service": ctx.service, "distributor_id": d, "event_name": row["event_name"]}
    log.log(
        logging.ERROR if outcome == "failed" else logging.WARNING,
        "Partner Center event not acted on",
        extra={**extra, "error": str(exc), "outcome": outcome},
    )
