"""gdap-revoker wiring."""

from functools import partial
from pathlib import Path

from contracts.topics import PARTNER_REGISTRY, REVOCATIONS
from services.common.service import Consumer, Service
from services.gdap_revoker import store
from services.gdap_revoker.gateway import check_graph_settings, make_gateway
from services.gdap_revoker.handlers import on_registry_events
from services.gdap_revoker.settings import GdapRevokerSettings
from services.gdap_revoker.terminator import GatewayFactory, terminator
from services.gdap_revoker.unit_of_work import PostgresRevokerUnitOfWork


def build(settings: GdapRevokerSettings, gateway_factory: GatewayFactory = make_gateway) -> Service:
    if settings.gdap_gateway == "graph":
        check_graph_settings(settings)  # fail at start, not at the first suspension
    return Service(
        name="gdap-revoker",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        publishes=(REVOCATIONS,),
        unit_of_work=PostgresRevokerUnitOfWork,
        consumers=(
            Consumer(
                "registry",
                (PARTNER_REGISTRY,),
                on_registry_events,
                "Reseller tenants, customer assignments and GDAP relationships; records terminations.",
            ),
        ),
        workers=(partial(terminator, gateway_factory=gateway_factory),),
    )
