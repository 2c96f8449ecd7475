"""por-validator wiring."""

from pathlib import Path

from contracts.topics import DECISIONS, PARTNER_REGISTRY, VALIDATION_REQUESTS
from services.common.config import Settings
from services.common.runtime import Consumer, Service
from services.domain.regions import RegionTable
from services.por_validator.handlers import make_validation_handlers, on_registry_event


def build(settings: Settings) -> Service:
    regions = RegionTable.load(settings.region_overrides_file)
    one, many = make_validation_handlers(settings.enforcement_start, regions)
    return Service(
        name="por-validator",
        schema="por_validator",
        migrations=Path(__file__).parent / "migrations",
        publishes=(DECISIONS,),
        consumers=(
            Consumer(
                "registry",
                (PARTNER_REGISTRY,),
                on_registry_event,
                "Registry facts projected for validation.",
            ),
            Consumer(
                "requests",
                (VALIDATION_REQUESTS,),
                one,
                "Transactions to decide.",
                handle_many=many,
            ),
        ),
    )
