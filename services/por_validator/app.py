"""por-validator wiring."""

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contracts.topics import DECISIONS, PARTNER_REGISTRY, VALIDATION_REQUESTS
from services.common.config import Settings
from services.common.service import Consumer, Service
from services.common.workers import WorkerContext
from services.domain.regions import RegionTable
from services.partner_center.client import PartnerCenterClient
from services.por_validator import agreement_store, answer_store, store
from services.por_validator.handlers import make_validation_handler, on_registry_events
from services.por_validator.partner_center import CachedPartnerCenter, PartnerCenterGate
from services.por_validator.release import make_registry_handler

log = logging.getLogger(__name__)
AUDIT_PRUNE_EVERY_S = 3600.0


def build(settings: Settings) -> Service:
    regions = RegionTable.load(settings.region_overrides_file)
    # With Partner Center as the authority the registry cannot release what it blocked.
    release = settings.auto_revalidate and settings.por_authority == "registry"
    requests = Consumer(
        "requests",
        (VALIDATION_REQUESTS,),
        make_validation_handler(
            settings.enforcement_start,
            regions,
            enforcement_mode=settings.enforcement_mode,
            beside_release=release,
        ),
        "Transactions to decide.",
    )
    service = Service(
        name="por-validator",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        publishes=(DECISIONS,),
        consumers=(
            Consumer(
                "registry",
                (PARTNER_REGISTRY,),
                make_registry_handler(
                    settings.enforcement_start, regions, settings.revalidate_window
                )
                if release
                else on_registry_events,
                "Registry facts projected for validation; blocked transactions they free released.",
            ),
            requests,
        ),
    )
    if settings.por_authority == "partner-center":
        return with_partner_center(service, requests, settings, regions)
    return service


def with_partner_center(
    service: Service, requests: Consumer, settings: Settings, regions: RegionTable
) -> Service:
    """The service deciding with Partner Center's answers, fetched before each transaction."""
    client = PartnerCenterClient.from_settings(settings)
    configured = client.distributors()
    log.warning(
        "Partner Center is the POR authority for %s; any other distributor's transactions are"
        " decided from the registry (authority: registry)",
        ", ".join(configured) or "no distributor (no credentials configured)",
    )
    gate = PartnerCenterGate(
        CachedPartnerCenter(client, settings.partner_center_cache_ttl_s),
        enforcement_start=settings.enforcement_start,
        max_wait_s=settings.partner_center_max_wait_s,
        when_unavailable=settings.partner_center_unavailable,
        handler_for=lambda answers: make_validation_handler(
            settings.enforcement_start,
            regions,
            answers,
            enforcement_mode=settings.enforcement_mode,
        ),
    )
    retention = timedelta(days=settings.partner_center_audit_retention_days)

    async def prune_audit(context: WorkerContext) -> None:
        while not context.stopping:
            try:
                await answer_store.prune_answers(context.pool, datetime.now(UTC) - retention)
                await agreement_store.prune_agreements(context.pool, datetime.now(UTC) - retention)
            except Exception:
                log.warning("pruning Partner Center answers failed", exc_info=True)
            if not await context.retrying.sleep_unless_stopping(AUDIT_PRUNE_EVERY_S):
                return

    return replace(
        service,
        consumers=tuple(
            replace(c, prefetch=gate.prefetch) if c is requests else c for c in service.consumers
        ),
        workers=(*service.workers, prune_audit),
        degraded=gate.degraded,
        closing=(*service.closing, client.aclose),
    )
