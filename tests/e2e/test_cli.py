"""`porgate migrate`, `porgate topics` and `porgate run all` against the configured servers."""

import asyncio
import os
import signal
import subprocess
import sys

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import ALL_TOPICS
from services.common.kafka_security import client_options
from services.common.ports import free_port
from tests.e2e import registry_data as R
from tests.support import Bus, eventually


def porgate(*args, env, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def test_migrate_topics_and_run_all(settings):
    env = {
        **os.environ,
        "PORGATE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "PORGATE_DATABASE_URL": settings.database_url,
        "PORGATE_TOPIC_PREFIX": settings.topic_prefix + "cli.",
        "PORGATE_LOG_LEVEL": "WARNING",
    }
    for _ in range(2):  # both commands are safe to run again
        for cmd in ("migrate", "topics"):
            result = await asyncio.to_thread(porgate, cmd, env=env)
            assert result.returncode == 0, result.stderr[-2000:]
    conn = await asyncpg.connect(settings.database_url)
    try:
        schemas = {
            r[0] for r in await conn.fetch("SELECT schema_name FROM information_schema.schemata")
        }
        assert {
            "order_intake",
            "subscription_change",
            "por_validator",
            "gdap_revoker",
            "notifier",
        } <= schemas
    finally:
        await conn.close()
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    assert {settings.topic_prefix + "cli." + t.name for t in ALL_TOPICS} <= existing

    api_port, health_port = free_port(), free_port()
    env |= {
        "PORGATE_API_PORT": str(api_port),
        "PORGATE_HEALTH_PORT": str(health_port),
        "PORGATE_API_KEYS": f"k-cli-2e4c6a8f0b1d3e57={R.DIST}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "run", "all"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(timeout=5) as client:

            async def up():
                try:
                    api = await client.get(f"http://127.0.0.1:{api_port}/healthz")
                    health = await client.get(f"http://127.0.0.1:{health_port}/healthz")
                    return api.status_code == health.status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up, timeout=60)
            doc = (await client.get(f"http://127.0.0.1:{api_port}/asyncapi.json")).json()
            assert doc["asyncapi"].startswith("3.") and len(doc["channels"]) >= 10
        cli_settings = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "cli."})
        async with Bus(cli_settings) as bus:
            await bus.send("csp.orders.v1", R.order("ord-cli", None), key="ord-cli")
            (decision,) = await bus.events("por.decisions.v1", 1, timeout=60)
        assert decision["data"]["errorCodes"] == [800016]
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(proc.communicate, timeout=40)
        assert proc.returncode == 0, out.decode()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
