"""subscription-change wiring."""

from pathlib import Path

from contracts.topics import DECISIONS, SUBSCRIPTION_CHANGES, VALIDATION_REQUESTS
from services.common.config import Settings
from services.common.service import Consumer, Service, per_event
from services.subscription_change import store
from services.subscription_change.handlers import make_change_handler


def build(settings: Settings) -> Service:
    return Service(
        name="subscription-change",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        publishes=(VALIDATION_REQUESTS, DECISIONS),
        consumers=(
            Consumer(
                "changes",
                (SUBSCRIPTION_CHANGES,),
                per_event(make_change_handler(settings.enforcement_start)),
                "Subscription changes: exempt ones decided here, the rest sent for validation.",
            ),
        ),
    )
