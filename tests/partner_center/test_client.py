"""The Partner Center client against the stand-in, over real HTTP on localhost."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY

from services.partner_center.breaker import BreakerState
from services.partner_center.errors import (
    AuthenticationFailed,
    NotConfigured,
    Throttled,
    Unavailable,
)
from services.partner_center.standin import RELATIONSHIPS, TOKEN, VALIDATE

from .conftest import NOT_LINKED


def request_ids(standin) -> list[str]:
    return [call.headers["ms-requestid"] for call in standin.calls_to(VALIDATE)]


def correlation_ids(standin) -> list[str]:
    return [call.headers["ms-correlationid"] for call in standin.calls_to(VALIDATE)]


async def test_validation_answers_in_the_documented_shape_with_the_call_it_came_from(
    standin, make_client
):
    client = make_client()
    answers = await client.validate_resellers("dist-a", ["1111", "2222"], event_id="evt-1")

    assert [(a.result.partner_id, a.result.is_valid_partner_id_on_record) for a in answers] == [
        ("1111", True),
        ("2222", False),
    ]
    assert answers[0].result.error_code is None
    assert (answers[1].result.error_code, answers[1].result.error_description) == (
        NOT_LINKED.error_code,
        NOT_LINKED.description,
    )
    (call,) = standin.calls_to(VALIDATE)
    assert call.headers["ms-contract-version"] == "v1"
    assert call.headers["x-locale"] == "en-US"
    assert answers[0].call.correlation_id == call.headers["ms-correlationid"]
    assert answers[0].call.request_id == call.headers["ms-requestid"]


async def test_a_token_is_reused_until_shortly_before_it_expires_then_refreshed_in_time(
    standin, make_client
):
    # Lifetime 2 s, margin capped at half of it: a new token after 1 s, never a 401.
    standin.token_lifetime_s = 2
    client = make_client(partner_center_token_margin_s=300)
    await client.validate_resellers("dist-a", ["1111"])
    await client.validate_resellers("dist-a", ["1111"])
    assert standin.calls[TOKEN] == 1

    await asyncio.sleep(1.1)
    await client.validate_resellers("dist-a", ["1111"])
    assert standin.calls[TOKEN] == 2
    assert standin.calls[VALIDATE] == 3  # no call was refused for an expired token


async def test_a_401_gets_one_fresh_token_and_one_retry_of_the_same_request(standin, make_client):
    client = make_client()
    await client.validate_resellers("dist-a", ["1111"])
    standin.expire_tokens()

    answers = await client.validate_resellers("dist-a", ["1111"])

    assert answers[0].result.is_valid_partner_id_on_record
    assert standin.calls[TOKEN] == 2
    _, refused, retried = standin.calls_to(VALIDATE)
    assert refused.tenant_id is None and retried.tenant_id == "tenant-a"
    assert refused.headers["ms-requestid"] == retried.headers["ms-requestid"]


async def test_revoked_credentials_end_in_authentication_failed_after_one_refresh(
    standin, make_client
):
    client = make_client()
    await client.validate_resellers("dist-a", ["1111"])
    standin.tenants["tenant-a"].client_secret = "rotated-by-an-admin"
    standin.expire_tokens()

    with pytest.raises(AuthenticationFailed, match="dist-a.*invalid_client") as failure:
        await client.validate_resellers("dist-a", ["1111"])

    assert "rotated-by-an-admin" not in str(failure.value)
    assert "secret-a" not in str(failure.value)
    assert standin.calls[TOKEN] == 2 and standin.calls[VALIDATE] == 2


async def test_a_429_holds_the_request_until_retry_after_has_passed(standin, make_client):
    client = make_client()
    standin.throttle(1, retry_after_s=0.4)

    answers = await client.validate_resellers("dist-a", ["1111"])

    assert answers[0].result.is_valid_partner_id_on_record
    throttled, retried = standin.calls_to(VALIDATE)
    assert retried.at - throttled.at >= 0.4
    assert throttled.headers["ms-requestid"] == retried.headers["ms-requestid"]


async def test_a_429_holds_back_the_distributors_other_calls_but_not_another_distributor(
    standin, make_client
):
    client = make_client()
    await client.validate_resellers("dist-a", ["1111"])  # tokens first, so timing is the API's
    await client.validate_resellers("dist-b", ["1111"])
    standin.received.clear()
    standin.throttle(1, retry_after_s=0.5)
    throttled = asyncio.create_task(client.validate_resellers("dist-a", ["1111"]))
    while not standin.received:
        await asyncio.sleep(0.01)
    throttled_at = standin.received[0].at

    await asyncio.gather(
        client.validate_resellers("dist-a", ["2222"]),
        client.validate_resellers("dist-b", ["2222"]),
        throttled,
    )

    later = standin.received[1:]
    b_at = next(c.at for c in later if c.tenant_id == "tenant-b")
    assert b_at - throttled_at < 0.4
    assert all(c.at - throttled_at >= 0.5 for c in later if c.tenant_id == "tenant-a")


async def test_throttling_longer_than_the_call_may_wait_raises_throttled_at_once(
    standin, make_client
):
    client = make_client(partner_center_max_throttle_wait_s=0.5)
    standin.throttle(1, retry_after_s=30)
    started = time.monotonic()

    with pytest.raises(Throttled, match="dist-a") as failure:
        await client.validate_resellers("dist-a", ["1111"])

    assert time.monotonic() - started < 1
    assert 29 < failure.value.retry_after_s <= 30
    assert standin.calls[VALIDATE] == 1


async def test_request_id_is_kept_across_retries_and_correlation_id_is_new_for_every_call(
    standin, make_client
):
    client = make_client()
    standin.fail(2)

    answers = await client.validate_resellers("dist-a", ["1111"])
    await client.validate_resellers("dist-a", ["1111"])

    first, second, third, fourth = request_ids(standin)
    assert first == second == third != fourth
    assert len(set(correlation_ids(standin))) == 4
    assert answers[0].call.correlation_id == correlation_ids(standin)[2]


async def test_server_errors_are_retried_then_raise_unavailable(standin, make_client):
    client = make_client(partner_center_max_attempts=3)
    standin.fail(10)
    retries = REGISTRY.get_sample_value(
        "porgate_partner_center_retries_total",
        {"distributor": "dist-a", "operation": "validate_resellers", "reason": "server_error"},
    )

    with pytest.raises(Unavailable, match="dist-a.*3 times.*HTTP 500") as failure:
        await client.validate_resellers("dist-a", ["1111"])

    assert not failure.value.breaker_open
    assert standin.calls[VALIDATE] == 3
    assert len(set(request_ids(standin))) == 1
    assert (
        REGISTRY.get_sample_value(
            "porgate_partner_center_retries_total",
            {"distributor": "dist-a", "operation": "validate_resellers", "reason": "server_error"},
        )
        == (retries or 0) + 2
    )


async def test_a_timeout_is_retried_with_the_same_request_id(standin, make_client):
    client = make_client(partner_center_timeout_s=0.3)
    await client.validate_resellers("dist-a", ["1111"])  # the token, outside the hang
    standin.hang(1, seconds=2)

    answers = await client.validate_resellers("dist-a", ["1111"])

    assert answers[0].result.is_valid_partner_id_on_record
    _, hung, retried = standin.calls_to(VALIDATE)
    assert hung.headers["ms-requestid"] == retried.headers["ms-requestid"]
    assert hung.headers["ms-correlationid"] != retried.headers["ms-correlationid"]


async def test_the_breaker_opens_after_the_threshold_fails_fast_and_half_opens_after_cooldown(
    standin, make_client
):
    client = make_client(
        partner_center_max_attempts=1,
        partner_center_breaker_threshold=3,
        partner_center_breaker_cooldown_s=0.5,
    )
    gauge = {"distributor": "dist-a"}
    standin.fail(100)
    for _ in range(3):
        with pytest.raises(Unavailable):
            await client.validate_resellers("dist-a", ["1111"])
    assert client.breaker_state("dist-a") is BreakerState.OPEN
    assert REGISTRY.get_sample_value("porgate_partner_center_breaker_state", gauge) == 2

    with pytest.raises(Unavailable, match="circuit open") as failure:
        await client.validate_resellers("dist-a", ["1111"])
    assert failure.value.breaker_open
    assert standin.calls[VALIDATE] == 3  # failing fast: nothing reached Partner Center
    standin.clear_faults()
    await client.validate_resellers("dist-b", ["1111"])  # another distributor is unaffected

    standin.fail(1)
    await asyncio.sleep(0.5)
    assert client.breaker_state("dist-a") is BreakerState.HALF_OPEN
    with pytest.raises(Unavailable):  # the trial call fails: open for another cool-down
        await client.validate_resellers("dist-a", ["1111"])
    assert client.breaker_state("dist-a") is BreakerState.OPEN
    assert standin.calls_to(VALIDATE)[-1].tenant_id == "tenant-a"

    await asyncio.sleep(0.5)
    answers = await client.validate_resellers("dist-a", ["1111"])
    assert answers[0].result.is_valid_partner_id_on_record
    assert client.breaker_state("dist-a") is BreakerState.CLOSED
    assert REGISTRY.get_sample_value("porgate_partner_center_breaker_state", gauge) == 0


async def test_no_more_calls_than_the_concurrency_limit_are_in_flight_per_distributor(
    standin, make_client
):
    client = make_client(partner_center_concurrency=2)
    standin.delay_s = 0.1

    await asyncio.gather(*(client.validate_resellers("dist-a", [str(n)]) for n in range(8)))

    assert standin.calls[VALIDATE] == 8
    assert standin.max_in_flight == 2


async def test_ids_go_in_batches_of_the_configured_size_and_come_back_in_the_order_asked(
    standin, make_client
):
    client = make_client(partner_center_batch_size=3)
    asked = ["7", "2222", "1111", "5", "2222", "6", "8", "9"]

    answers = await client.validate_resellers("dist-a", asked)

    assert [a.result.partner_id for a in answers] == ["7", "2222", "1111", "5", "6", "8", "9"]
    assert [a.result.is_valid_partner_id_on_record for a in answers][:3] == [False, False, True]
    batches = [call.headers["ms-requestid"] for call in standin.calls_to(VALIDATE)]
    assert len(batches) == 3 == len(set(batches))
    assert [a.call.request_id for a in answers] == [batches[i // 3] for i in range(7)]


async def test_every_page_of_indirect_resellers_is_read_through_the_continuation_token(
    standin, make_client
):
    standin.page_size = 2
    client = make_client()

    resellers = await client.indirect_resellers("dist-a", event_id="evt-sync")

    assert [r.id for r in resellers.items] == [f"ten-{n}" for n in range(5)]
    first = resellers.items[0]
    assert (first.relationship_type, first.state, first.mpn_id, first.location) == (
        "IsIndirectCloudSolutionProviderOf",
        "active",
        "1000",
        "DE",
    )
    pages = standin.calls_to(RELATIONSHIPS)
    assert len(pages) == 3 == len(resellers.calls)
    assert "ms-continuationtoken" not in pages[0].headers
    assert all(page.headers.get("ms-continuationtoken") for page in pages[1:])
    assert [c.correlation_id for c in resellers.calls] == [
        p.headers["ms-correlationid"] for p in pages
    ]


async def test_the_rotated_refresh_token_is_kept_for_the_next_app_user_token(standin, make_client):
    # The stand-in accepts each refresh token once: a second refresh with the file's token fails.
    standin.token_lifetime_s = 0.2
    client = make_client()
    await client.indirect_resellers("dist-a")
    await asyncio.sleep(0.25)
    await client.indirect_resellers("dist-a")

    assert standin.calls[TOKEN] == 2
    assert standin.calls[RELATIONSHIPS] == 2


async def test_a_distributor_without_credentials_gets_a_clear_error_and_sends_nothing(
    standin, make_client
):
    client = make_client()

    with pytest.raises(NotConfigured, match="dist-x: no Partner Center credentials"):
        await client.validate_resellers("dist-x", ["1111"])
    with pytest.raises(NotConfigured, match="dist-b: .*refreshToken"):
        await client.indirect_resellers("dist-b")

    assert sum(standin.calls.values()) == 0


async def test_a_distributor_only_ever_gets_answers_for_its_own_tenant(standin, make_client):
    client = make_client(partner_center_concurrency=3)
    standin.delay_s = 0.01
    asks = [("dist-a", "dist-b")[n % 2] for n in range(20)]

    answers = await asyncio.gather(*(client.validate_resellers(d, ["1111", "2222"]) for d in asks))

    expected = {"dist-a": [True, False], "dist-b": [False, True]}
    for distributor, answer in zip(asks, answers, strict=True):
        assert [a.result.is_valid_partner_id_on_record for a in answer] == expected[distributor]
    tenants_seen = [call.tenant_id for call in standin.calls_to(VALIDATE)]
    assert sorted(tenants_seen) == ["tenant-a"] * 10 + ["tenant-b"] * 10
    assert standin.calls[TOKEN] == 2


async def test_an_impatient_call_makes_one_attempt_and_waits_out_no_retry_after(
    standin, make_client
):
    client = make_client()
    standin.fail(1)
    with pytest.raises(Unavailable, match="1 times.*HTTP 500"):
        await client.validate_resellers("dist-a", ["1111"], patient=False)
    assert standin.calls[VALIDATE] == 1

    standin.throttle(1, retry_after_s=1.5)
    started = time.monotonic()
    with pytest.raises(Throttled) as failure:
        await client.validate_resellers("dist-a", ["1111"], patient=False)
    assert time.monotonic() - started < 1
    assert 0.5 < failure.value.retry_after_s <= 1.5
    assert standin.calls[VALIDATE] == 2
    # A patient call of the same distributor waits the Retry-After out, then gets its answer.
    answers = await client.validate_resellers("dist-a", ["1111"], patient=True)
    assert answers[0].result.is_valid_partner_id_on_record
    assert time.monotonic() - started >= 1.5


async def test_one_tenant_taken_down_answers_503_and_the_other_tenant_still_answers(
    standin, make_client
):
    client = make_client(partner_center_max_attempts=2)
    standin.take_down("tenant-a")
    with pytest.raises(Unavailable, match="HTTP 503"):
        await client.validate_resellers("dist-a", ["1111"])
    (answer,) = await client.validate_resellers("dist-b", ["2222"])
    assert answer.result.is_valid_partner_id_on_record
    standin.bring_up("tenant-a")
    (answer,) = await client.validate_resellers("dist-a", ["1111"])
    assert answer.result.is_valid_partner_id_on_record
