"""order-intake wiring."""

from pathlib import Path

from contracts.topics import ORDERS, VALIDATION_REQUESTS
from services.common.config import RuntimeSettings
from services.common.service import Consumer, Service
from services.order_intake import store
from services.order_intake.handlers import on_orders_placed


def build(settings: RuntimeSettings) -> Service:
    return Service(
        name="order-intake",
        schema=store.SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        publishes=(VALIDATION_REQUESTS,),
        consumers=(
            Consumer(
                "orders",
                (ORDERS,),
                on_orders_placed,
                "Orders placed upstream, to be validated.",
                messages_only=True,
            ),
        ),
    )
