"""`porgate run partner-center-sync`: workers that sync every distributor on fixed schedules,
one for the indirect-reseller lists (Partner Center) and one for the GDAP lists (Graph).

Not leased-row workers (`run_leased`): the unit of work is a whole run, not a row. Every
replica loops; a run takes a PostgreSQL session lock of its schedule on a connection of its
own (released when the run ends or the process dies), so replicas never run a schedule at
once, and under that lock the shared schedule row says whether a slot is due and moves on to
the next one, so each slot is run by one replica once. A run cut short by shutdown leaves no
half-recorded distributor: each one's changes commit together, and what was committed but
not yet published goes out at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

import asyncpg

from services.common.retry import Stopping
from services.common.service import Worker
from services.common.workers import WorkerContext
from services.graph.client import GraphClient
from services.partner_center.credentials import (
    CredentialsError,
    DistributorCredentials,
    load_credentials,
)
from services.partner_center.port import PartnerCenter
from services.partner_center_sync import schedule, store
from services.partner_center_sync.gdap_syncer import (
    GdapOutcome,
    GdapSyncer,
    partner_center_lookup,
)
from services.partner_center_sync.settings import PartnerCenterSyncSettings
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

ClientFactory = Callable[
    [PartnerCenterSyncSettings, Mapping[str, DistributorCredentials]], PartnerCenter
]
GraphFactory = Callable[
    [PartnerCenterSyncSettings, Mapping[str, DistributorCredentials]], GraphClient
]


class Runner(Protocol):
    """One schedule's run over every distributor, with the clients it keeps between runs."""

    async def run(self) -> bool:
        """Sync every distributor; False when one failed."""

    async def aclose(self) -> None: ...


def scheduled(
    name: str,
    every: Callable[[PartnerCenterSyncSettings], float],
    open_runner: Callable[[WorkerContext], Runner],
) -> Worker:
    """A worker running `name`'s schedule every `every(settings)` seconds (0: never)."""

    async def worker(ctx: WorkerContext) -> None:
        period = every(ctx.settings)
        if period <= 0:
            log.info("%s sync is off", name, extra={"service": SERVICE})
            return
        runner: Runner | None = None
        try:
            while not ctx.stopping:
                try:
                    if runner is None:
                        runner = open_runner(ctx)
                    wait = await run_if_due(ctx, name, period, runner.run)
                except Stopping:
                    return
                except CredentialsError as exc:
                    # Read again at the next slot: fixing the file needs no restart.
                    log.error(
                        "%s sync cannot start",
                        name,
                        extra={"service": SERVICE, "error": str(exc)},
                    )
                    wait = period
                except Exception:
                    log.exception("%s sync pass failed", name, extra={"service": SERVICE})
                    wait = ctx.settings.retry_max_s
                wait = min(MAX_WAIT_S, max(MIN_WAIT_S, wait))
                if not await ctx.retrying.sleep_unless_stopping(wait):
                    return
        finally:
            if runner is not None:
                await runner.aclose()

    worker.__name__ = worker.__qualname__ = f"{name.replace('-', '_')}_sync"
    return worker


async def run_if_due(
    ctx: WorkerContext, name: str, every: float, run: Callable[[], Awaitable[bool]]
) -> float:
    """Run if a slot of schedule `name` is due and no other replica is running it; the
    seconds until it is worth looking again."""
    conn = await asyncpg.connect(
        ctx.settings.database_url, server_settings={"search_path": store.SCHEMA}
    )
    try:
        if not await store.try_run_lock(conn, name):
            return MAX_WAIT_S  # another replica is running it
        now = datetime.now(UTC)
        async with conn.transaction():
            row = await store.schedule_row(conn, name)
            slot = schedule.decide(
                row and row["next_due_at"], row and row["last_started_at"], every, now
            )
            if slot.run:
                await store.start_run(conn, slot.next_due, now, name)
        if not slot.run:
            return slot.wait_s
        ok = await run()
        await store.finish_run(conn, datetime.now(UTC), "ok" if ok else "failed", name)
        return (slot.next_due - datetime.now(UTC)).total_seconds()
    finally:
        await conn.close()


class SharedPartnerCenter:
    """One Partner Center client for the process, shared by both schedules: it keeps each
    distributor's rotated refresh token, which a second client would present stale."""

    def __init__(self, factory: ClientFactory) -> None:
        self.factory = factory
        self.client: PartnerCenter | None = None
        self.credentials: Mapping[str, DistributorCredentials] = {}

    def open(
        self, settings: PartnerCenterSyncSettings
    ) -> tuple[PartnerCenter, Mapping[str, DistributorCredentials]]:
        if self.client is None:
            credentials = load_credentials(settings.partner_center_credentials_file)
            self.client, self.credentials = self.factory(settings, credentials), credentials
        return self.client, self.credentials

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None


class ResellersRunner:
    """The indirect-reseller lists."""

    def __init__(self, ctx: WorkerContext, partner_center: SharedPartnerCenter) -> None:
        client, self.credentials = partner_center.open(ctx.settings)
        self.syncer = Syncer(client, ctx.pool, ctx.outbox, ctx.retrying)

    async def run(self) -> bool:
        outcomes = await sync_all(self.syncer, self.credentials)
        return all(o.error is None for o in outcomes)

    async def aclose(self) -> None:
        pass  # the shared client is the service's to close


class GdapRunner:
    """The GDAP lists: Graph with each distributor's credentials, Partner Center to name
    the reseller of a relationship seen for the first time."""

    def __init__(
        self, ctx: WorkerContext, graph_factory: GraphFactory, partner_center: SharedPartnerCenter
    ) -> None:
        client, self.credentials = partner_center.open(ctx.settings)
        self.graph = graph_factory(ctx.settings, self.credentials)
        self.syncer = GdapSyncer(
            self.graph,
            self.credentials,
            partner_center_lookup(client, self.credentials),  # type: ignore[arg-type]
            ctx.pool,
            ctx.outbox,
        )

    async def run(self) -> bool:
        outcomes: list[GdapOutcome] = [await self.syncer.sync(d) for d in sorted(self.credentials)]
        if not self.credentials:
            log.warning(
                "no distributor has credentials: no GDAP list to sync", extra={"service": SERVICE}
            )
        return all(o.error is None for o in outcomes)

    async def aclose(self) -> None:
        await self.graph.aclose()


def make_scheduler(partner_center: SharedPartnerCenter) -> Worker:
    return scheduled(
        store.SCHEDULE,
        lambda s: s.partner_center_sync_every,
        lambda ctx: ResellersRunner(ctx, partner_center),
    )


def make_gdap_scheduler(
    partner_center: SharedPartnerCenter, graph_factory: GraphFactory = GraphClient.from_settings
) -> Worker:
    return scheduled(
        store.GDAP_SCHEDULE,
        lambda s: s.gdap_sync_every,
        lambda ctx: GdapRunner(ctx, graph_factory, partner_center),
    )


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
