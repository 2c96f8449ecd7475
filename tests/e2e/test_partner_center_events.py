"""Partner Center's webhook events on the real servers: the API verifies them, partner-center-sync
reads what they name (Graph, Partner Center) and publishes that, gdap-revoker confirms with
Graph. Events from the signer stand-in, whose test certificate is served from a local URL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx

from services.graph import standin
from services.partner_center import event_signer as pc
from services.partner_center.event_signer import EventSigner
from services.partner_center.standin import PartnerCenterStandin, StandinTenant
from services.partner_center.standin import serving as pc_serving
from services.partner_center.webhook_standin import WebhookRegistrations
from tests.e2e.test_gdap import fetch, processed, send, tenant
from tests.e2e.test_gdap_graph import discovered, revocation_events
from tests.e2e.test_gdap_sync import APP, DIST, SECRET, TENANT, credentials, world
from tests.support import Bus, api_client, eventually, read_topic, running

REGISTRY = "csp.partner-registry.v1"
SERVICES = ["gdap-revoker", "partner-center-sync"]


def events_url(distributor: str = DIST) -> str:
    return f"/v1/partner-center/events?distributorId={distributor}"


async def recorded(settings) -> list:
    return await fetch(
        settings,
        "SELECT event_name, deliveries, state FROM partner_center_sync.partner_center_events"
        " ORDER BY received_at",
    )


async def test_signed_events_act_once_and_forged_stale_or_oversized_ones_have_no_effect(
    migrated, tmp_path
):
    """A suspended reseller's termination is tracked, its request still pending, when the
    customer terminates the relationship and Partner Center says so, five times: the API
    takes the first, the worker reads Graph, the sync publishes the relationship terminated
    once, and gdap-revoker, reading Graph again, publishes one revocation. A customer's
    acceptance of an indirect reseller becomes its assignment. Forged, tampered, unsigned,
    stale and oversized requests are refused and leave nothing behind."""
    graph = world()
    graph.reads_to_settle = 10**6  # the terminate request never settles by itself
    graph.partner_center.tenants[TENANT].customer_resellers["cust-7"] = ["ten-b"]
    signer = EventSigner()
    async with standin.serving(graph) as base, pc.serving(signer) as cert_origin:
        settings = migrated.model_copy(
            update={
                "gdap_gateway": "graph",
                "graph_base_url": base,
                "partner_center_url": base,
                "entra_authority_url": base,
                "partner_center_credentials_file": str(credentials(tmp_path)),
                "gdap_sync_every": 0.0,  # only the events speak
                "partner_center_sync_every": 3600.0,
                "graph_poll_initial_s": 30.0,  # a revocation waits on its request for long
                "partner_center_webhook_cert_hosts": cert_origin,
            }
        )
        terminated = pc.relationship_event("terminated", "rel-1")
        async with (
            Bus(settings) as bus,
            running(settings, SERVICES),
            api_client(settings, "k-pc-events-3e5a7c9b1d2f4=dist-x") as api,
        ):
            setup = [tenant("ten-a"), discovered("rel-1", "cust-1", "ten-a", "active")]
            await send(bus, *setup)
            await processed(settings, *setup)
            await send(bus, tenant("ten-a", "suspended"))

            async def requested():
                rows = await fetch(settings, "SELECT state FROM gdap_revoker.terminations")
                return rows and rows[0]["state"] == "requested"

            await eventually(requested, timeout=30, what="the terminate request is tracked")
            await _refused(api, signer, terminated)
            assert await recorded(settings) == []  # nothing refused was recorded

            graph.set_status("rel-1", "terminated")  # the customer ended it
            outcomes = []
            for _ in range(5):  # Partner Center's redeliveries
                r = await signer.deliver(events_url(), terminated, api)
                assert r.status_code == 200, r.text
                outcomes.append(r.json()["outcome"])
            accepted = pc.customer_accepted_event("cust-7")
            assert (await signer.deliver(events_url(), accepted, api)).status_code == 200
            test = pc.event_body(
                "test-created", f"{base}/webhooks/v1/registration/validationEvents/x"
            )
            assert (await signer.deliver(events_url(), test, api)).json()["outcome"] == "ignored"

            revocations = await revocation_events(bus, count=1, settle=1.0)

            async def settled():
                rows = await recorded(settings)
                return all(r["state"] in ("done", "ignored") for r in rows) and rows

            rows = await eventually(settled, timeout=30, what="every event acted on")
            registry = await read_topic(settings, REGISTRY, lambda rs: len(rs) >= 5, 30, 1.0)
        assert signer.certificate_fetches == 1  # kept between events
    assert outcomes == ["queued"] + ["duplicate"] * 4
    assert [(r["event_name"], r["deliveries"], r["state"]) for r in rows] == [
        ("granular-admin-relationship-terminated", 5, "done"),
        ("indirect-reseller-relationship-accepted-by-customer", 1, "done"),
        ("test-created", 1, "ignored"),
    ]
    revoked = [e for e in revocations if e["type"] == "gdap.privileges.revoked.v1"]
    assert [(e["data"]["relationshipId"], e["data"]["confirmedBy"]) for e in revoked] == [
        ("rel-1", "terminated")
    ]
    published = [json.loads(r.value) for r in registry]
    from_events = [e for e in published if e["source"] != "/tests"]
    assert sorted((e["type"], e["subject"]) for e in from_events) == [
        ("csp.customer-assignment.upserted.v1", f"{DIST}:cust-7:ten-b"),
        ("csp.gdap-relationship.upserted.v1", "rel-1"),
    ]
    gdap = next(e for e in from_events if e["subject"] == "rel-1")["data"]
    assert (gdap["status"], gdap["resellerTenantId"]) == ("terminated", "ten-a")


async def _refused(api: httpx.AsyncClient, signer: EventSigner, body: bytes) -> None:
    """Each way a request can fail to be Partner Center's: 401 (413 for the oversized one),
    in Partner Center's error shape."""
    forger = EventSigner()
    forger.certificate_url = signer.certificate_url  # Microsoft's certificate, another key
    stale = pc.relationship_event(
        "terminated", "rel-1", changed_at=datetime.now(UTC) - timedelta(days=8)
    )
    tampered = signer.headers(body)
    elsewhere = signer.headers(body) | {"x-ms-certificate-url": "https://example.org/cert.cer"}
    attempts = [
        (body, forger.headers(body)),
        (body.replace(b"rel-1", b"rel-2"), tampered),
        (body, {"Content-Type": "application/json"}),
        (stale, signer.headers(stale)),
        (body, elsewhere),
        (body + b" " * 70_000, signer.headers(body + b" " * 70_000)),
    ]
    statuses = []
    for content, headers in attempts:
        r = await api.post(events_url(), content=content, headers=headers)
        assert set(r.json()) == {"code", "description", "data", "source"}, r.text
        statuses.append(r.status_code)
    # Signed by Partner Center, but in the name of a distributor porgate holds no credentials
    # for: the URL's distributorId is not authenticated by the signature.
    for distributor in ("dist-unknown", f"{DIST}x"):
        r = await api.post(events_url(distributor), content=body, headers=signer.headers(body))
        assert set(r.json()) == {"code", "description", "data", "source"}, r.text
        assert "credentials file" in r.json()["description"], r.text
        statuses.append(r.status_code)
    assert statuses == [401, 401, 401, 401, 401, 413, 401, 401]


