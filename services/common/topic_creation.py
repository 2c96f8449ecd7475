"""Create the contract's topics with the settings `contracts.topics` gives them, and find the
existing ones that differ (`porgate topics --check`, `porgate doctor`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from contracts.topics import ALL_TOPICS
from services.common.config import Settings
from services.common.kafka_clients import new_admin, start_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicState:
    """What the cluster (or the contract) says of one topic."""

    partitions: int
    replication_factor: int
    config: dict[str, str]


def expected_topics(
    prefix: str, replication_factor: int, partitions: int | None = None
) -> dict[str, TopicState]:
    """Each topic as the contract wants it on a cluster keeping `replication_factor` replicas."""
    return {
        prefix + t.name: TopicState(
            partitions or t.partitions, replication_factor, t.config(replication_factor)
        )
        for t in ALL_TOPICS
    }


def differences(name: str, want: TopicState, have: TopicState | None) -> list[str]:
    """What differs, one phrase each; empty when the topic is as the contract wants it."""
    if have is None:
        return [f"{name}: missing (`porgate topics` creates it)"]
    found = []
    if have.partitions != want.partitions:
        found.append(f"{name}: {have.partitions} partitions, the contract says {want.partitions}")
    if have.replication_factor < want.replication_factor:
        found.append(
            f"{name}: replication factor {have.replication_factor},"
            f" {want.replication_factor} configured"
        )
    for key, value in want.config.items():
        if have.config.get(key) != value:
            found.append(
                f"{name}: {key}={have.config.get(key, '(unset)')}, the contract says {value}"
            )
    return found


async def create_topics(
    kafka: Settings | str,
    *,
    prefix: str = "",
    replication_factor: int = 1,
    partitions: int | None = None,
) -> dict[str, str]:
    """Create what is missing; return topic -> 'created' | 'exists'. Safe to run again.

    `kafka`: the settings to connect with, or a bootstrap address (TLS and SASL then come
    from the environment's `PORGATE_KAFKA_*`, as for every process).
    """
    settings = kafka if isinstance(kafka, Settings) else Settings(kafka_bootstrap_servers=kafka)
    admin = await start_client(new_admin(settings, client_id="porgate-topics"), settings)
    try:
        existing = set(await admin.list_topics())
        result: dict[str, str] = {}
        for name, want in expected_topics(prefix, replication_factor, partitions).items():
            if name in existing:
                result[name] = "exists"
                continue
            new = NewTopic(
                name,
                num_partitions=want.partitions,
                replication_factor=want.replication_factor,
                topic_configs=want.config,
            )
            response = await admin.create_topics([new])
            errors = [
                e
                for e in getattr(response, "topic_errors", ())
                if e[1] not in (0, TopicAlreadyExistsError.errno)
            ]
            if errors:
                raise RuntimeError(f"creating {name}: {errors}")
            result[name] = "created"
        return result
    finally:
        await admin.close()


async def topic_states(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, TopicState]:
    """The existing topics among `names`, with their partitions, replicas and configs."""
    present = set(await admin.list_topics())
    names = [n for n in names if n in present]
    if not names:
        return {}
    described = {t["topic"]: t for t in await admin.describe_topics(names)}
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
    )
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            # (error_code, error_message, type, name, entries); entry: (name, value, ...)
            configs[resource[3]] = {e[0]: e[1] for e in resource[4]}
    states = {}
    for name in names:
        parts = described.get(name, {}).get("partitions", [])
        replicas = min((len(p["replicas"]) for p in parts), default=0)
        states[name] = TopicState(len(parts), replicas, configs.get(name, {}))
    return states


async def check_topics(
    settings: Settings, replication_factor: int, partitions: int | None = None
) -> list[str]:
    """Every way the existing topics differ from the contract; nothing is changed."""
    want = expected_topics(settings.topic_prefix, replication_factor, partitions)
    admin = await start_client(new_admin(settings, client_id="porgate-topics"), settings)
    try:
        have = await topic_states(admin, list(want))
    finally:
        await admin.close()
    return [p for name, w in want.items() for p in differences(name, w, have.get(name))]
