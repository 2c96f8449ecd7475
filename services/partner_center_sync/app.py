"""partner-center-sync wiring: no consumers, one scheduled worker publishing registry upserts."""

from pathlib import Path

from contracts.topics import PARTNER_REGISTRY
from services.common.config import Settings
from services.common.service import Service
from services.partner_center.client import PartnerCenterClient
from services.partner_center_sync import store
from services.partner_center_sync.scheduler import ClientFactory, make_scheduler


def build(settings: Settings, client_factory: ClientFactory = PartnerCenterClient) -> Service:
    # The credentials file is read by the worker, not here: `porgate migrate` and
    # `porgate asyncapi` build every service and must not depend on it.
    return Service(
        name="partner-center-sync",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        consumers=(),
        publishes=(PARTNER_REGISTRY,),
        workers=(make_scheduler(client_factory),),
        pool_size=2,
    )