def cli(settings, base: str, creds, *args: str):
    env = {
        **os.environ,
        "PORGATE_DATABASE_URL": settings.database_url,
        "PORGATE_PARTNER_CENTER_URL": base,
        "PORGATE_ENTRA_AUTHORITY_URL": base,
        "PORGATE_PARTNER_CENTER_CREDENTIALS_FILE": str(creds),
        "PORGATE_LOG_LEVEL": "CRITICAL",
    }
    return asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "partner-center", "webhooks", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def test_webhooks_register_show_and_test_and_a_third_test_in_a_minute_is_refused_here(
    migrated, tmp_path
):
    signer = EventSigner()
    partner_center = PartnerCenterStandin({TENANT: StandinTenant(APP, SECRET)})
    registrations = WebhookRegistrations(partner_center, signer)
    creds = credentials(tmp_path)
    who = ("--distributor", DIST)
    async with pc_serving(partner_center) as base, pc.serving(signer) as cert_origin:
        settings = migrated.model_copy(
            update={
                "partner_center_webhook_cert_hosts": cert_origin,
                "partner_center_credentials_file": str(creds),
            }
        )
        async with api_client(settings, "k-pc-events-3e5a7c9b1d2f4=dist-x") as api:
            url = f"{api.base_url}/v1/partner-center/events"
            registered = await cli(settings, base, creds, "register", *who, "--url", url)
            assert registered.returncode == 0, registered.stderr
            shown = await cli(settings, base, creds, "show", *who)
            assert shown.returncode == 0, shown.stderr
            first, second = [await cli(settings, base, creds, "test", *who) for _ in range(2)]
            third = await cli(settings, base, creds, "test", *who)

            async def delivered():
                return len(registrations.deliveries) == 2 and registrations.deliveries

            deliveries = await eventually(delivered, what="both test events delivered")
            rows = await recorded(settings)
    registration = json.loads(shown.stdout)["registration"]
    assert registration["WebhookUrl"] == f"{url}?distributorId={DIST}"
    assert "granular-admin-relationship-terminated" in registration["WebhookEvents"]
    assert first.returncode == second.returncode == 0 and "correlation id" in first.stderr
    assert third.returncode == 1 and "try again in a minute" in third.stderr
    assert partner_center.calls["webhook-test"] == 2  # the third never reached Partner Center
    assert [status for _, status in deliveries] == [200, 200]
    assert [(r["event_name"], r["state"]) for r in rows] == [("test-created", "ignored")] * 2
