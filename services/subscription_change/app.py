"""subscription-change wiring."""

from pathlib import Path

from contracts.topics import DECISIONS, SUBSCRIPTION_CHANGES, VALIDATION_REQUESTS
from services.common.config import Settings
from services.common.runtime import Consumer, Service
from services.subscription_change.handlers import make_change_handler


def build(settings: Settings) -> Service:
    return Service(
        name="subscription-change",
        schema="subscription_change",
        migrations=Path(__file__).parent / "migrations",
        publishes=(VALIDATION_REQUESTS, DECISIONS),
        consumers=(
            Consumer(
                "changes",
                (SUBSCRIPTION_CHANGES,),
                make_change_handler(settings.enforcement_start),
                "Subscription changes: exempt ones decided here, the rest sent for validation.",
            ),
        ),
    )
