"""One sync: list each distributor's indirect resellers, record the changes, publish them.

The list is read outside any transaction (it can take many pages and Retry-After waits).
Then, in one transaction under the distributor's lock, what was seen is read, the plan
computed, the new state recorded and its upserts written to the outbox: a crash before the
commit leaves nothing to forget, one after it leaves outbox rows that the next start (or the
next CLI run) sends. One distributor failing does not stop the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from services.common import outbox
from services.common.outbox import Outbox
from services.partner_center.credentials import DistributorCredentials
from services.partner_center.errors import PartnerCenterError, Unavailable
from services.partner_center.port import PartnerCenter
from services.partner_center_sync import changes, metrics, store
from services.partner_center_sync.changes import Plan

log = logging.getLogger(__name__)

SERVICE = "partner-center-sync"


@dataclass(frozen=True)
class Outcome:
    """One distributor's sync: its plan (and pages read), or why it failed."""

    distributor_id: str
    plan: Plan | None = None
    pages: int = 0
    error: str | None = None
    # The error is Partner Center's (or Entra ID's) unavailability, not a refusal or ours.
    unavailable: bool = False


def distributors_to_sync(
    credentials: Mapping[str, DistributorCredentials], only: str | None = None
) -> tuple[list[str], list[Outcome]]:
    """The distributors to sync (every one with credentials, or `only`), and those that cannot
    be, as failures saying why: the list of indirect resellers needs app+user credentials."""
    wanted = [only] if only is not None else sorted(credentials)
    ready, unable = [], []
    for distributor_id in wanted:
        creds = credentials.get(distributor_id)
        if creds is None:
            unable.append(
                Outcome(
                    distributor_id,
                    error="no Partner Center credentials for it in "
                    "PORGATE_PARTNER_CENTER_CREDENTIALS_FILE",
                )
            )
        elif not creds.acts_as_user:
            unable.append(
                Outcome(
                    distributor_id,
                    error="its credentials have no refreshToken or refreshTokenEnv: listing "
                    "indirect resellers needs app+user access",
                )
            )
        else:
            ready.append(distributor_id)
    return ready, unable


@dataclass
class Syncer:
    partner_center: PartnerCenter
    pool: asyncpg.Pool
    # None for a dry run: nothing is recorded or published.
    outbox: Outbox | None
    # Runs the recording transaction: the service retries it while the database is away;
    # the CLI runs it once and reports a failure.
    transact: Callable[[str, Callable[[], Awaitable[object]]], Awaitable[object]]
    # The one distributor whose losses changes.mass_removal would refuse an operator
    # confirmed (CLI only, which requires --distributor with it).
    confirmed_mass_removal: str | None = None

    async def sync(self, distributor_id: str) -> Outcome:
        """List, plan, record and publish one distributor's resellers; never raises for a
        failure of its own (it is in the outcome), so the next distributor still syncs."""
        try:
            outcome = await self._sync(distributor_id)
        except SYNC_FAILURES as exc:
            outcome = Outcome(
                distributor_id,
                error=failure(distributor_id, exc),
                unavailable=isinstance(exc, Unavailable),
            )
        observe(outcome, dry_run=self.outbox is None)
        return outcome

    def _refuse_mass_removal(self, plan: Plan, seen, recently_lost: int) -> bool:
        """Raises MassRemoval unless the losses are within bounds or confirmed; True when a
        confirmation let them through."""
        why = changes.mass_removal(plan, seen, recently_lost)
        if why is None:
            return False
        if self.confirmed_mass_removal != plan.distributor_id:
            raise MassRemoval(why)
        log.warning(
            "mass removal confirmed by an operator",
            extra={"service": SERVICE, "distributor_id": plan.distributor_id, "why": why},
        )
        return True

    async def _sync(self, distributor_id: str) -> Outcome:
        listing = await self.partner_center.indirect_resellers(distributor_id)
        pages = len(listing.calls)
        if self.outbox is None:
            window_start = datetime.now(UTC) - changes.MASS_REMOVAL_WINDOW
            seen = await store.seen(self.pool, distributor_id)
            plan = changes.plan(distributor_id, listing.items, seen)
            recent = await store.recently_lost(self.pool, distributor_id, window_start)
            self._refuse_mass_removal(plan, seen, recent)
            return Outcome(distributor_id, plan, pages)

        async def record() -> tuple[Plan, list[asyncpg.Record]]:
            async with self.pool.acquire() as conn, conn.transaction():
                await store.lock_distributor(conn, distributor_id)
                seen = await store.seen(conn, distributor_id)
                plan = changes.plan(distributor_id, listing.items, seen)
                at = datetime.now(UTC)
                window_start = at - changes.MASS_REMOVAL_WINDOW
                recent = await store.recently_lost(conn, distributor_id, window_start)
                confirmed = self._refuse_mass_removal(plan, seen, recent)
                await store.record(conn, distributor_id, plan.changes, at)
                await store.record_losses(
                    conn,
                    distributor_id,
                    at,
                    changes.lost(plan, seen),
                    confirmed=confirmed,
                    forget_before=window_start,
                )
                source = f"partner-center-sync:{distributor_id}"
                rows = await outbox.write(conn, [(source, o) for o in changes.outgoing(plan, at)])
                return plan, rows

        plan, rows = await self.transact(f"record {distributor_id}", record)  # type: ignore[misc]
        await self.outbox.publish(rows)
        return Outcome(distributor_id, plan, pages)


class MassRemoval(Exception):
    """The plan removes too much to be trusted without an operator (changes.mass_removal)."""


# What ends one distributor's sync (of either list) without stopping the others.
SYNC_FAILURES = (PartnerCenterError, MassRemoval, asyncpg.PostgresError, OSError)


def failure(distributor_id: str, exc: BaseException) -> str:
    """One line an operator can act on, for a failure of SYNC_FAILURES (or a Graph error)."""
    if isinstance(exc, asyncpg.UndefinedTableError):
        return f"the {store.SCHEMA} schema is missing its tables: run `porgate migrate`"
    if isinstance(exc, asyncpg.PostgresError | OSError):
        return f"database: {type(exc).__name__}: {exc}"
    return str(exc).removeprefix(f"{distributor_id}: ")


def observe(outcome: Outcome, *, dry_run: bool) -> None:
    """Log the outcome; count it in the metrics unless it was a dry run."""
    extra = {"service": SERVICE, "distributor_id": outcome.distributor_id, "dry_run": dry_run}
    if outcome.plan is None:
        log.error("partner center sync failed", extra={**extra, "error": outcome.error})
        if not dry_run:
            metrics.PARTNER_CENTER_SYNC_RUNS.labels(outcome.distributor_id, "failed").inc()
        return
    plan = outcome.plan
    counts = {kind: plan.count(kind) for kind in ("added", "changed", "removed")}
    for reason in plan.skipped:
        log.warning("relationship skipped", extra={**extra, "reason": reason})
    log.info(
        "partner center sync done",
        extra={**extra, **counts, "listed": plan.listed, "pages": outcome.pages},
    )
    if dry_run:
        return
    metrics.PARTNER_CENTER_SYNC_RUNS.labels(outcome.distributor_id, "ok").inc()
    for kind, n in counts.items():
        if n:
            metrics.PARTNER_CENTER_SYNC_CHANGES.labels(outcome.distributor_id, kind).inc(n)
    metrics.PARTNER_CENTER_SYNC_LAST_SUCCESS.labels(outcome.distributor_id).set_to_current_time()
