"""The pure parts of on-call replays: rate limit, header handling, slice planning, re-validation requests."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from contracts.codec import decode
from contracts.ids import derived_event_id
from services.ops.dead_letters import (
    parse_dead_letter,
    redrive_headers,
    redrive_problem,
)
from services.ops.rate import TokenBucket
from services.ops.replay import check_replay_target, replay_headers
from services.ops.revalidate import revalidation_for
from services.ops.topic_io import (
    ReplayError,
    Slice,
    format_age,
    header_map,
    in_window,
    parse_time,
    plan_slices,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_spaces_messages_after_the_burst():
    clock = Clock()
    bucket = TokenBucket(10, burst=2, clock=clock)
    assert [bucket.reserve() for _ in range(5)] == pytest.approx([0, 0, 0.1, 0.2, 0.3])
    clock.now += 0.3  # the debt is paid, nothing saved up
    assert bucket.reserve() == pytest.approx(0.1)


def test_token_bucket_refills_up_to_its_capacity_only():
    clock = Clock()
    bucket = TokenBucket(5, burst=3, clock=clock)
    for _ in range(3):
        assert bucket.reserve() == 0
    clock.now += 60  # a long idle period still allows only a burst of 3
    assert [bucket.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 0.2])


async def test_token_bucket_holds_the_average_rate():
    clock = Clock()

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    bucket = TokenBucket(50, clock=clock)  # default burst: a tenth of a second's worth
    start = clock.now
    for _ in range(505):
        await bucket.acquire(sleep=sleep)
    assert clock.now - start == pytest.approx(10.0)


def test_token_bucket_rejects_a_non_positive_rate():
    with pytest.raises(ValueError):
        TokenBucket(0)


DLQ_HEADERS = [
    ("content-type", b"application/cloudevents+json"),
    ("x-dlq-source-topic", b"csp.orders.v1"),
    ("x-dlq-source-partition", b"1"),
    ("x-dlq-source-offset", b"42"),
    ("x-dlq-consumer-group", b"porgate.order-intake.orders"),
    ("x-dlq-error", b"not JSON: Expecting value"),
    ("x-dlq-failed-at", b"2026-01-10T09:00:00+00:00"),
]


def test_parse_dead_letter_reads_the_runtime_headers():
    d = parse_dead_letter(0, 7, 1_000, b"ord-1", b"{x", DLQ_HEADERS)
    assert (d.source_topic, d.source_partition, d.source_offset) == ("csp.orders.v1", 1, 42)
    assert d.consumer_group == "porgate.order-intake.orders"
    assert d.error == "not JSON: Expecting value"
    assert d.failed_at == datetime(2026, 1, 10, 9, tzinfo=UTC)
    assert d.key_text == "ord-1"
    assert redrive_problem(d) is None


def test_parse_dead_letter_survives_missing_or_broken_headers():
    broken = [("x-dlq-failed-at", b"yesterday"), ("x-dlq-source-offset", b"\xff")]
    d = parse_dead_letter(0, 3, 1_700_000_000_000, None, b"x", broken)
    assert d.source_topic is None and d.source_offset is None and d.key_text == ""
    assert d.failed_at == datetime.fromtimestamp(1_700_000_000, UTC)  # the record's own timestamp
    assert redrive_problem(d) == "no x-dlq-source-topic header"

    def from_topic(topic: bytes) -> str | None:
        return redrive_problem(
            parse_dead_letter(0, 0, 0, None, b"x", [("x-dlq-source-topic", topic)])
        )

    assert "unknown source topic" in from_topic(b"nope")
    assert "DLQ itself" in from_topic(b"por.dlq.v1")


def test_header_map_last_occurrence_wins():
    assert header_map([("a", b"1"), ("a", b"2"), ("b", None)]) == {"a": "2", "b": ""}


def test_redrive_headers_strip_the_dlq_and_earlier_redrives_but_keep_the_rest():
    once = redrive_headers(DLQ_HEADERS, 0, 7)
    assert once == [
        ("content-type", b"application/cloudevents+json"),
        ("x-redriven-from-dlq-partition", b"0"),
        ("x-redriven-from-dlq-offset", b"7"),
    ]
    # Redriven, failed again, redriven again: one provenance header, the newest.
    twice = redrive_headers(once + DLQ_HEADERS[1:], 0, 9)
    assert [k for k, _ in twice].count("x-redriven-from-dlq-offset") == 1
    assert dict(twice)["x-redriven-from-dlq-offset"] == b"9"


def test_replay_headers_replace_an_earlier_provenance():
    h = replay_headers([("a", b"1"), ("x-replayed-from", b"old")], "csp.orders.v1", 1, 5)
    assert h == [("a", b"1"), ("x-replayed-from", b"csp.orders.v1/1/5")]


def test_plan_slices_clamps_to_what_exists_and_includes_the_last_offset():
    beginning, end = {0: 0, 1: 10}, {0: 5, 1: 20}
    assert plan_slices(beginning, end) == [Slice(0, 0, 5), Slice(1, 10, 20)]
    assert plan_slices(beginning, end, [1], 12, 14) == [Slice(1, 12, 15)]
    assert plan_slices(beginning, end, [1], 2, 100) == [Slice(1, 10, 20)]
    assert plan_slices(beginning, end, None, 7, None) == [Slice(0, 7, 7), Slice(1, 10, 20)]
    assert [s.size for s in plan_slices(beginning, end, None, 7, None)] == [0, 10]


def test_plan_slices_rejects_bad_requests():
    with pytest.raises(ReplayError, match="no partition 3"):
        plan_slices({0: 0}, {0: 5}, [3])
    with pytest.raises(ReplayError, match="after"):
        plan_slices({0: 0}, {0: 5}, None, 4, 2)


def test_time_window_is_half_open_and_times_default_to_utc():
    since = parse_time("2026-01-10T09:00:00Z")
    until = parse_time("2026-01-10T10:00:00")  # no zone: UTC
    assert until.tzinfo is not None
    ms = int(since.timestamp() * 1000)
    assert in_window(ms, since, until) and not in_window(ms - 1, since, until)
    assert not in_window(int(until.timestamp() * 1000), since, until)
    assert in_window(0, None, until) and in_window(10**13, since, None)
    with pytest.raises(ValueError):
        parse_time("last tuesday")


def test_format_age():
    now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    assert format_age(now - timedelta(seconds=5), now) == "5s"
    assert format_age(now - timedelta(minutes=3, seconds=2), now) == "3m2s"
    assert format_age(now - timedelta(hours=2, minutes=5), now) == "2h5m"
    assert format_age(now - timedelta(days=4, hours=1), now) == "4d1h"
    assert format_age(None, now) == "?"


def test_replays_between_contract_topics_of_different_event_types_are_refused():
    check_replay_target("csp.orders.v1", "csp.orders.v1")
    check_replay_target("csp.orders.v1", "scratch.orders-copy")
    check_replay_target("scratch.orders-copy", "csp.orders.v1")
    with pytest.raises(ReplayError, match="different event types"):
        check_replay_target("csp.orders.v1", "por.decisions.v1")
    with pytest.raises(ReplayError, match="dlq redrive"):
        check_replay_target("por.dlq.v1", "csp.orders.v1")


STORED_REQUEST = {
    "sourceEventId": "evt-1",
    "transactionKind": "new_order",
    "orderId": "ord-1",
    "changeId": None,
    "subscriptionId": None,
    "changeKind": None,
    "distributorId": "dist-eu-1",
    "customerId": "cust-42",
    "requestedAt": "2026-01-10T09:00:00Z",
    "lines": [{"lineItemId": "1", "partnerIdOnRecord": "1000003"}],
    "supersedesDecisionId": None,
}


def test_revalidation_names_the_superseded_decision_and_is_the_same_on_every_run():
    decided_at = datetime(2026, 1, 10, 9, 0, 1, 123456, tzinfo=UTC)
    first = revalidation_for("dec-1", json.loads(json.dumps(STORED_REQUEST)), decided_at, [900400])
    again = revalidation_for("dec-1", json.loads(json.dumps(STORED_REQUEST)), decided_at, [900400])
    assert first == again  # same id, same bytes: the validator's inbox drops the second
    assert first.event_id == derived_event_id("revalidation", "dec-1")
    assert first.key == "ord-1" and first.error_codes == (900400,)
    event = decode(first.value, "por.validation-requests.v1")
    assert event.id == first.event_id and event.time == decided_at
    assert event.data.supersedes_decision_id == "dec-1"
    assert (
        event.data.source_event_id == "evt-1"
        and event.data.lines[0].partner_id_on_record == "1000003"
    )


def test_revalidation_of_a_subscription_change_is_keyed_by_subscription():
    request = {
        **STORED_REQUEST,
        "transactionKind": "subscription_change",
        "orderId": None,
        "subscriptionId": "sub-1",
        "changeId": "chg-1",
    }
    r = revalidation_for("dec-2", request, datetime(2026, 2, 1, tzinfo=UTC))
    assert r.key == "sub-1"
    assert r.event_id != revalidation_for("dec-1", request, r.decided_at).event_id
