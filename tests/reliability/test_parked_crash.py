"""kill -9 por-validator while it drains the requests it parked for a distributor whose
Partner Center was down: the restarted process decides the rest, and every parked request is
decided exactly once, in order per transaction, with nothing lost and no second decision."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from services.partner_center.standin import PartnerCenterStandin, StandinTenant, serving
from tests.e2e import registry_data as R
from tests.reliability import world as W
from tests.reliability.harness import Kafka, eventually, fetch, fetchval, read_topic, tally
from tests.support import envelope

A, B, C = R.DIST, R.DIST_JA, "dist-us-1"
TENANTS = {A: "tenant-a", B: "tenant-b", C: "tenant-c"}
KEYS_A, EVENTS_PER_KEY, OTHERS = 1000, 3, 300


def request(key: str, distributor: str, n: int, pid: str) -> dict:
    return envelope(
        "por.validation.requested.v1",
        {
            "sourceEventId": f"src-{key}-{n}",
            "transactionKind": "new_order",
            "orderId": key,
            "distributorId": distributor,
            "customerId": "cust-42",
            "requestedAt": "2026-01-10T09:00:00Z",
            "lines": [{"lineItemId": "1", "partnerIdOnRecord": pid}],
        },
    )


async def decided_of(settings, distributor: str) -> int:
    return await fetchval(
        settings,
        "SELECT count(*) FROM por_validator.decisions WHERE distributor_id = $1",
        distributor,
    )


async def test_kill_9_mid_drain_then_each_parked_request_is_decided_once_in_order(
    migrated, procs, tmp_path
):
    settings = migrated
    # Slow enough that draining 3,000 requests, each with its own PLA id (30 calls of 100
    # ids), takes seconds: time to kill in the middle.
    standin = PartnerCenterStandin(
        {
            t: StandinTenant(client_id=f"client-{t}", client_secret=f"secret-{t}")
            for t in TENANTS.values()
        },
        delay_s=0.15,
    )
    credentials = tmp_path / "partner-center.json"
    credentials.write_text(
        json.dumps(
            {
                d: {"tenantId": t, "clientId": f"client-{t}", "clientSecret": f"secret-{t}"}
                for d, t in TENANTS.items()
            }
        )
    )
    sent: dict[str, list[str]] = defaultdict(list)
    requests: list[tuple[str, dict]] = []
    for n in range(EVENTS_PER_KEY):
        for i in range(KEYS_A):
            key = f"a-{i}"
            requests.append((key, request(key, A, n, str(3_000_000 + n * KEYS_A + i))))
            if i < OTHERS // EVENTS_PER_KEY:
                for d in (B, C):
                    other = f"{d[5:7]}-{n}-{i}"
                    requests.append((other, request(other, d, 0, R.VALID)))
    for key, event in requests:
        sent[key].append(event["data"]["sourceEventId"])
    total = len(requests)
    held = sum(1 for k, _ in requests if k.startswith("a-"))

    async with serving(standin) as url, Kafka(settings) as kafka:
        env = {
            "por_authority": "partner-center",
            "partner_center_unavailable": "wait",
            "partner_center_url": url,
            "entra_authority_url": url,
            "partner_center_credentials_file": str(credentials),
            "partner_center_retry_initial_s": 0.01,
            "partner_center_retry_max_s": 0.05,
            "partner_center_timeout_s": 2,
            "partner_center_max_wait_s": 0.5,
            "partner_center_breaker_cooldown_s": 0.2,
            "partner_center_park_after_s": 1,
        }
        validator = procs.spawn("por-validator", **env)
        us = envelope(
            "csp.distributor.upserted.v1", {"distributorId": C, "name": "US", "country": "US"}
        )
        await kafka.send_many(W.REGISTRY, [*W.registry(), (C, us)])

        async def loaded():
            return (
                await fetchval(settings, "SELECT count(*) FROM por_validator.partner_accounts") >= 8
            )

        await eventually(loaded, 60, what="registry loaded", describe=procs.report)

        standin.take_down(TENANTS[A])
        await kafka.send_many(W.REQUESTS, requests)

        async def others_decided_and_a_parked():
            parked = await fetchval(settings, "SELECT count(*) FROM por_validator.parked_requests")
            others = await decided_of(settings, B) + await decided_of(settings, C)
            return others == total - held and parked == held

        await eventually(
            others_decided_and_a_parked, 90, what="B and C decided, A parked", describe=procs.report
        )
        assert await decided_of(settings, A) == 0

        standin.bring_up(TENANTS[A])

        async def mid_drain():
            n = await decided_of(settings, A)
            return 500 <= n <= held - 500 and n

        at_kill = await eventually(
            mid_drain, 60, interval=0.05, what="the drain half way", describe=procs.report
        )
        validator.kill()
        await asyncio.sleep(1.0)
        validator.start()

        async def all_decided():
            return (
                await fetchval(settings, "SELECT count(*) FROM por_validator.decisions") == total
                and await fetchval(settings, "SELECT count(*) FROM por_validator.parked_requests")
                == 0
            )

        await eventually(all_decided, 120, what="every request decided", describe=procs.report)
        records = await read_topic(
            settings,
            W.DECISIONS,
            lambda rs: len({json.loads(r.value)["data"]["decisionId"] for r in rs}) >= total,
            timeout=60,
            settle=2.0,
        )
        procs.check_alive()

    rows = await fetch(settings, "SELECT order_id, source_event_id FROM por_validator.decisions")
    assert len(rows) == len({r["source_event_id"] for r in rows}) == total
    per_key: dict[str, int] = defaultdict(int)
    for r in rows:
        per_key[r["order_id"]] += 1
    assert per_key == {k: len(v) for k, v in sent.items()}

    decisions = [json.loads(r.value)["data"] for r in records]
    distinct = {d["decisionId"] for d in decisions}
    assert len(distinct) == total, "a request decided twice, or one missing"
    first_seen: dict[str, list[str]] = defaultdict(list)
    for d in decisions:  # a copy (the same decision sent again after the kill) counts once
        if d["sourceEventId"] not in first_seen[d["orderId"]]:
            first_seen[d["orderId"]].append(d["sourceEventId"])
    out_of_order = [k for k, v in sent.items() if first_seen[k] != v]
    assert not out_of_order, f"decided out of order: {out_of_order[:5]}"
    assert {d["authority"] for d in decisions if d["distributorId"] == A} == {"partner_center"}
    tally(
        **{
            "events pushed": total,
            "faults injected": 2,  # the outage and the kill
            "parked requests decided after a kill -9": held,
            "decision copies (same id, sent again)": len(decisions) - len(distinct),
        }
    )
    print(f"killed with {at_kill} of {held} parked requests decided")
