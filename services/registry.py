"""Every runnable service by name: what `porgate run NAME` starts."""

from __future__ import annotations

from collections.abc import Callable

from services.common.config import Settings
from services.common.runtime import Service
from services.order_intake.app import build as order_intake
from services.por_validator.app import build as por_validator
from services.subscription_change.app import build as subscription_change

BUILDERS: dict[str, Callable[[Settings], Service]] = {
    "order-intake": order_intake,
    "subscription-change": subscription_change,
    "por-validator": por_validator,
}


def build_services(names: list[str], settings: Settings) -> list[Service]:
    return [BUILDERS[name](settings) for name in names]
