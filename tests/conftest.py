from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from services.common.config import Settings
from services.common.db import migrate
from services.common.topic_creation import create_topics
from tests import servers


def pytest_report_header(config):
    return "servers: chosen by tests/servers.py (env vars, then testcontainers, then embedded)"


@pytest.fixture(scope="session")
def kafka():
    with servers.kafka_server() as (bootstrap, kind):
        print(f"\n[porgate tests] Kafka: {kind} at {bootstrap}")
        yield bootstrap


@pytest.fixture(scope="session")
def postgres():
    with servers.postgres_server() as (url, kind, handle):
        print(f"\n[porgate tests] PostgreSQL: {kind}")
        yield url, handle


@pytest.fixture(scope="session")
def database_url(postgres):
    return postgres[0]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
async def fresh_database(database_url):
    """A database of its own for one test: services' schemas have fixed names."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(database_url, name)
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def settings(kafka, fresh_database) -> Settings:
    """Settings for one isolated system: its own database and its own topic prefix."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    s = Settings(
        kafka_bootstrap_servers=kafka,
        database_url=fresh_database,
        topic_prefix=prefix,
        retry_initial_s=0.05,
        retry_max_s=0.5,
        delivery_retry_initial_s=0.05,
        delivery_retry_max_s=0.5,
        log_json=False,
    )
    await create_topics(kafka, prefix=prefix, partitions=2)
    return s


@pytest.fixture
async def migrated(settings) -> Settings:
    from services.catalog import all_services

    for service in all_services(settings):
        await migrate(settings.database_url, service.schema, service.migrations)
    return settings


@pytest.fixture(scope="session")
def event_loop_policy():
    return asyncio.DefaultEventLoopPolicy()
