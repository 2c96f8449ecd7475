"""The AsyncAPI 3 document of every service, generated from their faststream subscribers and
publishers (nothing is started): `porgate asyncapi` and the API's `/asyncapi.json`."""

from __future__ import annotations

from faststream.specification import AsyncAPI

from services.catalog import all_services
from services.common.app import build_broker, declare
from services.settings import Settings


def asyncapi_document(settings: Settings) -> str:
    broker = build_broker(settings, connecting=False)
    for service in all_services(settings):
        declare(broker, service, settings, started={})
    spec = AsyncAPI(
        broker,
        title="porgate",
        version="1.0.0",
        description="Partner of Record validation and GDAP revocation for Microsoft CSP distributors.",
    )
    return spec.to_specification().to_json()
