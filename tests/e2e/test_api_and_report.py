"""The validation API and the eligibility report give the validator's codes, from the same registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from contracts.codec import decode
from services.domain.por_rules import Distributor, Registry, normalize_partner_id
from services.domain.regions import RegionTable
from services.por_validator import store
from services.por_validator.report import eligibility_report
from services.por_validator.unit_of_work import PostgresValidatorUnitOfWork
from tests.e2e import registry_data as R
from tests.e2e.test_orders import SERVICES, load_registry, registry_loaded
from tests.support import Bus, api_client, running

KEY_EU, KEY_JA = "k-eu-secret-4f2a9c1e7b3d", "k-ja-secret-8d6b0e2f4a1c"
TEN_IDS = [
    R.VALID,
    R.INACTIVE_PLA,
    R.SUSPENDED_TENANT,
    R.DIRECT_BILL,
    R.NOT_AUTHORIZED,
    R.NO_PARTNERSHIP,
    R.OTHER_REGION,
    R.PGA,
    R.UNKNOWN,
    "12ab",
]


def api_server(settings):
    return api_client(settings, f"{KEY_EU}={R.DIST},{KEY_JA}={R.DIST_JA}", '{"asyncapi": "3.0.0"}')


async def test_api_and_report_agree_with_the_validator(migrated):
    settings = migrated
    async with Bus(settings) as bus, running(settings, SERVICES):
        await load_registry(bus)
        await registry_loaded(settings, 8)
        for i, pid in enumerate(TEN_IDS):
            await bus.send("csp.orders.v1", R.order(f"ord-{i}", pid), key=f"ord-{i}")
        decisions = await bus.events("por.decisions.v1", len(TEN_IDS))
        validator = {
            d["data"]["lines"][0]["partnerIdOnRecord"]: d["data"]["errorCodes"] for d in decisions
        }

        async with api_server(settings) as client:
            r = await client.post(
                "/v1/partners/validateresellers",
                json={"partnerIds": TEN_IDS},
                headers={"Authorization": f"Bearer {KEY_EU}"},
            )
            assert r.status_code == 200
            results = r.json()["validationResults"]
            assert [x["partnerId"] for x in results] == TEN_IDS
            for x in results:
                assert x["errorCodes"] == validator[x["partnerId"]], x
                assert x["isValidPartnerIdOnRecord"] is (not x["errorCodes"])
                assert x["errorCode"] == (x["errorCodes"][0] if x["errorCodes"] else None)
                assert (x["errorDescription"] is None) is (not x["errorCodes"])

            # The same key, claiming another distributor in the body, still answers for its own.
            r = await client.post(
                "/v1/partners/validateresellers",
                json={"partnerIds": [R.VALID], "distributorId": R.DIST_JA},
                headers={"X-Api-Key": KEY_EU},
            )
            assert r.json()["validationResults"][0]["errorCodes"] == []
            # The Japanese distributor's key: no partnership, other region.
            r = await client.post(
                "/v1/partners/validateresellers",
                json={"partnerIds": [R.VALID]},
                headers={"Authorization": f"Bearer {KEY_JA}", "Accept-Language": "ja"},
            )
            res = r.json()["validationResults"][0]
            assert res["errorCodes"] == [900414, 900152]
            assert "リセラー" in res["errorDescription"]

            for path in ("/healthz", "/readyz", "/livez"):
                r = await client.get(path)
                assert r.status_code == 200, (path, r.text)
            # Metrics are the health port's (tests/reliability/test_public_internals.py).
            assert (await client.get("/metrics")).status_code == 404
            assert (await client.get("/asyncapi.json")).json()["asyncapi"] == "3.0.0"

    rows = await eligibility_report(settings, R.DIST, datetime.now(UTC) - timedelta(days=1096))
    by_id = {row.partner_id: row for row in rows}
    # Every reseller with an account is listed; unknown and malformed IDs are not resellers.
    assert set(by_id) == {p for p in TEN_IDS if p not in (R.UNKNOWN, "12ab")}
    for pid, row in by_id.items():
        assert list(row.error_codes) == validator[pid], pid
        assert row.is_compliant is (not row.error_codes)
    assert by_id[R.PGA].account_type == "PGA"
    assert by_id[R.SUSPENDED_TENANT].reseller_status == "Inactive"
    assert by_id[R.OTHER_REGION].region_match is False and by_id[R.VALID].region_match is True
    assert by_id[R.NO_PARTNERSHIP].associated_with_distributor is False
    assert (await eligibility_report(settings, R.DIST, datetime.now(UTC) + timedelta(days=1))) == []


async def plain_registry_read(conn, partner_ids, distributor_ids, regions) -> Registry:
    """The registry slice read the plain way, one statement per table, as a reference."""
    pids = sorted({p for p in map(normalize_partner_id, partner_ids) if p is not None})
    dids = sorted(set(distributor_ids))
    registry = Registry()
    for row in await conn.fetch(
        "SELECT distributor_id, country, csp_region, preferred_language FROM distributors"
        " WHERE distributor_id = ANY($1::text[])",
        dids,
    ):
        registry.distributors[row["distributor_id"]] = Distributor(
            row["distributor_id"],
            regions.region_for(row["country"], row["csp_region"]),
            row["preferred_language"],
        )
    for row in await conn.fetch(
        "SELECT a.partner_id, a.account_type, a.status, a.reseller_tenant_id,"
        "       t.reseller_tenant_id AS tenant_id, t.kind, t.status AS tenant_status,"
        "       t.indirect_reseller_authorized, t.country, t.csp_region"
        " FROM partner_accounts a LEFT JOIN reseller_tenants t ON t.reseller_tenant_id = a.reseller_tenant_id"
        " WHERE a.partner_id = ANY($1::text[])",
        pids,
    ):
        store.add_account(registry, row, regions)
    for row in await conn.fetch(
        "SELECT distributor_id, reseller_tenant_id FROM partnerships"
        " WHERE status = 'active' AND distributor_id = ANY($1::text[])",
        dids,
    ):
        if any(
            a.reseller_tenant_id == row["reseller_tenant_id"] for a in registry.accounts.values()
        ):
            registry.active_partnerships.add((row["distributor_id"], row["reseller_tenant_id"]))
    return registry


async def test_the_one_statement_registry_read_equals_the_plain_read(migrated):
    """store.registry_for (the API's and the validator's read) must equal a read table by
    table, row case by row case, for one distributor and for several."""
    conn = await asyncpg.connect(
        migrated.database_url, server_settings={"search_path": "por_validator"}
    )
    try:
        async with conn.transaction():
            for e in R.registry_events():
                event = decode(json.dumps(e).encode(), "csp.partner-registry.v1")
                await PostgresValidatorUnitOfWork(conn).project(event.data, event.time, event.id)
        # What the events above do not cover: an account without a tenant, one whose tenant is
        # unknown, an ended partnership, and a tenant partnered with both distributors.
        await conn.execute(
            "INSERT INTO partner_accounts (partner_id, account_type, status, name, reseller_tenant_id, as_of)"
            " VALUES ('3000001', 'PLA', 'active', 'x', NULL, now()),"
            "        ('3000002', 'PLA', 'active', 'x', 'ten-ghost', now())"
        )
        await conn.execute(
            "INSERT INTO partnerships (distributor_id, reseller_tenant_id, status, as_of)"
            " VALUES ($1, 'ten-nopartner', 'ended', now()), ($2, 'ten-us', 'active', now())",
            R.DIST,
            R.DIST_JA,
        )
        regions = RegionTable.load(migrated.region_overrides_file)
        everything = [*TEN_IDS, "3000001", "3000002", " 1000001 ", "1000001"]
        for ids in [[p] for p in everything] + [everything, ["12ab"], ["12ab", R.UNKNOWN]]:
            for dists in [(R.DIST,), (R.DIST_JA,), ("dist-unknown",)] + [
                (R.DIST, R.DIST_JA, "dist-unknown")
            ]:
                expected = await plain_registry_read(conn, ids, dists, regions)
                assert await store.registry_for(conn, ids, dists, regions) == expected, (
                    ids,
                    dists,
                )
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({}, b'{"partnerIds": ["1234567"]}', 401, "unauthorized"),
        ({"Authorization": "Bearer nope"}, b'{"partnerIds": ["1234567"]}', 401, "unauthorized"),
        ({"Authorization": "Basic " + KEY_EU}, b'{"partnerIds": ["1234567"]}', 401, "unauthorized"),
        ({"X-Api-Key": KEY_EU}, b"not json", 400, "bad_request"),
        ({"X-Api-Key": KEY_EU}, b"[]", 400, "bad_request"),
        ({"X-Api-Key": KEY_EU}, b'{"partnerIds": []}', 400, "bad_request"),
        ({"X-Api-Key": KEY_EU}, b'{"partnerIds": [1234567]}', 400, "bad_request"),
        ({"X-Api-Key": KEY_EU}, b'{"partnerIds": "1234567"}', 400, "bad_request"),
        (
            {"X-Api-Key": KEY_EU},
            b'{"partnerIds": [' + b",".join([b'"1"'] * 101) + b"]}",
            400,
            "bad_request",
        ),
        (
            {"X-Api-Key": KEY_EU},
            b'{"partnerIds": ["' + b"1" * 70000 + b'"]}',
            413,
            "payload_too_large",
        ),
    ],
)
async def test_api_refuses_bad_requests_with_a_clear_error(migrated, headers, body, status, code):
    async with api_server(migrated) as client:
        r = await client.post(
            "/v1/partners/validateresellers",
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )
        assert r.status_code == status
        assert r.json()["code"] == code
        assert r.json()["description"] and r.json()["source"] == "porgate"
        r = await client.get("/v1/partners/validateresellers")
        assert r.status_code == 405
