"""notifier wiring."""

from functools import partial
from pathlib import Path

from contracts.topics import DECISIONS, PARTNER_REGISTRY, REVOCATIONS
from services.common.service import Consumer, Service
from services.domain.regions import RegionTable
from services.notifier import store
from services.notifier.at_risk import digester
from services.notifier.handlers import on_decisions, on_registry_events, on_revocations
from services.notifier.settings import NotifierSettings
from services.notifier.unit_of_work import PostgresNotifierUnitOfWork
from services.notifier.webhook import deliverer


def build(settings: NotifierSettings) -> Service:
    regions = RegionTable.load(settings.region_overrides_file)
    return Service(
        name="notifier",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        unit_of_work=PostgresNotifierUnitOfWork,
        consumers=(
            Consumer(
                "registry",
                (PARTNER_REGISTRY,),
                on_registry_events,
                "The registry: partnership removals, GDAP relationships, and what at-risk reports read.",
            ),
            Consumer(
                "decisions",
                (DECISIONS,),
                partial(on_decisions, regions=regions),
                "Blocked transactions to tell the distributor about; the subscriptions seen.",
            ),
            Consumer(
                "revocations",
                (REVOCATIONS,),
                on_revocations,
                "Revoked GDAP privileges to tell the distributor about.",
            ),
        ),
        # The weekly digest of subscriptions at risk, if asked for (PORGATE_AT_RISK_DIGEST).
        workers=(deliverer, digester) if settings.at_risk_digest == "weekly" else (deliverer,),
    )
