"""`porgate topics` creates the contract's configs; `--check` reports drift and changes nothing."""

from __future__ import annotations

import asyncio
import os
import uuid

from contracts.topics import ALL_TOPICS, MAX_MESSAGE_BYTES, ORDERS
from services.common.kafka_clients import new_admin, start_client
from services.common.ports import free_port
from services.common.topic_creation import create_topics, topic_states
from services.settings import Settings
from tests.e2e.test_cli import porgate


def cli_env(kafka: str, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "PORGATE_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "PORGATE_TOPIC_PREFIX": prefix,
        "PORGATE_LOG_LEVEL": "WARNING",
    }


async def states(kafka: str, names: list[str]):
    settings = Settings(kafka_bootstrap_servers=kafka)
    admin = await start_client(new_admin(settings, client_id="test"), settings)
    try:
        return await topic_states(admin, names)
    finally:
        await admin.close()


async def test_created_topics_carry_the_contracts_configs_and_check_finds_no_difference(kafka):
    prefix = f"tc{uuid.uuid4().hex[:8]}."
    env = cli_env(kafka, prefix)
    created = await asyncio.to_thread(porgate, "topics", env=env)
    assert created.returncode == 0, created.stderr[-2000:]
    found = await states(kafka, [prefix + t.name for t in ALL_TOPICS])
    assert len(found) == len(ALL_TOPICS)
    for topic in ALL_TOPICS:
        state = found[prefix + topic.name]
        assert state.partitions == topic.partitions
        assert state.config["max.message.bytes"] == str(MAX_MESSAGE_BYTES)
        assert state.config["min.insync.replicas"] == "1"  # one replica here
    checked = await asyncio.to_thread(porgate, "topics", "--check", env=env)
    assert checked.returncode == 0, checked.stderr[-2000:]
    assert "0 difference(s)" in checked.stderr


async def test_check_reports_topics_that_differ_and_leaves_them_as_they_are(kafka):
    prefix = f"tc{uuid.uuid4().hex[:8]}."
    # Created by someone else, with the wrong partition count: as an auto-created topic would be.
    await create_topics(kafka, prefix=prefix, partitions=2)
    checked = await asyncio.to_thread(porgate, "topics", "--check", env=cli_env(kafka, prefix))
    assert checked.returncode == 1
    lines = checked.stderr.splitlines()
    assert f"{prefix}{ORDERS.name}: 2 partitions, the contract says 6" in lines
    after = await states(kafka, [prefix + ORDERS.name])
    assert after[prefix + ORDERS.name].partitions == 2


async def test_an_unreachable_broker_is_one_line_and_exit_status_3():
    env = cli_env(f"127.0.0.1:{free_port()}", "x.")
    result = await asyncio.to_thread(porgate, "topics", "--check", env=env)
    assert result.returncode == 3  # Kafka's (docs/cli.md)
    assert "Traceback" not in result.stderr + result.stdout
    assert "cannot connect" in result.stderr and "PORGATE_KAFKA_BOOTSTRAP_SERVERS" in result.stderr
