"""One distributor's Partner Center down in `wait` mode holds only that distributor's
transactions: the others' are decided meanwhile, the held ones keep their order per key and
are each decided exactly once after recovery. por-validator on the real broker and
PostgreSQL; the Partner Center stand-in answers 503 to one distributor's tenant."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import defaultdict

import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.partner_center.standin import (
    VALIDATE,
    PartnerCenterStandin,
    StandinTenant,
    Verdict,
    serving,
)
from services.por_validator import drain
from services.settings import Settings
from tests.e2e import registry_data as R
from tests.e2e.test_orders import load_registry, registry_loaded
from tests.support import Bus, envelope, eventually, running

A, B, C = R.DIST, R.DIST_JA, "dist-us-1"
TENANTS = {A: "tenant-a", B: "tenant-b", C: "tenant-c"}
REQUESTS, DECISIONS = "por.validation-requests.v1", "por.decisions.v1"


@pytest.fixture
async def standin():
    s = PartnerCenterStandin(
        {
            tenant: StandinTenant(
                client_id=f"client-{tenant}",
                client_secret=f"secret-{tenant}",
                registry={R.VALID: Verdict(True)},
            )
            for tenant in TENANTS.values()
        }
    )
    async with serving(s) as url:
        yield s, url


@pytest.fixture
def isolation_settings(migrated: Settings, standin, tmp_path) -> Settings:
    _, url = standin
    credentials = tmp_path / "partner-center.json"
    credentials.write_text(
        json.dumps(
            {
                d: {"tenantId": t, "clientId": f"client-{t}", "clientSecret": f"secret-{t}"}
                for d, t in TENANTS.items()
            }
        )
    )
    return migrated.model_copy(
        update={
            "por_authority": "partner-center",
            "partner_center_unavailable": "wait",
            "partner_center_url": url,
            "entra_authority_url": url,
            "partner_center_credentials_file": str(credentials),
            "partner_center_retry_initial_s": 0.01,
            "partner_center_retry_max_s": 0.05,
            "partner_center_timeout_s": 1.0,
            "partner_center_max_wait_s": 0.5,
            "partner_center_breaker_cooldown_s": 0.2,
            "partner_center_park_after_s": 1.0,
        }
    )


def request(key: str, distributor: str, n: int) -> dict:
    """A validation request of transaction `key`; `n` tells its events apart, in order."""
    return envelope(
        "por.validation.requested.v1",
        {
            "sourceEventId": f"src-{key}-{n}",
            "transactionKind": "new_order",
            "orderId": key,
            "distributorId": distributor,
            "customerId": "cust-42",
            "requestedAt": "2026-01-10T09:00:00Z",
            "lines": [{"lineItemId": "1", "partnerIdOnRecord": R.VALID}],
        },
    )


def by_key(decisions: list[dict]) -> dict[str, list[str]]:
    """Each transaction's decided source events, in the order their decisions came."""
    out: dict[str, list[str]] = defaultdict(list)
    for d in decisions:
        out[d["data"]["orderId"]].append(d["data"]["sourceEventId"])
    return out


