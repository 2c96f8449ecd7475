"""order-intake wiring."""

from pathlib import Path

from contracts.topics import ORDERS, VALIDATION_REQUESTS
from services.common.config import Settings
from services.common.runtime import Consumer, Service
from services.order_intake.handlers import on_order_placed, on_orders_placed


def build(settings: Settings) -> Service:
    return Service(
        name="order-intake",
        schema="order_intake",
        migrations=Path(__file__).parent / "migrations",
        publishes=(VALIDATION_REQUESTS,),
        consumers=(
            Consumer(
                "orders",
                (ORDERS,),
                on_order_placed,
                "Orders placed upstream, to be validated.",
                handle_many=on_orders_placed,
            ),
        ),
    )
