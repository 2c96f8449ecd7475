"""notifier wiring."""

from pathlib import Path

from contracts.topics import DECISIONS, PARTNER_REGISTRY, REVOCATIONS
from services.common.config import Settings
from services.common.runtime import Consumer, Service
from services.notifier.handlers import on_decision, on_registry_event, on_revocation
from services.notifier.webhook import deliverer


def build(settings: Settings) -> Service:
    return Service(
        name="notifier",
        schema="notifier",
        migrations=Path(__file__).parent / "migrations",
        consumers=(
            Consumer(
                "registry",
                (PARTNER_REGISTRY,),
                on_registry_event,
                "Distributors, partnerships, assignments and GDAP relationships; partnership removals.",
            ),
            Consumer(
                "decisions",
                (DECISIONS,),
                on_decision,
                "Blocked transactions to tell the distributor about.",
            ),
            Consumer(
                "revocations",
                (REVOCATIONS,),
                on_revocation,
                "Revoked GDAP privileges to tell the distributor about.",
            ),
        ),
        workers=(deliverer,),
    )
