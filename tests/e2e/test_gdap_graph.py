"""gdap-revoker against the Graph stand-in, on the real broker and PostgreSQL: a revocation is
published only when Graph confirms it, and what Graph refuses is retried and surfaced."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path

from services.common.db import create_pool
from services.gdap_revoker import store
from services.graph import standin
from services.settings import Settings
from tests.e2e.test_gdap import REVOCATIONS, fetch, processed, send, tenant
from tests.support import Bus, envelope, eventually, running

DIST = "dist-eu-1"
GRAPH_TENANT = "tenant-dist-eu-1"
SERVICES = ["gdap-revoker"]


def discovered(rid: str, customer: str, tid: str, status: str = "active") -> dict:
    """A relationship as the GDAP sync publishes it: in the distributor's Graph list."""
    return envelope(
        "csp.gdap-relationship.upserted.v1",
        {
            "relationshipId": rid,
            "customerId": customer,
            "resellerTenantId": tid,
            "roles": ["62e90394-69f5-4237-9190-012177145e10"],
            "status": status,
            "distributorId": DIST,
        },
    )


def credentials_file(tmp_path: Path) -> str:
    path = tmp_path / "credentials.json"
    path.write_text(
        json.dumps({DIST: {"tenantId": GRAPH_TENANT, "clientId": "app-eu", "clientSecret": "s-eu"}})
    )
    return str(path)


def graph_settings(settings: Settings, base: str, tmp_path: Path, **extra) -> Settings:
    return settings.model_copy(
        update={
            "gdap_gateway": "graph",
            "graph_base_url": base,
            "entra_authority_url": base,
            "partner_center_credentials_file": credentials_file(tmp_path),
            "graph_timeout_s": 5.0,
            "graph_poll_initial_s": 0.05,
            "graph_poll_max_s": 0.2,
            **extra,
        }
    )


def graph_world(reads_to_settle: int = 3) -> standin.GraphStandin:
    return standin.GraphStandin(
        {GRAPH_TENANT: standin.GraphTenant("app-eu", "s-eu")}, reads_to_settle=reads_to_settle
    )


@contextlib.asynccontextmanager
async def serving(graph: standin.GraphStandin):
    async with standin.serving(graph) as base:
        yield base


async def revocation_events(bus: Bus, settle: float = 2.0, count: int = 1) -> list[dict]:
    records = await bus.read(
        REVOCATIONS,
        lambda rs: (
            sum(json.loads(r.value)["type"] == "gdap.privileges.revoked.v1" for r in rs) >= count
        ),
        timeout=30,
        settle=settle,
    )
    return [json.loads(r.value) for r in records]


