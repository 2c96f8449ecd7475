"""partner-center-sync on the real broker and PostgreSQL, listing from the Partner Center stand-in.

The CLI runs as a subprocess (`python -m services.cli sync partner-center`); the stand-in is
served from the test's own event loop, so the CLI is awaited in a thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from services.partner_center.standin import PartnerCenterStandin, StandinTenant, serving
from services.partner_center_sync import store
from tests.support import eventually, read_topic, running

REGISTRY = "csp.partner-registry.v1"
RT_A = "rt-a-0"


def reseller(n: int) -> dict:
    return {
        "id": f"ten-{n}",
        "name": f"Reseller {n}",
        "relationshipType": "IsIndirectCloudSolutionProviderOf",
        "state": "active",
        "mpnId": f"{1000000 + n}",
        "location": "DE",
        "attributes": {"objectType": "PartnerRelationship"},
    }


def make_standin() -> PartnerCenterStandin:
    tenants = {
        "tenant-a": StandinTenant(
            "client-a",
            "secret-a",
            relationships=[reseller(n) for n in range(5)],
            refresh_token=RT_A,
        ),
        "tenant-b": StandinTenant("client-b", "secret-b"),
    }
    # Two per page: every sync reads three pages.
    return PartnerCenterStandin(tenants, page_size=2)


def credentials_file(tmp_path: Path, *, with_b: bool) -> Path:
    creds = {"dist-a": {"tenantId": "tenant-a", "clientId": "client-a", "clientSecret": "secret-a",
                        "refreshToken": RT_A}}  # fmt: skip
    if with_b:  # app-only: cannot list indirect resellers
        creds["dist-b"] = {
            "tenantId": "tenant-b",
            "clientId": "client-b",
            "clientSecret": "secret-b",
        }
    path = tmp_path / "partner-center.json"
    path.write_text(json.dumps(creds))
    return path


@pytest.fixture
async def standin():
    pc = make_standin()
    async with serving(pc) as url:
        pc.url = url  # type: ignore[attr-defined]
        yield pc


def cli(standin: PartnerCenterStandin, settings, creds: Path, *args: str):
    # The stand-in accepts a refresh token once (it checks that a client keeps the rotated
    # one); Entra ID lets a new process start again from the configured one, so do we.
    standin.tenants["tenant-a"].refresh_token = RT_A
    env = {
        **os.environ,
        "PORGATE_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "PORGATE_DATABASE_URL": settings.database_url,
        "PORGATE_TOPIC_PREFIX": settings.topic_prefix,
        "PORGATE_PARTNER_CENTER_URL": standin.url,
        "PORGATE_ENTRA_AUTHORITY_URL": standin.url,
        "PORGATE_PARTNER_CENTER_CREDENTIALS_FILE": str(creds),
        "PORGATE_PARTNER_CENTER_RETRY_INITIAL_S": "0.01",
        "PORGATE_PARTNER_CENTER_RETRY_MAX_S": "0.05",
        "PORGATE_LOG_LEVEL": "CRITICAL",
    }
    return asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.cli", "sync", "partner-center", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def registry(settings, count: int, settle: float = 0.0) -> list[dict]:
    records = await read_topic(settings, REGISTRY, lambda rs: len(rs) >= count, 30, settle)
    return [json.loads(r.value) | {"key": r.key.decode()} for r in records]


async def table_counts(settings) -> tuple[int, int]:
    conn = await asyncpg.connect(
        settings.database_url, server_settings={"search_path": store.SCHEMA}
    )
    try:
        return (
            await conn.fetchval("SELECT count(*) FROM seen_resellers"),
            await conn.fetchval("SELECT count(*) FROM outbox"),
        )
    finally:
        await conn.close()


async def test_cli_adds_then_publishes_nothing_then_removes_a_departed_reseller_once(
    migrated, standin, tmp_path
):
    creds = credentials_file(tmp_path, with_b=False)

    dry = await cli(standin, migrated, creds, "--distributor", "dist-a", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    would = [json.loads(line) for line in dry.stdout.splitlines()]
    assert len(would) == 15 and {w["topic"] for w in would} == {REGISTRY}
    assert "5 reseller(s) listed in 3 page(s): 5 added, 0 changed, 0 removed" in dry.stderr
    assert "dry run: nothing written" in dry.stderr
    assert await table_counts(migrated) == (0, 0)

    first = await cli(standin, migrated, creds, "--distributor", "dist-a")
    assert first.returncode == 0, first.stderr
    assert "dist-a: listing indirect resellers" in first.stderr
    assert "5 added, 0 changed, 0 removed; 15 upsert(s) published" in first.stderr
    events = await registry(migrated, 15)
    # The dry run showed exactly what the real run published, ids included.
    assert sorted(e["id"] for e in events) == sorted(w["event"]["id"] for w in would)
    partnerships = [e for e in events if e["type"] == "csp.partnership.upserted.v1"]
    assert {(e["key"], e["data"]["status"]) for e in partnerships} == {
        (f"dist-a:ten-{n}", "active") for n in range(5)
    }
    accounts = {
        e["data"]["partnerId"] for e in events if e["type"] == "csp.partner-account.upserted.v1"
    }
    assert accounts == {f"{1000000 + n}" for n in range(5)}

    second = await cli(standin, migrated, creds, "--distributor", "dist-a")
    assert second.returncode == 0, second.stderr
    assert "0 added, 0 changed, 0 removed; 0 upsert(s) published" in second.stderr

    standin.tenants["tenant-a"].relationships = [reseller(n) for n in range(5) if n != 3]
    third = await cli(standin, migrated, creds)  # every distributor with credentials: dist-a
    assert third.returncode == 0, third.stderr
    assert "0 added, 0 changed, 1 removed" in third.stderr
    fourth = await cli(standin, migrated, creds, "--distributor", "dist-a")
    assert "0 added, 0 changed, 0 removed" in fourth.stderr

    events = await registry(migrated, 16, settle=1.0)
    assert len(events) == 16, [e["type"] for e in events]
    removal = [e for e in events if e["data"].get("status") == "removed"]
    assert [(e["key"], e["type"]) for e in removal] == [
        ("dist-a:ten-3", "csp.partnership.upserted.v1")
    ]
    assert await table_counts(migrated) == (5, 0)  # every outbox row sent and deleted


async def test_cli_syncs_the_others_and_exits_non_zero_naming_a_distributor_that_cannot_be_listed(
    migrated, standin, tmp_path
):
    creds = credentials_file(tmp_path, with_b=True)
    result = await cli(standin, migrated, creds)
    assert result.returncode == 1
    assert "dist-a: 5 reseller(s) listed in 3 page(s): 5 added" in result.stderr
    assert "dist-b: failed: its credentials have no refreshToken" in result.stderr
    assert "1 distributor(s) synced: 5 added, 0 changed, 0 removed; 1 failed" in result.stderr
    assert "sync failed for dist-b (" in result.stderr

    unknown = await cli(standin, migrated, creds, "--distributor", "dist-x")
    assert unknown.returncode == 1
    assert "dist-x: failed: no Partner Center credentials" in unknown.stderr

    standin.fail(calls=10)  # Partner Center down: every attempt answers 500
    down = await cli(standin, migrated, creds, "--distributor", "dist-a")
    assert down.returncode == 5  # a remote API unreachable (docs/cli.md)
    assert "dist-a: failed: indirect_resellers failed" in down.stderr
    assert "porgate: cannot reach Partner Center for dist-a (" in down.stderr


async def test_the_scheduled_service_syncs_every_period_into_the_validators_registry(
    migrated, standin, tmp_path
):
    settings = migrated.model_copy(
        update={
            "partner_center_url": standin.url,
            "entra_authority_url": standin.url,
            "partner_center_credentials_file": str(credentials_file(tmp_path, with_b=False)),
            "partner_center_sync_every": 1.0,
        }
    )
    validator = await asyncpg.connect(
        settings.database_url, server_settings={"search_path": "por_validator"}
    )

    async def partnerships() -> dict[str, str]:
        rows = await validator.fetch("SELECT reseller_tenant_id, status FROM partnerships")
        return {r["reseller_tenant_id"]: r["status"] for r in rows}

    try:
        async with running(settings, ["partner-center-sync", "por-validator"]):
            every_active = {f"ten-{n}": "active" for n in range(5)}
            await eventually(lambda: _equal(partnerships, every_active), timeout=60)
            standin.tenants["tenant-a"].relationships.pop(3)
            await eventually(
                lambda: _equal(partnerships, every_active | {"ten-3": "removed"}), timeout=30
            )
            await asyncio.sleep(2.5)  # more periods: the same list publishes nothing more
            lists = standin.calls["relationships"]
        events = await registry(settings, 16, settle=0.5)
        assert len(events) == 16
        assert lists >= 3 * 3  # at least three syncs of three pages each
        row = await validator.fetchrow(
            "SELECT next_due_at, last_started_at, last_outcome FROM partner_center_sync.schedules"
        )
        assert row["last_outcome"] == "ok" and row["next_due_at"] > row["last_started_at"]
    finally:
        await validator.close()


async def _equal(read, expected) -> bool:
    return await read() == expected


async def test_the_mass_removal_guard_adds_up_runs_counts_downgrades_and_confirms_one_distributor(
    migrated, standin, tmp_path
):
    creds = credentials_file(tmp_path, with_b=False)
    tenant = standin.tenants["tenant-a"]
    tenant.relationships = [reseller(n) for n in range(10)]
    assert (await cli(standin, migrated, creds, "--distributor", "dist-a")).returncode == 0

    # 10 -> 6: four ended, under half. 6 -> 3: seven of the window's ten: refused, even by
    # a later process (the window is in PostgreSQL), and nothing of it published.
    tenant.relationships = [reseller(n) for n in range(6)]
    first = await cli(standin, migrated, creds, "--distributor", "dist-a")
    assert first.returncode == 0 and "4 removed" in first.stderr, first.stderr
    tenant.relationships = [reseller(n) for n in range(3)]
    second = await cli(standin, migrated, creds, "--distributor", "dist-a")
    assert second.returncode == 1
    assert "7 of 10 within 7 days" in second.stderr, second.stderr

    # Every reseller kept but none `active`: each partnership downgraded, all of them: refused.
    tenant.relationships = [reseller(n) | {"state": None} for n in range(6)]
    downgraded = await cli(standin, migrated, creds, "--distributor", "dist-a")
    assert downgraded.returncode == 1
    assert "would end all 6 active partnership(s)" in downgraded.stderr, downgraded.stderr

    # A confirmation names the one distributor it is for.
    everyone = await cli(standin, migrated, creds, "--allow-mass-removal")
    assert everyone.returncode == 2
    assert "--allow-mass-removal needs --distributor" in everyone.stderr
    tenant.relationships = [reseller(n) for n in range(3)]
    confirmed = await cli(
        standin, migrated, creds, "--distributor", "dist-a", "--allow-mass-removal"
    )
    assert confirmed.returncode == 0 and "3 removed" in confirmed.stderr, confirmed.stderr
    # After a confirmation the window starts afresh: one more of three is not "most".
    tenant.relationships = [reseller(n) for n in range(2)]
    after = await cli(standin, migrated, creds, "--distributor", "dist-a")
    assert after.returncode == 0 and "1 removed" in after.stderr, after.stderr
