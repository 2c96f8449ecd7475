"""por-validator wiring."""

from pathlib import Path

from contracts.topics import DECISIONS, PARTNER_REGISTRY, VALIDATION_REQUESTS
from services.common.config import Settings
from services.common.service import Consumer, Service
from services.domain.regions import RegionTable
from services.por_validator import store
from services.por_validator.handlers import make_validation_handler, on_registry_events


def build(settings: Settings) -> Service:
    regions = RegionTable.load(settings.region_overrides_file)
    return Service(
        name="por-validator",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        publishes=(DECISIONS,),
        consumers=(
            Consumer(
                "registry",
                (PARTNER_REGISTRY,),
                on_registry_events,
                "Registry facts projected for validation.",
            ),
            Consumer(
                "requests",
                (VALIDATION_REQUESTS,),
                make_validation_handler(settings.enforcement_start, regions),
                "Transactions to decide.",
            ),
        ),
    )
