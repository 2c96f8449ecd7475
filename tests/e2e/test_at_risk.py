"""At-risk subscriptions, end to end: the report lists exactly the subscriptions porgate has
seen whose POR fails now (as por-validator's own registry judges them), and the weekly
digest goes once per distributor per week."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime

import asyncpg
from pydantic import SecretStr

from services.domain.por_rules import (
    Distributor,
    PartnerAccount,
    Registry,
    ResellerTenant,
    evaluate_por,
)
from services.domain.regions import RegionTable
from services.notifier.at_risk import at_risk_report, iso_week
from services.por_validator import store as validator_store
from tests.e2e import registry_data as R
from tests.e2e.test_cli import porgate
from tests.e2e.test_explanation import DISTRIBUTORS, generated_registry
from tests.e2e.test_orders import load_registry, registry_loaded
from tests.e2e.webhook_receiver import SECRET, Receiver
from tests.support import Bus, envelope, eventually, running

SERVICES = ["order-intake", "subscription-change", "por-validator", "notifier"]
AFTER, BEFORE = "2026-02-01T10:00:00Z", "2025-11-01T10:00:00Z"


def change(change_id: str, sub: str, kind: str, pid: str | None, did: str, at: str) -> dict:
    return envelope(
        "csp.subscription.change-requested.v1",
        {
            "changeId": change_id,
            "subscriptionId": sub,
            "distributorId": did,
            "customerId": "cust-7",
            "kind": kind,
            "requestedAt": at,
            "partnerIdOnRecord": pid,
        },
    )


async def test_the_report_lists_exactly_the_seen_subscriptions_whose_por_fails_now(migrated):
    settings = migrated
    events, pids = generated_registry(seed=5)
    accounts = [e for e in events if "accountType" in e["data"]]
    before = registry_of(events)
    transactions = []
    for i, pid in enumerate(pids):
        did = DISTRIBUTORS[i % 2]
        # Orders before enforcement are accepted unvalidated: their subscriptions may fail.
        old = R.order(f"o-old-{i}", pid, None, placed_at=BEFORE, dist=did)
        transactions.append(("csp.orders.v1", old))
        # Validated orders: accepted ones made subscriptions, blocked ones did not.
        for d in DISTRIBUTORS:
            transactions.append(("csp.orders.v1", R.order(f"o-new-{d}-{i}", pid, dist=d)))
        # Changes: a renewal (exempt) or a seat change (validated), whatever their outcome.
        kind = "renewal" if i % 3 == 0 else "seat_count"
        transactions.append(
            ("csp.subscription-changes.v1", change(f"c-{i}", f"sub-{i}", kind, pid, did, AFTER))
        )
    # A subscription moved to the other distributor by its latest change (same key: in order).
    move = change("c-move", "sub-1", "p2p_transfer", pids[1], R.DIST, "2026-02-02T10:00:00Z")
    transactions.append(("csp.subscription-changes.v1", move))
    # After the transactions a reseller that passed is suspended: its subscriptions fail now.
    passing = next(
        a["data"] for a in accounts if not evaluate_por(a["data"]["partnerId"], R.DIST, before)
    )
    tid = passing["resellerTenantId"]
    tenant = next(
        e["data"]
        for e in events
        if e["type"].startswith("csp.reseller-tenant") and e["data"]["resellerTenantId"] == tid
    )
    suspended = envelope("csp.reseller-tenant.upserted.v1", {**tenant, "status": "suspended"})

    conn = await asyncpg.connect(settings.database_url)
    try:
        async with Bus(settings) as bus, running(settings, SERVICES):
            await load_registry(bus, events)
            await registry_loaded(settings, len(accounts))
            for topic, e in transactions:
                key = e["data"].get("orderId") or e["data"]["subscriptionId"]
                await bus.send(topic, e, key=key)
            decisions = await bus.events("por.decisions.v1", len(transactions), timeout=90)
            await bus.send("csp.partner-registry.v1", suspended, key=tid)
            expected_seen = seen_by_definition([d["data"] for d in decisions])

            async def settled():
                seen = await conn.fetchval("SELECT count(*) FROM notifier.seen_subscriptions")
                notifier = await conn.fetchval(
                    "SELECT status FROM notifier.reseller_tenants WHERE reseller_tenant_id = $1",
                    tid,
                )
                validator = await conn.fetchval(
                    "SELECT status FROM por_validator.reseller_tenants WHERE reseller_tenant_id = $1",
                    tid,
                )
                return seen == len(expected_seen) and notifier == validator == "suspended"

            await eventually(settled, timeout=30, what="the notifier saw every decision")
    finally:
        await conn.close()
    assert any(pid == passing["partnerId"] for pid in expected_seen.values())

    # What por-validator's registry says of each seen subscription now.
    regions = RegionTable.load(settings.region_overrides_file)
    vconn = await asyncpg.connect(
        settings.database_url, server_settings={"search_path": "por_validator"}
    )
    try:
        expected: dict[str, dict] = {did: {} for did in DISTRIBUTORS}
        for (did, ref), pid in expected_seen.items():
            registry = await validator_store.registry_for(vconn, [pid], [did], regions)
            codes = [int(c) for c in evaluate_por(pid, did, registry)]
            if codes:
                expected[did][ref] = codes
    finally:
        await vconn.close()
    assert all(expected.values()), "subscriptions at risk for both distributors"
    assert any(
        expected_seen[(did, ref)] == passing["partnerId"]
        for did in expected
        for ref in expected[did]
    ), "the suspended reseller's subscriptions, which passed when decided, fail now"
    assert any(ref[0] == "order" for refs in expected.values() for ref in refs)
    assert any(ref[0] == "subscription" for refs in expected.values() for ref in refs)
    assert len(expected_seen) > sum(map(len, expected.values())), "and some not at risk"

    for did in DISTRIBUTORS:
        groups = await at_risk_report(settings, did)
        got = {
            (
                ("subscription", s.subscription_id)
                if s.subscription_id
                else ("order", s.order_id, s.line_item_id)
            ): list(g.codes)
            for g in groups
            for s in g.subscriptions
        }
        assert got == expected[did], did

    env = {
        **os.environ,
        "PORGATE_DATABASE_URL": settings.database_url,
        "PORGATE_LOG_LEVEL": "WARNING",
    }
    result = await asyncio.to_thread(
        porgate,
        "report",
        "at-risk",
        "--distributor",
        R.DIST_JA,
        "--format",
        "json",
        "--lang",
        "ja",
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    listed = json.loads(result.stdout)
    assert sum(len(g["subscriptions"]) for g in listed) == len(expected[R.DIST_JA])
    assert all(g["errors"] and g["errors"][0]["remediation"] for g in listed)
    result = await asyncio.to_thread(porgate, "report", "at-risk", "--distributor", R.DIST, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout.strip().splitlines()) >= len(expected[R.DIST]) + 1  # header, rows

    # The weekly digest: one per distributor this week, however many passes.
    async with Receiver(SECRET) as receiver:
        weekly = settings.model_copy(
            update={
                "notify_webhook_url": receiver.url,
                "notify_webhook_secret": SecretStr(SECRET),
                "at_risk_digest": "weekly",
                "at_risk_digest_check_s": 0.2,
            }
        )
        async with running(weekly, ["notifier"]):

            async def digests():
                return [
                    p
                    for p in (json.loads(r["body"]) for r in receiver.requests)
                    if p["kind"] == "at_risk_digest"
                ]

            await eventually(lambda: _both(digests), timeout=30, what="a digest per distributor")
            await asyncio.sleep(1.5)  # several more passes
            sent = await digests()
    assert sorted(p["distributorId"] for p in sent) == sorted(DISTRIBUTORS)
    for p in sent:
        assert p["week"] == iso_week(datetime.now(UTC))
        assert p["subscriptionCount"] == len(expected[p["distributorId"]])
        assert p["language"] == ("ja" if p["distributorId"] == R.DIST_JA else "en")


async def _both(digests) -> bool:
    return len(await digests()) >= len(DISTRIBUTORS)


def registry_of(events: list[dict]) -> Registry:
    """The registry the generated events describe, read straight from them."""
    regions = RegionTable.default()
    registry, partnerships = Registry(), {}
    for e in events:
        d, t = e["data"], e["type"]
        if t == "csp.distributor.upserted.v1":
            region = regions.region_for(d["country"])
            registry.distributors[d["distributorId"]] = Distributor(d["distributorId"], region)
        elif t == "csp.partner-account.upserted.v1":
            registry.accounts[d["partnerId"]] = PartnerAccount(
                d["partnerId"], d["accountType"], d["status"] == "active", d["resellerTenantId"]
            )
        elif t == "csp.reseller-tenant.upserted.v1":
            registry.tenants[d["resellerTenantId"]] = ResellerTenant(
                d["resellerTenantId"],
                d["kind"],
                d["status"],
                d["indirectResellerAuthorized"],
                regions.region_for(d["country"]),
            )
        elif t == "csp.partnership.upserted.v1":
            partnerships[(d["distributorId"], d["resellerTenantId"])] = d["status"]
    registry.active_partnerships = {k for k, v in partnerships.items() if v == "active"}
    return registry


def seen_by_definition(decisions: list[dict]) -> dict[tuple, str | None]:
    """(distributor, subscription ref) -> PLA id on record, written from the definition in
    services/domain/at_risk.py: a change's subscription whatever the outcome, an accepted
    order's lines; the latest decision of each wins."""
    latest: dict[tuple, tuple] = {}
    for d in sorted(decisions, key=lambda d: d["decidedAt"]):
        if d["transactionKind"] == "subscription_change":
            refs = [(("subscription", d["subscriptionId"]), d["lines"][0]["partnerIdOnRecord"])]
        elif d["outcome"] == "accepted":
            refs = [
                (("order", d["orderId"], line["lineItemId"]), line["partnerIdOnRecord"])
                for line in d["lines"]
            ]
        else:
            refs = []
        for ref, pid in refs:
            latest[ref] = (d["distributorId"], pid)
    return {(did, ref): pid for ref, (did, pid) in latest.items()}
