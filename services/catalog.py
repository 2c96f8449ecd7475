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
