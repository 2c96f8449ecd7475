"""The catalogue of runnable services by name: what `porgate run NAME` starts."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from services.common.service import Service
from services.settings import Settings

# name -> module whose `build(settings) -> Service` defines it. Imported on demand, so
# `porgate run order-intake` does not load the notifier's HTTP client, for one.
SERVICE_MODULES: dict[str, str] = {
    "order-intake": "services.order_intake.app",
    "subscription-change": "services.subscription_change.app",
    "por-validator": "services.por_validator.app",
    "gdap-revoker": "services.gdap_revoker.app",
    "notifier": "services.notifier.app",
    "partner-center-sync": "services.partner_center_sync.app",
}


def builder(name: str) -> Callable[[Settings], Service]:
    return importlib.import_module(SERVICE_MODULES[name]).build


def build_services(names: list[str], settings: Settings) -> list[Service]:
    return [builder(name)(settings) for name in names]


def all_services(settings: Settings) -> list[Service]:
    return build_services(list(SERVICE_MODULES), settings)


async def migrate_all(settings: Settings) -> list[tuple[str, str, list[str]]]:
    """Every service's migrations, each to its own schema, then the console's indexes on the
    schemas it reads: (who, schema, what was applied now) for each. `porgate migrate`, `porgate
    dev` and the tests' template database all migrate through here."""
    from services.common.db import migrate
    from services.console import queries

    done = []
    for service in all_services(settings):
        applied = await migrate(settings.database_url, service.schema, service.migrations)
        done.append((service.name, service.schema, applied))
    for schema, folder in queries.MIGRATIONS.items():
        applied = await migrate(settings.database_url, schema, folder, reader=queries.READER)
        done.append((queries.READER, schema, applied))
    return done
