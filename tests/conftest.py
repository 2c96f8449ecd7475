from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from services.common.topic_creation import create_topics
from services.settings import Settings
from tests import servers
from tests.reliability.harness import FIGURES, NOTES, hostile_inputs_line

TESTS = Path(__file__).parent
SESSION_TIMEOUT_MS = 2_000
HEARTBEAT_INTERVAL_MS = 500
# The tier of a test is the folder it lives in: `pytest -m unit` is the inner loop (no I/O).
TIERS = {
    "unit": ("unit",),
    "contract": ("contract",),
    "partner_center": ("contract",),
    "e2e": ("e2e",),
    "reliability": ("e2e", "reliability"),
    "console": ("browser",),
    "deploy": ("deploy",),
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        folder = Path(str(item.path)).relative_to(TESTS).parts[0]
        for marker in TIERS[folder]:
            item.add_marker(marker)


def pytest_report_header(config):
    env_kafka = os.environ.get("PORGATE_KAFKA_BOOTSTRAP_SERVERS")
    env_postgres = os.environ.get("PORGATE_DATABASE_URL")
    docker = None if env_kafka and env_postgres else servers.docker_available()
    secured = os.environ.get("PORGATE_TEST_KAFKA_SECURITY", "").strip().lower()
    kafka = (
        "PORGATE_KAFKA_BOOTSTRAP_SERVERS"
        if env_kafka
        else f"embedded Tansu behind the {secured.upper()} proxy (PORGATE_TEST_KAFKA_SECURITY)"
        if secured
        else ("testcontainers apache/kafka" if docker else "embedded Tansu")
    )
    postgres = (
        "PORGATE_DATABASE_URL"
        if env_postgres
        else ("testcontainers postgres" if docker else "embedded PostgreSQL 18")
    )
    return f"servers (tests/servers.py), started when a test needs them: Kafka: {kafka}; PostgreSQL: {postgres}"


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
        # A group join waits about half the session timeout on Tansu: 1 s instead of 5 s.
        consumer_session_timeout_ms=SESSION_TIMEOUT_MS,
        consumer_heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
    )
    await create_topics(kafka, prefix=prefix, partitions=2)
    return s


@pytest.fixture(scope="session")
async def template_database(database_url, kafka):
    """Every service's migrations (and the console's) applied once per run; each test's
    database is a copy."""
    from services.catalog import migrate_all

    name = f"tpl_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(database_url, name)
    await migrate_all(Settings(kafka_bootstrap_servers=kafka, database_url=url))
    yield name
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def migrated(settings, database_url, template_database) -> Settings:
    """`settings` with its database replaced by a copy of the migrated template (same name,
    so a test holding both sees one database)."""
    name = urlsplit(settings.database_url).path.lstrip("/")
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    finally:
        await admin.close()
    return settings


@pytest.fixture(scope="session")
def event_loop_policy():
    return asyncio.DefaultEventLoopPolicy()


# The reliability tests' figures (tests/reliability/harness.py), printed once after the run.
FIGURE_ORDER = (
    "events pushed",
    "faults injected",
    "bad inputs tried",
    "lost",
    "decided twice",
    "duplicate records (same id)",
    "duplicate webhook receipts (same notification id)",
)


def figures_text() -> str:
    keys = [k for k in FIGURE_ORDER if k in FIGURES] + sorted(
        k for k in FIGURES if k not in FIGURE_ORDER
    )
    lines = [f"  {k:<52} {FIGURES[k]}" for k in keys]
    lines += [f"  - {n}" for n in NOTES]
    if (surfaces := hostile_inputs_line(FIGURES)) is not None:
        lines.append(f"  - {surfaces}")
    return "\n".join(lines)


def pytest_sessionfinish(session):
    # Under pytest-xdist the tests run in workers: each hands its figures to the controller.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["porgate_figures"] = dict(FIGURES)
        workeroutput["porgate_notes"] = list(NOTES)


def pytest_testnodedown(node, error):
    output = getattr(node, "workeroutput", {})
    FIGURES.update(output.get("porgate_figures", {}))
    NOTES.extend(output.get("porgate_notes", []))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FIGURES and not NOTES:
        return
    terminalreporter.write_sep("=", "porgate reliability figures")
    terminalreporter.write_line(figures_text())
