"""subscription-change wiring."""

from functools import partial
from pathlib import Path

from contracts.topics import DECISIONS, SUBSCRIPTION_CHANGES, VALIDATION_REQUESTS
from services.common.config import RuntimeSettings
from services.common.service import Consumer, Service
from services.subscription_change import store
from services.subscription_change.handlers import on_changes_requested
from services.subscription_change.unit_of_work import PostgresChangeUnitOfWork


def build(settings: RuntimeSettings) -> Service:
    return Service(
        name="subscription-change",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        publishes=(VALIDATION_REQUESTS, DECISIONS),
        unit_of_work=PostgresChangeUnitOfWork,
        consumers=(
            Consumer(
                "changes",
                (SUBSCRIPTION_CHANGES,),
                partial(on_changes_requested, enforcement_start=settings.enforcement_start),
                "Subscription changes: exempt ones decided here, the rest sent for validation.",
            ),
        ),
    )
