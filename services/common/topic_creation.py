"""Create the contract's topics with the settings `contracts.topics` gives them, and find the
existing ones that differ (`porgate topics --check`, `porgate doctor`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from contracts.topics import ALL_TOPICS
from services.common.config import RuntimeSettings
from services.common.kafka_clients import new_admin, start_client
from services.common.kafka_security import KafkaSetupError

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


# Settings where more than the contract asks is as good: a cluster's larger default message
# size (Confluent Cloud's 2097164), a longer or infinite (-1) retention, a stricter ISR.
AT_LEAST = frozenset({"max.message.bytes", "retention.ms", "min.insync.replicas"})


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
        got = have.config.get(key)
        if key in AT_LEAST and _at_least(key, got, value):
            continue
        if key not in AT_LEAST and got == value:
            continue
        least = " at least" if key in AT_LEAST else ""
        found.append(f"{name}: {key}={got or '(unset)'}, the contract says{least} {value}")
    isr = _integer(have.config.get("min.insync.replicas"))
    if isr is not None and have.replication_factor and isr > have.replication_factor:
        found.append(
            f"{name}: min.insync.replicas={isr} is above its replication factor"
            f" {have.replication_factor}, so every write with acks=all fails"
        )
    return found


def _at_least(key: str, got: str | None, want: str) -> bool:
    if key == "retention.ms" and got == "-1":
        return True  # kept forever
    have, need = _integer(got), _integer(want)
    return have is not None and need is not None and have >= need


def _integer(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


async def create_topics(
    kafka: RuntimeSettings | str,
    *,
    prefix: str = "",
    replication_factor: int = 1,
    partitions: int | None = None,
) -> dict[str, str]:
    """Create what is missing; return topic -> 'created' | 'exists'. Safe to run again.

    `kafka`: the settings to connect with, or a bootstrap address (TLS and SASL then come
    from the environment's `PORGATE_KAFKA_*`, as for every process).
    """
    settings = (
        kafka
        if isinstance(kafka, RuntimeSettings)
        else RuntimeSettings(kafka_bootstrap_servers=kafka)
    )
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
            for error in getattr(response, "topic_errors", ()):
                # (topic, error_code) and, from v1, the broker's error_message.
                if error[1] not in (0, TopicAlreadyExistsError.errno):
                    raise creation_refused(settings, name, want, error[1], error[2:])
            result[name] = "created"
        return result
    finally:
        await admin.close()


# What to change for the refusals a broker commonly gives a topic's creation.
_FIXES = {
    "TopicAuthorizationFailedError": "grant the client's principal CREATE on the cluster"
    " (or the topic), or create the topics yourself as contracts/topics.py lists them",
    "ClusterAuthorizationFailedError": "grant the client's principal CREATE on the cluster,"
    " or create the topics yourself as contracts/topics.py lists them",
    "InvalidReplicationFactorError": "set PORGATE_TOPIC_REPLICATION_FACTOR (or --replicas) to"
    " at most the number of brokers",
    "InvalidPartitionsError": "the cluster limits partitions per topic: raise its limit",
    "PolicyViolationError": "the cluster's create-topic policy refuses these settings: relax"
    " it or create the topics yourself as contracts/topics.py lists them",
    "InvalidConfigurationError": "the cluster refuses a topic setting (a max.message.bytes"
    " above its limit?): raise its limit or create the topics yourself",
}


def creation_refused(
    settings: RuntimeSettings, name: str, want: TopicState, code: int, rest: tuple
) -> KafkaSetupError:
    error = for_code(code).__name__
    said = f": {' '.join(str(rest[0]).split())[:200]}" if rest and rest[0] else ""
    return KafkaSetupError(
        f"Kafka at {settings.kafka_bootstrap_servers} refused to create topic {name}"
        f" ({want.partitions} partitions, replication factor {want.replication_factor})"
        f": {error}{said}",
        _FIXES.get(error, "see the broker's log for why, or create the topic yourself"),
    )


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
    settings: RuntimeSettings, replication_factor: int, partitions: int | None = None
) -> list[str]:
    """Every way the existing topics differ from the contract; nothing is changed."""
    want = expected_topics(settings.topic_prefix, replication_factor, partitions)
    admin = await start_client(new_admin(settings, client_id="porgate-topics"), settings)
    try:
        have = await topic_states(admin, list(want))
    finally:
        await admin.close()
    return [p for name, w in want.items() for p in differences(name, w, have.get(name))]
