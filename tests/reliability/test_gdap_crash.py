"""kill -9 gdap-revoker between Graph's acceptance of its terminate requests and their
confirmation: the restarted process resumes tracking the same requests (it asks for none
again) and publishes each revocation once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from services.graph import standin
from tests.e2e.test_gdap_graph import discovered
from tests.reliability import world as W
from tests.reliability.harness import Kafka, eventually, fetch, read_topic, tally

DIST, TENANT = "dist-eu-1", "tenant-dist-eu-1"
RELS = [f"rel-k{i}" for i in range(3)]


async def states(settings) -> dict[str, str]:
    rows = await fetch(settings, "SELECT relationship_id, state FROM gdap_revoker.terminations")
    return {r["relationship_id"]: r["state"] for r in rows}


async def test_kill_9_between_a_terminate_request_and_its_confirmation_then_revoked_once(
    migrated, procs, tmp_path
):
    settings = migrated
    graph = standin.GraphStandin({TENANT: standin.GraphTenant("app-eu", "s-eu")}, reads_to_settle=3)
    for i, rid in enumerate(RELS):
        graph.tenants[TENANT].add(standin.relationship_json(rid, f"cust-{i}"))
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({DIST: {"tenantId": TENANT, "clientId": "app-eu",
                                        "clientSecret": "s-eu"}}))  # fmt: skip
    registry = [W.tenant("ten-k")] + [
        discovered(rid, f"cust-{i}", "ten-k") for i, rid in enumerate(RELS)
    ]
    async with standin.serving(graph) as base, Kafka(settings) as kafka:
        env = {
            "gdap_gateway": "graph",
            "graph_base_url": base,
            "entra_authority_url": base,
            "partner_center_credentials_file": str(creds),
            "graph_timeout_s": 1,
            # The first read of a request comes 2 s after it: time to kill in between.
            "graph_poll_initial_s": 2,
            "graph_poll_max_s": 2,
            "delivery_lease_margin_s": 1,
        }
        revoker = procs.spawn("gdap-revoker", **env)
        for event in registry:
            await kafka.send(W.REGISTRY, event, key=event["data"].get("relationshipId", "ten-k"))

        async def loaded():
            rows = await fetch(
                settings, "SELECT count(*) AS n FROM gdap_revoker.gdap_relationships"
            )
            return rows[0]["n"] == len(RELS)

        await eventually(loaded, 60, what="the relationships projected")
        await kafka.send(W.REGISTRY, W.tenant("ten-k", "suspended"), key="ten-k")

        async def requested():
            now = await states(settings)
            return len(now) == len(RELS) and set(now.values()) == {"requested"} and now

        await eventually(requested, 30, interval=0.05, what="every terminate request accepted")
        revoker.kill()
        at_kill = (graph.calls["terminate"], graph.calls["request"], await states(settings))
        await asyncio.sleep(1.0)
        revoker.start()

        async def settled():
            now = await states(settings)
            return set(now.values()) == {"terminated"} and now

        await eventually(settled, 60, what="every termination confirmed after the restart")
        records = await read_topic(
            settings, "gdap.revocations.v1", lambda rs: len(rs) >= 3, 30, 2.0
        )
    tally(**{"events pushed": len(registry) + 1, "faults injected": 1})
    assert at_kill == (len(RELS), 0, dict.fromkeys(RELS, "requested"))  # killed before any read
    assert graph.calls["terminate"] == len(RELS)  # the requests were followed, not made again
    events = [json.loads(r.value) for r in records]
    assert Counter(e["data"]["relationshipId"] for e in events) == dict.fromkeys(RELS, 1)
    assert {e["type"] for e in events} == {"gdap.privileges.revoked.v1"}
    assert {e["data"]["confirmedBy"] for e in events} == {"request_succeeded"}
    assert all(graph.status(rid) == "terminated" for rid in RELS)
