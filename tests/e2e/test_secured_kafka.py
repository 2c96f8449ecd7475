"""porgate on a broker that enforces TLS and SASL (tests/secured_kafka/): end to end over
SASL_SSL with SCRAM-SHA-512 and over TLS with a CA file; a wrong password, an untrusted
certificate or a missing CA file stops a command and a service at once, in one line.

The whole e2e suite runs this way with PORGATE_TEST_KAFKA_SECURITY=sasl_ssl (tests/servers.py);
this module keeps a representative part of it secured in every run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import pytest

from services.catalog import all_services
from services.common.db import migrate
from services.common.ports import free_port
from services.common.topic_creation import create_topics
from services.settings import Settings
from tests.e2e import registry_data as R
from tests.e2e.test_cli import porgate
from tests.e2e.test_orders import load_registry, registry_loaded
from tests.secured_kafka.broker import secured_kafka
from tests.support import Bus, running

# How long a misconfigured process may take to give up: no retrying a setting that is wrong.
FAIL_FAST_S = 20.0


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory):
    with secured_kafka(sasl=True, folder=tmp_path_factory.mktemp("pki-sasl")) as broker:
        yield broker


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    with secured_kafka(sasl=False, folder=tmp_path_factory.mktemp("pki-tls")) as broker:
        yield broker


async def secured_settings(broker, database_url: str) -> Settings:
    settings = Settings(
        database_url=database_url,
        topic_prefix=f"s{uuid.uuid4().hex[:8]}.",
        retry_initial_s=0.05,
        retry_max_s=0.5,
        log_json=False,
        **broker.settings_values(),
    )
    await create_topics(settings, prefix=settings.topic_prefix, partitions=2)
    for service in all_services(settings):
        await migrate(settings.database_url, service.schema, service.migrations)
    return settings


async def test_orders_are_decided_end_to_end_over_sasl_ssl_with_scram_sha_512(
    sasl_broker, fresh_database
):
    settings = await secured_settings(sasl_broker, fresh_database)
    before = sasl_broker.proxy.authentications["ok"]
    async with Bus(settings) as bus, running(settings, ["order-intake", "por-validator"]):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        await bus.send("csp.orders.v1", R.order("ord-ok", R.VALID), key="ord-ok")
        await bus.send("csp.orders.v1", R.order("ord-bad", R.INACTIVE_PLA), key="ord-bad")
        decisions = await bus.events("por.decisions.v1", 2)
    outcomes = {d["data"]["orderId"]: d["data"]["outcome"] for d in decisions}
    assert outcomes == {"ord-ok": "accepted", "ord-bad": "blocked"}
    # Every connection went through SCRAM: the consumers', the producer's, the tests' own.
    assert sasl_broker.proxy.authentications["ok"] - before >= 4
    assert sasl_broker.proxy.authentications["failed"] == 0


async def test_porgate_works_over_tls_with_a_ca_file(tls_broker, fresh_database):
    prefix = f"s{uuid.uuid4().hex[:8]}."
    env = {**os.environ, **tls_broker.env(PORGATE_TOPIC_PREFIX=prefix)}
    created = await asyncio.to_thread(porgate, "topics", env=env)
    assert created.returncode == 0, created.stderr[-2000:]
    checked = await asyncio.to_thread(porgate, "topics", "--check", env=env)
    assert checked.returncode == 0 and "0 difference(s)" in checked.stderr, checked.stderr
    settings = Settings(
        database_url=fresh_database, topic_prefix=prefix, **tls_broker.settings_values()
    )
    for service in all_services(settings):
        await migrate(settings.database_url, service.schema, service.migrations)
    async with Bus(settings) as bus, running(settings, ["order-intake", "por-validator"]):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        await bus.send("csp.orders.v1", R.order("ord-tls", R.VALID), key="ord-tls")
        (decision,) = await bus.events("por.decisions.v1", 1)
    assert decision["data"]["outcome"] == "accepted"


def run_service(env: dict[str, str], name: str = "order-intake") -> tuple[int, str, float]:
    """`porgate run NAME`: exit status, everything it wrote, seconds it took."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "run", name],
        env=env | {"PORGATE_HEALTH_PORT": "0", "PORGATE_API_PORT": str(free_port())},
        capture_output=True,
        text=True,
        timeout=FAIL_FAST_S * 3,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def porgate_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("override", "says", "status"),
    [
        ({"PORGATE_KAFKA_SASL_PASSWORD": "wrong"}, "SASL authentication failed", 3),
        ({"PORGATE_KAFKA_SSL_CA_FILE": "other"}, "TLS certificate is not trusted", 3),
        ({"PORGATE_KAFKA_SSL_CA_FILE": "/nowhere/ca.pem"}, "/nowhere/ca.pem: no such file", 6),
        ({"PORGATE_KAFKA_SECURITY_PROTOCOL": "SSL"}, "it may require SASL", 3),
    ],
    ids=["wrong-password", "untrusted-certificate", "missing-ca-file", "sasl-not-configured"],
)
async def test_a_service_misconfigured_for_kafka_stops_at_once_with_one_line(
    sasl_broker, override, says, status
):
    # Exit status: 3 Kafka refused us, 6 a setting cannot work (docs/cli.md).
    if override.get("PORGATE_KAFKA_SSL_CA_FILE") == "other":
        override = {"PORGATE_KAFKA_SSL_CA_FILE": str(sasl_broker.pki.other_ca_file)}
    env = {**os.environ, **sasl_broker.env(**override), "PORGATE_LOG_JSON": "false"}
    exited, output, took = await asyncio.to_thread(run_service, env)
    assert exited == status, output[-3000:]
    assert took < FAIL_FAST_S
    assert "Traceback" not in output
    (line,) = porgate_lines(output)
    assert line.startswith("porgate: ") and says in line
    assert "PORGATE_KAFKA_" in line  # the setting to look at


async def test_the_api_with_a_wrong_kafka_password_stops_at_once_with_one_line(sasl_broker):
    env = {**os.environ, **sasl_broker.env(PORGATE_KAFKA_SASL_PASSWORD="wrong")}
    exited, output, took = await asyncio.to_thread(run_service, env, "api")
    assert exited == 3 and took < FAIL_FAST_S, output[-3000:]
    (line,) = porgate_lines(output)
    assert line.startswith("porgate: ") and "SASL authentication failed" in line


async def test_a_command_misconfigured_for_kafka_says_why_in_one_line(sasl_broker):
    env = {**os.environ, **sasl_broker.env(PORGATE_KAFKA_SASL_PASSWORD="wrong")}
    result = await asyncio.to_thread(porgate, "topics", env=env)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = porgate_lines(result.stderr)
    assert "SASL authentication failed" in line and "PORGATE_KAFKA_SASL_PASSWORD" in line
