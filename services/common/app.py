"""Assemble services into one faststream app: one broker, one producer, a runtime each."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Sequence
from functools import reduce
from operator import or_
from typing import Any

from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.middlewares import AckPolicy

from contracts.envelope import CloudEvent
from contracts.topics import EVENT_MODELS
from services.common import tracing
from services.common.config import RuntimeSettings
from services.common.health import HttpServer, broker_check, database_check, health_app
from services.common.kafka_clients import start_producer
from services.common.kafka_security import broker_security
from services.common.runtime import ServiceRuntime, group_id
from services.common.service import Consumer, Service
from services.common.stage_timer import StageTimer, untimed

# Kubernetes' default grace period is 30 s; faststream's own graceful timeout is 15 s.
DRAIN_TIMEOUT_S = 10.0


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


def build_broker(settings: RuntimeSettings, *, connecting: bool = True) -> KafkaBroker:
    """The faststream broker; without `connecting`, only to describe (AsyncAPI): no file
    is read and no token asked for."""
    return PorgateBroker(
        settings.kafka_bootstrap_servers,
        **broker_security(settings, connecting=connecting),
        # faststream's access log ("Received"/"Processed" per batch) goes through our
        # handlers and level, as JSON like every other line.
        logger=logging.getLogger("porgate.faststream"),
        client_id=f"porgate-{settings.instance_id}",
        graceful_timeout=15.0,
        description="porgate: Partner of Record validation and GDAP revocation for CSP distributors",
    )


async def _raw_body(msg: Any) -> Any:
    # Bytes stay bytes: decoding, and its failures, are the pipeline's.
    return msg.body


def declare(
    broker: KafkaBroker,
    service: Service,
    settings: RuntimeSettings,
    started: dict[str, ServiceRuntime],
) -> None:
    """Subscribe the service's consumers (each batch goes to its pipeline in the runtime
    `started` holds once the app has started) and declare what it publishes."""
    prefix = settings.topic_prefix
    for consumer in service.consumers:
        _subscribe(broker, service, consumer, settings, started)
    for topic in service.publishes:
        # Declared for the AsyncAPI document; sending goes through the outbox.
        models = [EVENT_MODELS[t] for t in topic.event_types]
        broker.publisher(
            prefix + topic.name,
            title=f"{service.name}:{topic.name}",
            description=f"{topic.description} Key: {topic.key}.",
            schema=CloudEvent[reduce(or_, models)] if models else bytes,  # type: ignore[misc]
        )


def _subscribe(
    broker: KafkaBroker,
    service: Service,
    consumer: Consumer,
    settings: RuntimeSettings,
    started: dict[str, ServiceRuntime],
) -> None:
    # faststream's KafkaMessage annotation injects the message itself (records and consumer).
    async def handle_batch(message: KafkaMessage) -> None:
        pipeline = started[service.name].pipelines[consumer.name]
        await pipeline.handle(message.raw_message, message.consumer)  # type: ignore[arg-type]

    handle_batch.__name__ = f"{service.name}_{consumer.name}".replace("-", "_")
    event_types = ", ".join(t for tp in consumer.topics for t in tp.event_types)
    broker.subscriber(
        *(settings.topic_prefix + t.name for t in consumer.topics),
        group_id=group_id(settings, service, consumer),
        batch=True,
        max_records=settings.consumer_max_records,
        batch_timeout_ms=50,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        fetch_min_bytes=settings.consumer_fetch_min_bytes,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
        title=f"{service.name}:{consumer.name}",
        description=f"{consumer.description} Event types: {event_types}"
        " (JSON Schema in contracts/schemas/).",
    )(handle_batch)


# Each decision allocates hundreds of short-lived objects (models, walks, rows), so the
# default threshold of 700 ran a young collection every few orders, and the full collections
# they cascade into walked every object the process had built at start-up (modules, pydantic
# schemas, settings): about 40 of the 90 us of pure CPU per order (benchmarks/cpu_compare.py
# --no-gc). What start-up built lives as long as the process: frozen, the collector skips it.
GC_YOUNG_THRESHOLD = 20_000


def _settle_the_heap() -> None:
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(max(GC_YOUNG_THRESHOLD, gc.get_threshold()[0]), older, oldest)


def build_app(
    services: Sequence[Service],
    settings: RuntimeSettings,
    *,
    serve_health: bool = False,
    stage_timer: StageTimer = untimed,
) -> tuple[FastStream, list[ServiceRuntime]]:
    """The faststream app for `porgate run`, and the list its start fills with the started
    runtimes (in `services`' order); tests and `porgate dev` use its start() and stop()."""
    # Off unless OTEL_TRACES_EXPORTER asks for it (tracing.py); OTEL_SERVICE_NAME overrides.
    tracing.configure_from_env(f"porgate-{services[0].name}" if len(services) == 1 else "porgate")
    broker = build_broker(settings)
    started: dict[str, ServiceRuntime] = {}
    runtimes: list[ServiceRuntime] = []
    for service in services:
        declare(broker, service, settings, started)
    app = FastStream(broker)
    http: list[HttpServer] = []

    @app.on_startup
    async def start_runtimes() -> None:
        producer = await start_producer(settings)
        try:
            for service in services:
                runtime = await ServiceRuntime.start(service, settings, producer, stage_timer)
                started[service.name] = runtime
                runtimes.append(runtime)
        except BaseException:
            for runtime in runtimes:
                await runtime.stop()
            await producer.stop()
            raise
        _settle_the_heap()
        if serve_health and settings.health_port:
            checks = {"broker": broker_check(producer)}
            advisory = {}
            for runtime in runtimes:
                # A service that consumes without its database (order-intake) keeps working
                # through an outage: reported degraded, not unhealthy.
                kind = advisory if runtime.service.consumes_without_database else checks
                kind[f"database:{runtime.service.schema}"] = database_check(
                    lambda r=runtime: r.pool
                )

            def degraded() -> dict[str, str]:
                return {k: v for r in runtimes for k, v in r.service.degraded().items()}

            server = HttpServer(
                health_app(checks, degraded=degraded, advisory=advisory),
                settings.health_host,
                settings.health_port,
            )
            await server.start()
            http.append(server)

    @app.on_shutdown
    async def drain_runtimes() -> None:
        # Before the consumers close: publish and commit the batches still in flight, so a
        # clean stop redelivers nothing; but never wait out an outage past the pod's grace
        # period: what is left is redelivered, and the inbox absorbs it.
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT_S):
                await asyncio.gather(*(runtime.drain() for runtime in runtimes))
        except TimeoutError:
            logging.getLogger(__name__).warning(
                "stopping with batches in flight; they will be redelivered"
            )

    @app.after_shutdown
    async def stop_runtimes() -> None:
        for server in http:
            await server.stop()
        for runtime in runtimes:
            await runtime.stop()
        if runtimes:
            await runtimes[0].outbox.producer.stop()
        # The spans of the last batches, before the process exits.
        await asyncio.to_thread(tracing.flush)

    return app, runtimes
