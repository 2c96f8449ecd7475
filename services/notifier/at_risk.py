"""At-risk subscriptions from the notifier's projection: `porgate report at-risk`, and the
weekly digest (PORGATE_AT_RISK_DIGEST=weekly), once per distributor per ISO week."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import asyncpg

from contracts.errors import Language, language_of
from contracts.ids import derived_event_id
from services.common.db import create_pool
from services.common.workers import WorkerContext
from services.domain.at_risk import AtRiskGroup, at_risk, subscription_count
from services.domain.regions import RegionTable
from services.notifier import at_risk_store, store
from services.notifier.notifications import AT_RISK_DIGEST, Notification
from services.notifier.settings import NotifierSettings
from services.rendering.at_risk import as_json

log = logging.getLogger(__name__)

_TITLE: dict[Language, str] = {
    "en": "{count} subscription(s) at risk: their Partner of Record fails now, so their next change would be blocked",
    "ja": "{count} 件のサブスクリプションにリスクがあります: パートナー オブ レコード (POR) の検証に現在失敗するため、次回の変更はブロックされます",
}


async def at_risk_groups(
    conn: at_risk_store.Executor, distributor_id: str, regions: RegionTable
) -> list[AtRiskGroup]:
    seen = await at_risk_store.seen_subscriptions(conn, distributor_id)
    registry = await at_risk_store.registry_slice(
        conn, [s.partner_id_on_record for s in seen], distributor_id, regions
    )
    return at_risk(seen, distributor_id, registry)


async def at_risk_report(settings: NotifierSettings, distributor_id: str) -> list[AtRiskGroup]:
    """`porgate report at-risk`: one snapshot of the notifier's projection."""
    regions = RegionTable.load(settings.region_overrides_file)
    pool = await create_pool(settings.database_url, store.SCHEMA, max_size=1)
    try:
        async with (
            pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await at_risk_groups(conn, distributor_id, regions)
    finally:
        await pool.close()


def iso_week(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def digest_id(distributor_id: str, week: str) -> str:
    """One id per distributor and ISO week: a second pass, or instance, adds nothing."""
    return derived_event_id("notification", AT_RISK_DIGEST, distributor_id, week)


def digest(
    distributor_id: str,
    groups: list[AtRiskGroup],
    *,
    week: str,
    language: Language,
    created_at: datetime,
) -> Notification:
    nid = digest_id(distributor_id, week)
    cause = f"at-risk-digest:{distributor_id}:{week}"  # no event causes it: the calendar does
    count = subscription_count(groups)
    payload = {
        "notificationId": nid,
        "kind": AT_RISK_DIGEST,
        "distributorId": distributor_id,
        "language": language,
        "createdAt": created_at.isoformat(),
        "causeEventId": cause,
        "title": _TITLE[language].format(count=count),
        "week": week,
        "subscriptionCount": count,
        "resellers": as_json(groups, language),
    }
    return Notification(nid, AT_RISK_DIGEST, distributor_id, language, cause, payload)


async def send_due_digests(pool: asyncpg.Pool, regions: RegionTable, now: datetime) -> int:
    """This week's digest for every distributor that has subscriptions at risk and none yet;
    how many were queued."""
    week, queued = iso_week(now), 0
    for distributor_id, language in await at_risk_store.distributors_with_subscriptions(pool):
        nid = digest_id(distributor_id, week)
        if await at_risk_store.notification_exists(pool, nid):
            continue  # sent this week already: no need to compute it again
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            groups = await at_risk_groups(conn, distributor_id, regions)
            if groups:
                lang = language_of(language)
                note = digest(distributor_id, groups, week=week, language=lang, created_at=now)
                queued += await store.insert_notification(conn, note)
    return queued


async def digester(context: WorkerContext) -> None:
    """The notifier's weekly digest worker."""
    regions = RegionTable.load(context.settings.region_overrides_file)
    while not context.stopping:
        try:
            if await send_due_digests(context.pool, regions, datetime.now(UTC)):
                context.wakeup.set()  # the deliverer sends it now, not at its next poll
        except Exception:
            log.warning("the at-risk digest pass failed", exc_info=True)
        if not await context.retrying.sleep_unless_stopping(
            context.settings.at_risk_digest_check_s
        ):
            return
