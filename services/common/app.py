"""Assemble services into one faststream app: one broker, one producer, one runtime each."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from faststream import FastStream
from faststream.kafka import KafkaBroker

from services.common.config import Settings
from services.common.health import HttpServer, broker_check, database_check, health_app
from services.common.runtime import Runtime, Service, new_producer


class PorgateBroker(KafkaBroker):
    async def start(self) -> None:
        # faststream starts subscribers one after another, and each start waits out the
        # group's join delay (3 s on Apache Kafka, 5 s on Tansu); ten consumer groups in one
        # process would take most of a minute. Joining them together takes one delay.
        await self.connect()
        await asyncio.gather(*(sub.start() for sub in self.subscribers))
        for pub in self.publishers:
            await pub.start()
        self.running = True


def build_broker(settings: Settings) -> KafkaBroker:
    return PorgateBroker(
        settings.kafka_bootstrap_servers,
        # faststream's access log ("Received"/"Processed" per batch) goes through our
        # handlers and level, as JSON like every other line.
        logger=logging.getLogger("porgate.faststream"),
        client_id=f"porgate-{settings.instance_id}",
        graceful_timeout=15.0,
        description="porgate: Partner of Record validation and GDAP revocation for CSP distributors",
    )


def health_checks(runtimes: Sequence[Runtime]) -> dict:
    checks = {"broker": lambda: broker_check(runtimes[0].producer)()}
    for runtime in runtimes:
        checks[f"database:{runtime.service.schema}"] = database_check(lambda r=runtime: r.pool)
    return checks


def build_app(
    services: Sequence[Service], settings: Settings, *, serve_health: bool = False
) -> tuple[FastStream, list[Runtime]]:
    """The faststream app for `porgate run`; tests and `porgate dev` use its start() and stop()."""
    broker = build_broker(settings)
    runtimes = [Runtime(service, settings) for service in services]
    for runtime in runtimes:
        runtime.attach(broker)
    app = FastStream(broker)
    http = (
        HttpServer(health_app(health_checks(runtimes)), settings.health_host, settings.health_port)
        if serve_health and settings.health_port
        else None
    )

    @app.on_startup
    async def start_runtimes() -> None:
        producer = new_producer(settings)
        await producer.start()
        for runtime in runtimes:
            runtime.producer = producer
            await runtime.start()
        if http is not None:
            await http.start()

    @app.on_shutdown
    async def drain_runtimes() -> None:
        # Before the consumers close: publish and commit the batches still in flight, so a
        # clean stop redelivers nothing.
        await asyncio.gather(*(runtime.drain() for runtime in runtimes))

    @app.after_shutdown
    async def stop_runtimes() -> None:
        if http is not None:
            await http.stop()
        for runtime in runtimes:
            await runtime.stop()
        if runtimes and runtimes[0].producer is not None:
            await runtimes[0].producer.stop()

    return app, runtimes


def asyncapi_document(settings: Settings) -> str:
    """The AsyncAPI 3 document of every service, generated from their faststream subscribers
    and publishers (nothing is started)."""
    from faststream.specification import AsyncAPI

    from services.registry import all_services

    broker = build_broker(settings)
    for service in all_services(settings):
        Runtime(service, settings).attach(broker)
    spec = AsyncAPI(
        broker,
        title="porgate",
        version="1.0.0",
        description="Partner of Record validation and GDAP revocation for Microsoft CSP distributors.",
    )
    return spec.to_specification().to_json()
