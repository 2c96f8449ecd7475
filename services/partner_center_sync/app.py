"""partner-center-sync wiring: no consumers; scheduled workers publishing registry upserts
(the indirect-reseller lists from Partner Center, the GDAP lists from Graph), and the worker
acting on Partner Center's webhook events the API received."""

from pathlib import Path

from contracts.topics import PARTNER_REGISTRY
from services.common.service import Service
from services.graph.client import GraphClient
from services.partner_center.client import PartnerCenterClient
from services.partner_center_sync import store
from services.partner_center_sync.event_worker import make_event_worker
from services.partner_center_sync.scheduler import (
    ClientFactory,
    GraphFactory,
    SharedPartnerCenter,
    make_gdap_scheduler,
    make_scheduler,
)
from services.partner_center_sync.settings import PartnerCenterSyncSettings


def build(
    settings: PartnerCenterSyncSettings,
    client_factory: ClientFactory = PartnerCenterClient,
    graph_factory: GraphFactory = GraphClient.from_settings,
) -> Service:
    # The credentials file is read by the workers, not here: `porgate migrate` and
    # `porgate asyncapi` build every service and must not depend on it.
    partner_center = SharedPartnerCenter(client_factory)
    return Service(
        name="partner-center-sync",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        consumers=(),
        publishes=(PARTNER_REGISTRY,),
        workers=(
            make_scheduler(partner_center),
            make_gdap_scheduler(partner_center, graph_factory),
            make_event_worker(partner_center, graph_factory),
        ),
        pool_size=3,
        closing=(partner_center.aclose,),
    )
