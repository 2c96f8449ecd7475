"""notifier wiring."""

from pathlib import Path

from contracts.topics import DECISIONS, PARTNER_REGISTRY, REVOCATIONS
from services.common.config import Settings
from services.common.service import Consumer, Service
from services.domain.regions import RegionTable
from services.notifier import store
from services.notifier.at_risk import digester
from services.notifier.handlers import (
    make_decision_handler,
    on_registry_events,
    on_revocations,
)
from services.notifier.webhook import deliverer


def build(settings: Settings) -> Service:
    return Service(
        name="notifier",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
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
                make_decision_handler(RegionTable.load(settings.region_overrides_file)),
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
