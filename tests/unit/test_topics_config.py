"""Topics as the contract wants them, and the differences `porgate topics --check` reports."""

from __future__ import annotations

import pytest

from contracts.topics import ALL_TOPICS, DLQ, MAX_MESSAGE_BYTES, ORDERS, PARTNER_REGISTRY
from services.common.topic_creation import TopicState, differences, expected_topics


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
        "csp.orders.v1: max.message.bytes=1048588, the contract says 2097152",
        "csp.orders.v1: min.insync.replicas=1, the contract says 2",
    ]


def test_a_config_the_broker_does_not_report_counts_as_unset_and_a_missing_topic_is_named() -> None:
    want = expected_topics("", 1)[DLQ.name]
    config = {k: v for k, v in want.config.items() if k != "retention.ms"}
    assert differences(DLQ.name, want, TopicState(1, 1, config)) == [
        "por.dlq.v1: retention.ms=(unset), the contract says 2592000000"
    ]
    assert differences(DLQ.name, want, None) == [
        "por.dlq.v1: missing (`porgate topics` creates it)"
    ]