async def test_one_distributor_down_holds_only_its_own_orders_which_keep_their_order_and_are_decided_once(
    isolation_settings, standin
):
    pc, _ = standin
    settings = isolation_settings
    async with Bus(settings) as bus, running(settings, ["por-validator"]) as runtimes:
        validator = next(r for r in runtimes if r.service.name == "por-validator")
        await load_registry(bus)
        await bus.send(
            "csp.partner-registry.v1",
            envelope(
                "csp.distributor.upserted.v1",
                {"distributorId": C, "name": "US Dist", "country": "US"},
            ),
            key=C,
        )
        await registry_loaded(settings, 8)

        pc.take_down(TENANTS[A])
        # A's transactions get three events each, interleaved with B's and C's one each.
        sent: dict[str, list[str]] = defaultdict(list)
        for n in range(3):
            for i in range(6):
                for key, distributor in ((f"a-{i}", A), (f"b-{n}-{i}", B), (f"c-{n}-{i}", C)):
                    event = request(key, distributor, n)
                    sent[key].append(event["data"]["sourceEventId"])
                    await bus.send(REQUESTS, event, key=key)
        held = {k for k in sent if k.startswith("a-")}
        others = set(sent) - held

        decided = await bus.events(DECISIONS, len(others), settle=1.0)
        assert {d["data"]["orderId"] for d in decided} == others, "only B's and C's are decided"
        assert {d["data"]["authority"] for d in decided} == {"partner_center"}

        async def degraded():
            return validator.service.degraded()

        assert list(await eventually(degraded, what="degraded")) == [f"partner-center:{A}"]
        assert await _parked(settings) == {A: 18}
        await eventually(lambda: _gauge(A, 18), what="the parked gauge")
        # The drain probes; the batches do not: far fewer calls than A's requests.
        calls_down = len([c for c in pc.calls_to(VALIDATE) if c.tenant_id == TENANTS[A]])
        assert calls_down < 18

        # A recovers; one more event of a held transaction comes meanwhile.
        pc.bring_up(TENANTS[A])
        late = request("a-0", A, 3)
        sent["a-0"].append(late["data"]["sourceEventId"])
        await bus.send(REQUESTS, late, key="a-0")

        everything = await bus.events(DECISIONS, len(others) + 19, timeout=60, settle=1.5)
        decisions = by_key(everything)
        for key in held:
            assert decisions[key] == sent[key], f"{key}: decided out of order or not once"
        assert all(decisions[k] == sent[k] for k in others)
        assert len({d["data"]["decisionId"] for d in everything}) == len(everything)

        await eventually(lambda: _empty_queue(settings), what="the parked queue drained")
        await eventually(lambda: _gauge(A, 0), what="the parked gauge back at 0")
        await eventually(lambda: _not(validator.service.degraded()), what="recovered")
        rows = await _fetch(
            settings,
            "SELECT order_id, count(*) AS n FROM por_validator.decisions GROUP BY order_id",
        )
        assert {r["order_id"]: r["n"] for r in rows} == {k: len(v) for k, v in sent.items()}

        # Recovered: A's new transactions are decided directly again, none parked.
        parked_so_far = await _fetch(
            settings, "SELECT last_value FROM por_validator.parked_requests_seq_seq"
        )
        fresh = request("a-new", A, 0)
        await bus.send(REQUESTS, fresh, key="a-new")
        after = by_key(await bus.events(DECISIONS, len(everything) + 1, timeout=30))
        assert after["a-new"] == [fresh["data"]["sourceEventId"]]
        assert (
            await _fetch(settings, "SELECT last_value FROM por_validator.parked_requests_seq_seq")
            == parked_so_far
        )


async def _parked(settings: Settings) -> dict[str, int]:
    rows = await _fetch(
        settings,
        "SELECT distributor_id, count(*) AS n FROM por_validator.parked_requests"
        " GROUP BY distributor_id",
    )
    return {r["distributor_id"]: r["n"] for r in rows}


async def _empty_queue(settings: Settings) -> bool:
    return await _parked(settings) == {}


async def _gauge(distributor: str, value: float) -> bool:
    sample = REGISTRY.get_sample_value(
        "porgate_partner_center_parked_requests", {"distributor": distributor}
    )
    return sample == value


async def _not(value) -> bool:
    return not value


