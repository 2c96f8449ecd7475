"""GDAP discovery on the real broker and PostgreSQL, from the Graph stand-in (with the Partner
Center stand-in inside it, naming each customer's indirect reseller): `porgate sync gdap`
publishes what changed once and nothing on a rerun; run as a service next to gdap-revoker,
a relationship that turns active for a suspended reseller is then terminated."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from services.graph import standin
from services.partner_center.standin import PartnerCenterStandin, StandinTenant
from services.settings import Settings
from tests.e2e.test_gdap import fetch, processed, send, tenant
from tests.e2e.test_gdap_graph import discovered, revocation_events
from tests.support import Bus, eventually, read_topic, running

REGISTRY = "csp.partner-registry.v1"
DIST, TENANT, APP, SECRET, RT = "dist-eu-1", "tenant-dist-eu-1", "app-eu", "s-eu", "rt-eu"


def world() -> standin.GraphStandin:
    """The distributor's Graph list: two relationships it created for resellers (one whose
    customer has two resellers, so it cannot be attributed) and one of its own."""
    pc = PartnerCenterStandin(
        {
            TENANT: StandinTenant(
                APP,
                SECRET,
                refresh_token=RT,
                customer_resellers={"cust-1": ["ten-a"], "cust-2": ["ten-b", "ten-c"]},
            )
        }
    )
    graph = standin.GraphStandin(
        {TENANT: standin.GraphTenant(APP, SECRET)}, page_size=2, partner_center=pc
    )
    rels = graph.tenants[TENANT]
    rels.add(standin.relationship_json("rel-1", "cust-1", indirect_provider_tenant_id=TENANT))
    rels.add(standin.relationship_json("rel-2", "cust-2", indirect_provider_tenant_id=TENANT))
    rels.add(standin.relationship_json("rel-own", "cust-9"))
    return graph


def credentials(tmp_path: Path) -> Path:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({DIST: {"tenantId": TENANT, "clientId": APP,
                                       "clientSecret": SECRET, "refreshToken": RT}}))  # fmt: skip
    return path


def sync_cli(graph: standin.GraphStandin, settings: Settings, base: str, creds: Path, *args):
    # The stand-in accepts a refresh token once; a new process starts from the configured one.
    graph.partner_center.tenants[TENANT].refresh_token = RT
    env = {
        **os.environ,
        "PORGATE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "PORGATE_DATABASE_URL": settings.database_url,
        "PORGATE_TOPIC_PREFIX": settings.topic_prefix,
        "PORGATE_GRAPH_BASE_URL": base,
        "PORGATE_PARTNER_CENTER_URL": base,
        "PORGATE_ENTRA_AUTHORITY_URL": base,
        "PORGATE_PARTNER_CENTER_CREDENTIALS_FILE": str(creds),
        "PORGATE_LOG_LEVEL": "CRITICAL",
    }
    return asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "sync", "gdap", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def upserts(settings: Settings, count: int, settle: float) -> list[dict]:
    records = await read_topic(settings, REGISTRY, lambda rs: len(rs) >= count, 30, settle)
    return [json.loads(r.value) | {"key": r.key.decode()} for r in records]


async def test_sync_gdap_publishes_what_changed_once_and_a_rerun_publishes_nothing(
    migrated, tmp_path
):
    graph = world()
    graph.throttle(calls=1, retry_after_s=0.2)  # the first page: 429, waited out
    creds = credentials(tmp_path)
    async with standin.serving(graph) as base:
        dry = await sync_cli(graph, migrated, base, creds, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        (line,) = dry.stdout.splitlines()
        assert json.loads(line)["event"]["data"]["relationshipId"] == "rel-1"

        first = await sync_cli(graph, migrated, base, creds)
        assert first.returncode == 0, first.stderr
        assert "not published: rel-2: Partner Center lists 2 indirect resellers" in first.stderr
        assert "1 upsert(s) published" in first.stderr
        (published,) = await upserts(migrated, 1, settle=0.0)

        again = await sync_cli(graph, migrated, base, creds, "--distributor", DIST)
        assert again.returncode == 0, again.stderr
        assert "0 upsert(s) published" in again.stderr
        records = await upserts(migrated, 1, settle=2.0)
    assert records == [published]  # the dry run and the rerun published nothing
    assert published["key"] == "rel-1" and published["type"] == "csp.gdap-relationship.upserted.v1"
    assert published["data"] == {
        "relationshipId": "rel-1",
        "customerId": "cust-1",
        "resellerTenantId": "ten-a",
        "roles": ["62e90394-69f5-4237-9190-012177145e10"],
        "status": "active",
        "endsAt": None,
        "distributorId": DIST,
    }
    # Three relationships at two a page: two pages a sync, plus the throttled first call;
    # Partner Center asked once per sync that met a new relationship's customer.
    assert graph.calls["list"] == 3 * 2 + 1
    assert graph.partner_center.calls["customer-relationships"] >= 2


async def test_a_relationship_that_turns_active_for_a_suspended_reseller_is_terminated_once(
    migrated, tmp_path
):
    """The registry said `created` when the reseller was suspended, but Graph already read
    approvalPending: neither terminable nor deletable, so the termination failed for good.
    Once the scheduled sync sees it active, that failed termination starts over."""
    graph = world()
    graph.tenants[TENANT].relationships["rel-1"]["status"] = "approvalPending"
    settings = migrated.model_copy(
        update={
            "gdap_gateway": "graph",
            "graph_base_url": "",
            "partner_center_credentials_file": str(credentials(tmp_path)),
            "graph_max_attempts": 1,
            "graph_poll_initial_s": 0.05,
            "graph_poll_max_s": 0.2,
            "gdap_sync_every": 1.0,
        }
    )
    async with standin.serving(graph) as base:
        settings = settings.model_copy(
            update={
                "graph_base_url": base,
                "partner_center_url": base,
                "entra_authority_url": base,
            }
        )
        async with Bus(settings) as bus, running(settings, ["gdap-revoker"]):
            setup = [tenant("ten-a"), discovered("rel-1", "cust-1", "ten-a", "created")]
            await send(bus, *setup)
            await processed(settings, *setup)
            await send(bus, tenant("ten-a", "suspended"))

            async def failed():
                rows = await fetch(
                    settings,
                    "SELECT state FROM gdap_revoker.terminations WHERE relationship_id = 'rel-1'",
                )
                return rows and rows[0]["state"] == "failed"

            await eventually(failed, timeout=30, what="the termination failed for good")
            async with running(settings, ["partner-center-sync"]):

                async def synced_pending():
                    rows = await fetch(
                        settings,
                        "SELECT status FROM gdap_revoker.gdap_relationships WHERE relationship_id = 'rel-1'",
                    )
                    return rows and rows[0]["status"] == "approvalPending"

                await eventually(
                    synced_pending, timeout=30, what="the sync published approvalPending"
                )
                graph.set_status("rel-1", "active")  # the customer approved it
                events = await revocation_events(bus, count=1, settle=2.0)
    kinds = Counter((e["type"], e["data"]["relationshipId"]) for e in events)
    assert kinds == {
        ("gdap.termination.failed.v1", "rel-1"): 1,
        ("gdap.privileges.revoked.v1", "rel-1"): 1,
    }
    assert graph.status("rel-1") == "terminated"
