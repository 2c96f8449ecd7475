"""`porgate run partner-center-sync`: a worker that syncs every distributor on a fixed schedule.

Not a leased-row worker (`run_leased`): the unit of work is a whole run, not a row. Every
replica loops; a run takes a PostgreSQL session lock on a connection of its own (released
when the run ends or the process dies), so replicas never sync at once, and under that lock
the shared schedule row says whether a slot is due and moves on to the next one, so each
slot is synced by one replica once. A run cut short by shutdown leaves no half-recorded
distributor: each one's changes commit together, and what was committed but not yet
published goes out at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import asyncpg

from services.common.config import Settings
from services.common.retry import Stopping
from services.common.service import Worker
from services.common.workers import WorkerContext
from services.partner_center.client import PartnerCenterClient
from services.partner_center.credentials import (
    CredentialsError,
    DistributorCredentials,
    load_credentials,
)
from services.partner_center.port import PartnerCenter
from services.partner_center_sync import schedule, store
from services.partner_center_sync.syncer import (
    SERVICE,
    Outcome,
    Syncer,
    distributors_to_sync,
    observe,
)

log = logging.getLogger(__name__)

# Longest sleep between looks at the schedule: another replica may have run, or stopped.
MAX_WAIT_S = 60.0
MIN_WAIT_S = 0.2

ClientFactory = Callable[[Settings, Mapping[str, DistributorCredentials]], PartnerCenter]


def make_scheduler(client_factory: ClientFactory = PartnerCenterClient) -> Worker:
    async def partner_center_sync(ctx: WorkerContext) -> None:
        # One client for the process: it keeps each distributor's rotated refresh token.
        client: PartnerCenter | None = None
        credentials: Mapping[str, DistributorCredentials] = {}
        try:
            while not ctx.stopping:
                try:
                    if client is None:
                        credentials = load_credentials(ctx.settings.partner_center_credentials_file)
                        client = client_factory(ctx.settings, credentials)
                    wait = await run_if_due(
                        ctx, Syncer(client, ctx.pool, ctx.outbox, ctx.retrying), credentials
                    )
                except Stopping:
                    return
                except CredentialsError as exc:
                    # Read again at the next slot: fixing the file needs no restart.
                    log.error(
                        "partner center sync cannot start",
                        extra={"service": SERVICE, "error": str(exc)},
                    )
                    wait = ctx.settings.partner_center_sync_every
                except Exception:
                    log.exception("partner center sync pass failed", extra={"service": SERVICE})
                    wait = ctx.settings.retry_max_s
                wait = min(MAX_WAIT_S, max(MIN_WAIT_S, wait))
                if not await ctx.retrying.sleep_unless_stopping(wait):
                    return
        finally:
            if client is not None:
                await client.aclose()

    return partner_center_sync


async def run_if_due(
    ctx: WorkerContext, syncer: Syncer, credentials: Mapping[str, DistributorCredentials]
) -> float:
    """Sync every distributor if a slot is due and no other replica is syncing; the seconds
    until it is worth looking again."""
    every = ctx.settings.partner_center_sync_every
    conn = await asyncpg.connect(
        ctx.settings.database_url, server_settings={"search_path": store.SCHEMA}
    )
    try:
        if not await store.try_run_lock(conn):
            return MAX_WAIT_S  # another replica is syncing
        now = datetime.now(UTC)
        async with conn.transaction():
            row = await store.schedule_row(conn)
            slot = schedule.decide(
                row and row["next_due_at"], row and row["last_started_at"], every, now
            )
            if slot.run:
                await store.start_run(conn, slot.next_due, now)
        if not slot.run:
            return slot.wait_s
        outcomes = await sync_all(syncer, credentials)
        failed = [o for o in outcomes if o.error is not None]
        await store.finish_run(conn, datetime.now(UTC), "failed" if failed else "ok")
        return (slot.next_due - datetime.now(UTC)).total_seconds()
    finally:
        await conn.close()


async def sync_all(
    syncer: Syncer, credentials: Mapping[str, DistributorCredentials]
) -> list[Outcome]:
    ready, unable = distributors_to_sync(credentials)
    if not credentials:
        log.warning(
            "no distributor has Partner Center credentials: nothing to sync",
            extra={"service": SERVICE},
        )
    for outcome in unable:
        observe(outcome, dry_run=False)
    return [*unable, *[await syncer.sync(d) for d in ready]]