async def _fetch(settings: Settings, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


async def test_a_throttled_distributor_is_parked_and_decided_after_retry_after_once(
    isolation_settings, standin
):
    pc, _ = standin
    settings = isolation_settings
    async with Bus(settings) as bus, running(settings, ["por-validator"]):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        await bus.send(REQUESTS, request("b-warm", B, 0), key="b-warm")  # B's token first
        await bus.events(DECISIONS, 1)
        pc.throttle(calls=1, retry_after_s=1.5)  # A's first call
        started = asyncio.get_running_loop().time()
        await bus.send(REQUESTS, request("a-1", A, 0), key="a-1")
        await bus.send(REQUESTS, request("b-1", B, 0), key="b-1")
        # B's order does not wait for A's Retry-After.
        early = await bus.read(DECISIONS, lambda rs: any(r.key == b"b-1" for r in rs))
        assert asyncio.get_running_loop().time() - started < 1.5
        assert b"a-1" not in {r.key for r in early}
        decided = await bus.events(DECISIONS, 3, timeout=30, settle=0.5)
        assert [d["data"]["orderId"] for d in decided].count("a-1") == 1
        a_calls = [c for c in pc.calls_to(VALIDATE) if c.tenant_id == TENANTS[A]]
        # One 429 and one call after its Retry-After, not one per request or per batch.
        assert len(a_calls) == 2
        assert a_calls[1].at - a_calls[0].at >= 1.5
        assert asyncio.get_running_loop().time() - started >= 1.5


async def test_decisions_committed_but_not_published_are_published_once_by_the_next_drain(
    isolation_settings, standin, monkeypatch
):
    pc, _ = standin
    settings = isolation_settings
    publish = drain.Drain._publish
    interrupted: list[int] = []

    async def interrupted_once(self, conn, rows):
        if rows and not interrupted:
            # As a crash between the drain's commit and its publishing would leave it.
            interrupted.append(len(rows))
            raise RuntimeError("stopped between commit and publish")
        await publish(self, conn, rows)

    monkeypatch.setattr(drain.Drain, "_publish", interrupted_once)
    async with Bus(settings) as bus, running(settings, ["por-validator"]):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        pc.take_down(TENANTS[A])
        sent: dict[str, list[str]] = defaultdict(list)
        for n in range(3):
            for i in range(4):
                event = request(f"a-{i}", A, n)
                sent[f"a-{i}"].append(event["data"]["sourceEventId"])
                await bus.send(REQUESTS, event, key=f"a-{i}")
        await eventually(lambda: _parked_is(settings, {A: 12}), what="A's requests parked")
        pc.bring_up(TENANTS[A])

        decided = await bus.events(DECISIONS, 12, timeout=60, settle=1.5)
        assert interrupted == [12]
        assert by_key(decided) == sent
        assert len({d["data"]["decisionId"] for d in decided}) == 12
        await eventually(lambda: _empty_queue(settings), what="the parked queue drained")


async def _parked_is(settings: Settings, expected: dict[str, int]) -> bool:
    return await _parked(settings) == expected


async def test_a_parked_request_that_can_never_be_decided_is_dead_lettered_as_it_came_and_the_queue_goes_on(
    isolation_settings, standin
):
    pc, _ = standin
    settings = isolation_settings.model_copy(update={"poison_attempts": 2})
    async with Bus(settings) as bus, running(settings, ["por-validator"]):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        pc.take_down(TENANTS[A])
        poison = request("a-poison", A, 0)
        # Parks like any request; deciding it fails for good (its sourceEventId is too long
        # for the decisions' index, even compressed), in the chunk and then on its own.
        poison["data"]["sourceEventId"] = secrets.token_hex(4000)
        sent = [request("a-0", A, 0), poison, request("a-1", A, 0), request("a-0", A, 1)]
        for event in sent:
            await bus.send(REQUESTS, event, key=event["data"]["orderId"])
        await eventually(lambda: _parked_is(settings, {A: 4}), what="A's requests parked")
        pc.bring_up(TENANTS[A])

        decided = await bus.events(DECISIONS, 3, timeout=60, settle=1.0)
        dead = await bus.read("por.dlq.v1", lambda rs: len(rs) >= 1, timeout=30, settle=0.5)
        await eventually(lambda: _empty_queue(settings), what="the parked queue drained")
    assert by_key(decided) == {"a-0": ["src-a-0-0", "src-a-0-1"], "a-1": ["src-a-1-0"]}
    [letter] = dead
    headers = {k: v.decode() for k, v in letter.headers}
    assert json.loads(letter.value) == poison  # the original bytes, as they came
    assert letter.key == b"a-poison"
    assert headers["x-dlq-source-topic"] == REQUESTS
    assert (
        headers["x-dlq-consumer-group"] == settings.topic_prefix + "porgate.por-validator.requests"
    )
    assert int(headers["x-dlq-source-offset"]) >= 0
    assert headers["x-dlq-error"].startswith("processing failed after 2 attempts")
    assert "index row size" in headers["x-dlq-error"]
