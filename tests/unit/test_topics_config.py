"""Topics as the contract wants them, and the differences `porgate topics --check` reports."""

from __future__ import annotations

import pytest

from contracts.topics import ALL_TOPICS, DLQ, MAX_MESSAGE_BYTES, ORDERS, PARTNER_REGISTRY
from services.cli.errors import problem_of
from services.common.kafka_security import KafkaSetupError
from services.common.topic_creation import (
    TopicState,
    creation_refused,
    differences,
    expected_topics,
)
from services.settings import Settings


@pytest.mark.parametrize(("replicas", "min_insync"), [(1, "1"), (2, "1"), (3, "2"), (5, "2")])
def test_min_insync_replicas_leaves_one_broker_down_harmless(replicas, min_insync) -> None:
    for topic in ALL_TOPICS:
        assert topic.config(replicas)["min.insync.replicas"] == min_insync


def test_every_topic_takes_the_2_mib_messages_the_contract_allows() -> None:
    assert MAX_MESSAGE_BYTES == 2 * 1024 * 1024
    for topic in ALL_TOPICS:
        assert topic.config(3)["max.message.bytes"] == str(MAX_MESSAGE_BYTES)


def test_compaction_and_retention_stay_as_before() -> None:
    assert PARTNER_REGISTRY.config(3)["cleanup.policy"] == "compact"
    assert "retention.ms" not in PARTNER_REGISTRY.config(3)
    assert ORDERS.config(3)["cleanup.policy"] == "delete"


def test_a_topic_as_the_contract_wants_it_has_no_difference() -> None:
    want = expected_topics("p.", 3)
    for name, state in want.items():
        assert differences(name, state, state) == []


def test_each_difference_is_reported_with_what_the_contract_says() -> None:
    want = expected_topics("", 3)[ORDERS.name]
    have = TopicState(
        partitions=3,
        replication_factor=1,
        config={**want.config, "max.message.bytes": "1048588", "min.insync.replicas": "1"},
    )
    found = differences(ORDERS.name, want, have)
    assert found == [
        "csp.orders.v1: 3 partitions, the contract says 6",
        "csp.orders.v1: replication factor 1, 3 configured",
        "csp.orders.v1: max.message.bytes=1048588, the contract says at least 2097152",
        "csp.orders.v1: min.insync.replicas=1, the contract says at least 2",
    ]


def test_a_config_the_broker_does_not_report_counts_as_unset_and_a_missing_topic_is_named() -> None:
    want = expected_topics("", 1)[DLQ.name]
    config = {k: v for k, v in want.config.items() if k != "retention.ms"}
    assert differences(DLQ.name, want, TopicState(1, 1, config)) == [
        "por.dlq.v1: retention.ms=(unset), the contract says at least 2592000000"
    ]
    assert differences(DLQ.name, want, None) == [
        "por.dlq.v1: missing (`porgate topics` creates it)"
    ]


def test_more_than_the_contract_asks_is_as_good() -> None:
    # Confluent Cloud's default max.message.bytes, an infinite retention, a stricter ISR.
    want = expected_topics("", 3)[DLQ.name]
    config = {
        **want.config,
        "max.message.bytes": "2097164",
        "retention.ms": "-1",
        "min.insync.replicas": "3",
    }
    assert differences(DLQ.name, want, TopicState(1, 3, config)) == []
    longer = {**want.config, "retention.ms": str(int(want.config["retention.ms"]) * 2)}
    assert differences(DLQ.name, want, TopicState(1, 3, longer)) == []


def test_less_than_the_contract_asks_or_an_isr_no_write_can_meet_is_reported() -> None:
    want = expected_topics("", 2)[DLQ.name]
    config = {**want.config, "retention.ms": "86400000", "min.insync.replicas": "3"}
    assert differences(DLQ.name, want, TopicState(1, 2, config)) == [
        "por.dlq.v1: retention.ms=86400000, the contract says at least 2592000000",
        (
            "por.dlq.v1: min.insync.replicas=3 is above its replication factor 2,"
            " so every write with acks=all fails"
        ),
    ]
    other = {**want.config, "cleanup.policy": "compact"}
    assert differences(DLQ.name, want, TopicState(1, 2, other)) == [
        "por.dlq.v1: cleanup.policy=compact, the contract says delete"
    ]


def test_a_refused_creation_is_one_line_naming_the_topic_the_error_and_the_fix() -> None:
    want = expected_topics("", 3)[ORDERS.name]
    settings = Settings(kafka_bootstrap_servers="kafka:9092")
    error = creation_refused(
        settings, ORDERS.name, want, 38, ("Replication factor: 3 larger than\navailable: 1",)
    )
    assert isinstance(error, KafkaSetupError)
    line = problem_of(error).line
    assert line == (
        "porgate: Kafka at kafka:9092 refused to create topic csp.orders.v1 (6 partitions,"
        " replication factor 3): InvalidReplicationFactorError: Replication factor: 3 larger"
        " than available: 1; set PORGATE_TOPIC_REPLICATION_FACTOR (or --replicas) to at most"
        " the number of brokers"
    )
    denied = str(creation_refused(settings, ORDERS.name, want, 29, ()))
    assert "TopicAuthorizationFailedError; grant the client's principal CREATE" in denied