async def test_graph_confirms_each_revocation_and_what_it_refuses_is_retried_then_surfaced(
    migrated, tmp_path
):
    """One suspension, five relationships, each a case:
    - rel-ok: active; terminated, its request read back until it succeeds: revoked once;
    - rel-new: created (never approved): deleted with its ETag, then absent: revoked;
    - rel-gone: in the ledger but no longer in the distributor's list: revoked as absent;
    - rel-fail: Graph's requests for it fail: never revoked, retried, then failed for good,
      announced on the topic and listed for `porgate gdap failed`;
    - rel-hidden: Graph answers 404 but the distributor's list still shows it active: not
      revoked (a 404 alone is what a wrong URL or tenant would answer too)."""
    graph = graph_world(reads_to_settle=3)
    world = graph.tenants[GRAPH_TENANT]
    for rid, customer, status in [
        ("rel-ok", "cust-1", "active"),
        ("rel-new", "cust-2", "created"),
        ("rel-fail", "cust-3", "active"),
        ("rel-hidden", "cust-4", "active"),
    ]:
        world.add(standin.relationship_json(rid, customer, status))
    graph.failing.add("rel-fail")
    graph.hidden.add("rel-hidden")
    setup = [
        tenant("ten-a"),
        *(
            discovered(rid, c, "ten-a", s)
            for rid, c, s in [
                ("rel-ok", "cust-1", "active"),
                ("rel-new", "cust-2", "created"),
                ("rel-gone", "cust-5", "active"),
                ("rel-fail", "cust-3", "active"),
                ("rel-hidden", "cust-4", "active"),
            ]
        ),
    ]
    async with serving(graph) as base:
        settings = graph_settings(migrated, base, tmp_path, graph_max_attempts=2)
        pool = await create_pool(settings.database_url, store.SCHEMA)
        try:
            async with Bus(settings) as bus, running(settings, SERVICES):
                await send(bus, *setup)
                await processed(settings, *setup)
                suspension = tenant("ten-a", "suspended")
                await send(bus, suspension)

                async def settled():
                    rows = await fetch(
                        settings, "SELECT relationship_id, state FROM gdap_revoker.terminations"
                    )
                    states = {r["relationship_id"]: r["state"] for r in rows}
                    return (
                        len(states) == 5
                        and "pending" not in states.values()
                        and ("requested" not in states.values())
                        and states
                    )

                states = await eventually(settled, timeout=60, what="every termination settled")
                events = await revocation_events(bus, count=3)
                failed = await store.failed_terminations(pool)
        finally:
            await pool.close()

    assert states == {
        "rel-ok": "terminated",
        "rel-new": "terminated",
        "rel-gone": "terminated",
        "rel-fail": "failed",
        "rel-hidden": "failed",
    }
    revoked = [e for e in events if e["type"] == "gdap.privileges.revoked.v1"]
    assert Counter(e["data"]["relationshipId"] for e in revoked) == {
        "rel-ok": 1,
        "rel-new": 1,
        "rel-gone": 1,
    }
    assert {e["data"]["relationshipId"]: e["data"]["confirmedBy"] for e in revoked} == {
        "rel-ok": "request_succeeded",
        "rel-new": "deleted",
        "rel-gone": "absent",
    }
    assert all(e["data"]["causeEventId"] == suspension["id"] for e in revoked)
    # Graph's own state: terminated after several reads of the request, the created one gone.
    assert graph.status("rel-ok") == "terminated" and graph.status("rel-new") is None
    assert graph.calls["request"] >= 3 + 2 * 3  # rel-ok's reads, rel-fail's per attempt
    # The failures: on the topic for the notifier, and for `porgate gdap failed`.
    failures = {
        e["data"]["relationshipId"]: e["data"]
        for e in events
        if e["type"] == "gdap.termination.failed.v1"
    }
    assert set(failures) == {"rel-fail", "rel-hidden"}
    assert failures["rel-fail"]["distributorId"] == DIST
    assert failures["rel-fail"]["attempts"] == 2
    assert (
        "request" in failures["rel-fail"]["lastError"]
        and "failed" in failures["rel-fail"]["lastError"]
    )
    assert "404" in failures["rel-hidden"]["lastError"]
    assert {r["relationship_id"] for r in failed} == {"rel-fail", "rel-hidden"}
    assert graph.status("rel-fail") == "active" and graph.status("rel-hidden") == "active"


async def test_a_failed_termination_retried_after_the_cause_is_fixed_is_revoked_once(
    migrated, tmp_path
):
    graph = graph_world(reads_to_settle=2)
    graph.tenants[GRAPH_TENANT].add(standin.relationship_json("rel-1", "cust-1"))
    graph.failing.add("rel-1")
    setup = [tenant("ten-b"), discovered("rel-1", "cust-1", "ten-b")]
    async with serving(graph) as base:
        settings = graph_settings(migrated, base, tmp_path, graph_max_attempts=1)
        pool = await create_pool(settings.database_url, store.SCHEMA)
        try:
            async with Bus(settings) as bus, running(settings, SERVICES):
                await send(bus, *setup)
                await processed(settings, *setup)
                await send(bus, tenant("ten-b", "suspended"))

                async def failed():
                    return [r["relationship_id"] for r in await store.failed_terminations(pool)]

                assert await eventually(failed, timeout=30) == ["rel-1"]
                graph.failing.clear()  # the distributor fixed the cause
                assert await store.retry_failed(pool, "rel-1") == 1  # `porgate gdap retry`
                events = await revocation_events(bus, settle=2.0)
        finally:
            await pool.close()
    types = Counter((e["type"], e["data"]["relationshipId"]) for e in events)
    assert types == {
        ("gdap.termination.failed.v1", "rel-1"): 1,
        ("gdap.privileges.revoked.v1", "rel-1"): 1,
    }
    assert graph.status("rel-1") == "terminated"
