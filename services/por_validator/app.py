"""por-validator wiring."""

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from contracts.topics import DECISIONS, PARTNER_REGISTRY, VALIDATION_REQUESTS
from services.common.service import Consumer, Service
from services.common.workers import WorkerContext
from services.domain.regions import RegionTable
from services.partner_center.client import PartnerCenterClient
from services.por_validator import agreement_store, answer_store, store
from services.por_validator.drain import REQUESTS_CONSUMER, drain_parked
from services.por_validator.handlers import Validation, decide_requests, on_registry_events
from services.por_validator.partner_center import CachedPartnerCenter, PartnerCenterGate
from services.por_validator.settings import PorValidatorSettings
from services.por_validator.unit_of_work import PostgresValidatorUnitOfWork

log = logging.getLogger(__name__)
AUDIT_PRUNE_EVERY_S = 3600.0


def build(settings: PorValidatorSettings) -> Service:
    # With Partner Center as the authority the registry cannot release what it blocked.
    release = settings.auto_release and settings.por_authority == "registry"
    validation = Validation(
        enforcement_start=settings.enforcement_start,
        regions=RegionTable.load(settings.region_overrides_file),
        enforcement_mode=settings.enforcement_mode,
        release_window_s=settings.release_window if release else None,
    )
    decide = partial(decide_requests, validation=validation)
    requests = Consumer(
        REQUESTS_CONSUMER, (VALIDATION_REQUESTS,), decide, "Transactions to decide."
    )
    service = Service(
        name="por-validator",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        publishes=(DECISIONS,),
        unit_of_work=PostgresValidatorUnitOfWork,
        consumers=(
            Consumer(
                "registry",
                (PARTNER_REGISTRY,),
                partial(on_registry_events, validation=validation),
                "Registry facts projected for validation; blocked transactions they free released.",
            ),
            requests,
        ),
    )
    if settings.por_authority == "partner-center":
        return with_partner_center(service, requests, settings)
    return service


def with_partner_center(
    service: Service, requests: Consumer, settings: PorValidatorSettings
) -> Service:
    """The service deciding with Partner Center's answers, fetched before each transaction;
    a distributor's requests it cannot answer yet are parked, and drained once it does."""
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
        park_after_s=settings.partner_center_park_after_s,
        decide=requests.handle,
    )
    return replace(
        service,
        consumers=tuple(
            replace(c, prefetch=gate.prefetch) if c is requests else c for c in service.consumers
        ),
        workers=(
            *service.workers,
            partial(prune_audit, retention_days=settings.partner_center_audit_retention_days),
            partial(drain_parked, gate=gate, decide=requests.handle),
        ),
        degraded=gate.degraded,
        closing=(*service.closing, client.aclose),
    )


async def prune_audit(context: WorkerContext, *, retention_days: int) -> None:
    """Delete Partner Center's answers (and agreements) older than the audit retention, hourly."""
    while not context.stopping:
        try:
            cutoff = datetime.now(UTC) - timedelta(days=retention_days)
            await answer_store.prune_answers(context.pool, cutoff)
            await agreement_store.prune_agreements(context.pool, cutoff)
        except Exception:
            log.warning("pruning Partner Center answers failed", exc_info=True)
        if not await context.retrying.sleep_unless_stopping(AUDIT_PRUNE_EVERY_S):
            return
