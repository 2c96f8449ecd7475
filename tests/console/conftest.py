"""The console on the real servers: the API process serving /console, a registry and
decisions made by the services themselves, dead letters on the DLQ, failed deliveries."""

from __future__ import annotations

import contextlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from starlette.routing import Mount

from services.api.app import create_app
from services.common.health import HttpServer
from services.common.kafka_security import client_options
from services.common.ports import free_port
from tests.e2e import registry_data as R
from tests.e2e.test_orders import SERVICES, load_registry, registry_loaded
from tests.support import Bus, running

KEY_EU = "k-console-eu-5b1e0c7d9a2f4e36"
KEY_JA = "k-console-ja-8c2a4e6f0b1d3f57"
OPERATOR_KEY = "op-console-3d5f7a9b1c2e4f60"
SCREENSHOTS = Path(__file__).parent / "screenshots"

BLOCKED_ORDER = "ord-console-blocked"  # PLA id R.SUSPENDED_TENANT: 900400
ACCEPTED_ORDER = "ord-console-ok"
JA_ORDER = "ord-console-ja"  # the Japanese distributor's: the EU key must not see it
REDRIVEN_ORDER = "ord-console-redriven"  # only on the DLQ until someone redrives it
JA_LETTER_ORDER = "ord-console-ja-letter"


@contextlib.asynccontextmanager
async def console_server(settings):
    """`porgate run api`'s app with two distributor keys and an operator key."""
    port = free_port()
    app = create_app(
        settings.model_copy(
            update={
                "api_keys": SecretStr(f"{KEY_EU}={R.DIST},{KEY_JA}={R.DIST_JA}"),
                "operator_keys": SecretStr(OPERATOR_KEY),
            }
        )
    )
    server = HttpServer(app, "127.0.0.1", port, lifespan="on")
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()
        for route in app.routes:
            state = getattr(route.app, "state", None) if isinstance(route, Mount) else None
            if state is not None and hasattr(state, "console"):  # not /docs/static's files
                await state.console.aclose()


async def dead_letter(settings, order_id: str, distributor: str) -> None:
    """An order the consumer gave up on, as the runtime dead-letters it (services/common/dead_letters.py)."""
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic_prefix + "por.dlq.v1",
            json.dumps(R.order(order_id, R.VALID, dist=distributor)).encode(),
            key=order_id.encode(),
            headers=[
                ("x-dlq-source-topic", b"csp.orders.v1"),
                ("x-dlq-source-partition", b"0"),
                ("x-dlq-source-offset", b"7"),
                ("x-dlq-consumer-group", b"porgate.order-intake.orders"),
                ("x-dlq-error", b"database unavailable for too long (test)"),
                ("x-dlq-failed-at", datetime.now(UTC).isoformat().encode()),
            ],
        )
    finally:
        await producer.stop()


async def failed_deliveries(settings) -> None:
    conn = await asyncpg.connect(settings.database_url)
    try:
        for nid, dist in (("ntf-eu-1", R.DIST), ("ntf-ja-1", R.DIST_JA)):
            await conn.execute(
                "INSERT INTO notifier.notifications (notification_id, kind, distributor_id, language,"
                " cause_event_id, payload, state, attempts, last_error)"
                " VALUES ($1, 'transaction_blocked', $2, 'en', $3, '{}', 'failed', 10,"
                " 'HTTP 500 from the webhook')",
                nid,
                dist,
                "cause-" + nid,
            )
        await conn.execute(
            "INSERT INTO gdap_revoker.customer_assignments VALUES ($1, 'cust-42', 'ten-suspended',"
            " 'unassigned', now())",
            R.DIST,
        )
        await conn.execute(
            "INSERT INTO gdap_revoker.terminations (relationship_id, customer_id, reseller_tenant_id,"
            " reason, cause_event_id, state, attempts, last_error)"
            " VALUES ('rel-1', 'cust-42', 'ten-suspended', 'reseller_suspended', 'cause-t', 'failed',"
            " 10, 'Graph answered 403')"
        )
    finally:
        await conn.close()


@pytest.fixture
async def world(migrated):
    """Decisions by the services, two dead letters, failed deliveries; the services keep
    running (a redrive must reach a decision), the console serves at `world["url"]`."""
    settings = migrated
    async with Bus(settings) as bus, running(settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        orders = [
            (BLOCKED_ORDER, R.SUSPENDED_TENANT, R.DIST),
            (ACCEPTED_ORDER, R.VALID, R.DIST),
            (JA_ORDER, R.VALID, R.DIST_JA),
        ]
        for order_id, pid, dist in orders:
            await bus.send("csp.orders.v1", R.order(order_id, pid, dist=dist), key=order_id)
        await bus.events("por.decisions.v1", len(orders))
        await dead_letter(settings, REDRIVEN_ORDER, R.DIST)
        await dead_letter(settings, JA_LETTER_ORDER, R.DIST_JA)
        await failed_deliveries(settings)
        async with console_server(settings) as url:
            yield {"settings": settings, "url": url, "bus": bus}


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium at 1400×900 through chromedriver; downloads go to tmp_path."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail(
            "the console's browser tests need Chromium and chromedriver: "
            "apt-get install -y chromium chromium-driver (.ci/run installs them)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(tmp_path), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_window_size(1400, 900)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
