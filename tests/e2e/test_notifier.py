"""The notifier on the real broker and PostgreSQL, delivering to a real local webhook receiver."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from contracts.codec import encode, new_event
from contracts.errors import describe
from contracts.events import TransactionAccepted, TransactionBlocked
from services.cli import notifications as commands
from services.common.metrics import MESSAGES
from services.domain.decisions import decision_line
from services.notifier import store
from services.settings import get_settings
from tests.e2e.webhook_receiver import SECRET, Receiver
from tests.support import Bus, envelope, eventually, running

REGISTRY = "csp.partner-registry.v1"
DECISIONS = "por.decisions.v1"
REVOCATIONS = "gdap.revocations.v1"
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
async def receiver():
    async with Receiver(SECRET) as r:
        yield r
    # Every request the notifier made passed both signature checks.
    assert all(req["signed"] for req in r.requests), r.requests


@pytest.fixture
async def db(migrated):
    # On the notifier's search_path, as the store's functions expect.
    conn = await asyncpg.connect(migrated.database_url, server_settings={"search_path": "notifier"})
    yield conn
    await conn.close()


def configured(settings, receiver: Receiver, **extra):
    return settings.model_copy(
        update={
            "notify_webhook_url": receiver.url,
            "notify_webhook_secret": SecretStr(SECRET),
            **extra,
        }
    )


# ----------------------------------------------------------------------------- events


def distributor(did: str, language: str | None = None) -> dict:
    data = {"distributorId": did, "name": did, "country": "JP" if language == "ja" else "DE"}
    if language:
        data["preferredLanguage"] = language
    return envelope("csp.distributor.upserted.v1", data, time_=T0.isoformat())


def partnership(did: str, tid: str, status: str, at: datetime = T0, id: str | None = None) -> dict:
    return envelope(
        "csp.partnership.upserted.v1",
        {"distributorId": did, "resellerTenantId": tid, "status": status},
        time_=at.isoformat(),
        id=id,
    )


def assignment(cid: str, tid: str, did: str, status: str = "assigned") -> dict:
    return envelope(
        "csp.customer-assignment.upserted.v1",
        {"customerId": cid, "resellerTenantId": tid, "distributorId": did, "status": status},
        time_=T0.isoformat(),
    )


def gdap(
    rid: str, cid: str, tid: str, status: str = "active", roles=("Directory Readers",)
) -> dict:
    return envelope(
        "csp.gdap-relationship.upserted.v1",
        {
            "relationshipId": rid,
            "customerId": cid,
            "resellerTenantId": tid,
            "roles": list(roles),
            "status": status,
        },
        time_=T0.isoformat(),
    )


def revoked(rid: str, cid: str, tid: str, reason: str = "reseller_suspended") -> dict:
    return envelope(
        "gdap.privileges.revoked.v1",
        {
            "relationshipId": rid,
            "customerId": cid,
            "resellerTenantId": tid,
            "reason": reason,
            "causeEventId": str(uuid.uuid4()),
            "revokedAt": "2026-01-10T10:00:00Z",
        },
    )


def decision(order_id: str, distributor_id: str, codes: list[int]) -> bytes:
    line = decision_line("1", "1000006", codes)
    model = TransactionBlocked if codes else TransactionAccepted
    data = model(
        decision_id=f"dec-{order_id}",
        source_event_id=f"src-{order_id}",
        transaction_kind="new_order",
        order_id=order_id,
        distributor_id=distributor_id,
        customer_id="cust-1",
        basis="validated",
        error_codes=codes,
        primary_error_code=codes[0] if codes else None,
        lines=[line],
        decided_at=T0,
    )
    return encode(new_event(data, source="/tests", subject=order_id))


async def publish(bus: Bus, topic: str, *events: dict | bytes) -> None:
    for e in events:
        await bus.send(topic, e, key=str(uuid.uuid4()))


async def until(db: asyncpg.Connection, sql: str, expected, *args, timeout: float = 15.0) -> None:
    async def check():
        return await db.fetchval(sql, *args) == expected

    await eventually(check, timeout=timeout)


async def delivered(
    receiver: Receiver, count: int, kind: str | None = None, timeout: float = 15.0
) -> None:
    async def check():
        return len(receiver.of_kind(kind) if kind else receiver.delivered) >= count

    await eventually(check, timeout=timeout)


def cli(settings, *args: str):
    """`porgate notifications ...` as an operator runs it (in a thread: it runs its own event loop)."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(
            commands.app,
            list(args),
            env={"PORGATE_DATABASE_URL": settings.database_url, "COLUMNS": "300"},
        )
    finally:
        get_settings.cache_clear()


# ----------------------------------------------------------------------------- tests


async def test_blocked_decision_notifies_in_the_distributors_language(migrated, receiver, db):
    settings = configured(migrated, receiver)
    async with Bus(settings) as bus, running(settings, ["notifier"]):
        await publish(bus, REGISTRY, distributor("dist-jp", "ja"), distributor("dist-eu"))
        await until(db, "SELECT count(*) FROM notifier.distributors", 2)
        accepted = decision("ord-ok", "dist-jp", [])
        await publish(bus, DECISIONS, decision("ord-bad", "dist-jp", [900414, 900152]), accepted)
        await delivered(receiver, 1)
        await until(
            db,
            "SELECT count(*) FROM notifier.inbox WHERE event_id = $1",
            1,
            json.loads(accepted)["id"],
        )
        await asyncio.sleep(0.5)

    assert len(receiver.delivered) == 1
    assert await db.fetchval("SELECT count(*) FROM notifier.notifications") == 1
    p = receiver.delivered[0]
    assert (
        p["kind"] == "transaction_blocked"
        and p["distributorId"] == "dist-jp"
        and p["language"] == "ja"
    )
    assert p["orderId"] == "ord-bad" and p["decisionId"] == "dec-ord-bad"
    assert p["errorCodes"] == [900414, 900152] and p["primaryErrorCode"] == 900414
    assert "ブロック" in p["title"]
    [line] = p["lines"]
    assert line["lineItemId"] == "1" and line["partnerIdOnRecord"] == "1000006"
    assert [e["code"] for e in line["errors"]] == [900414, 900152]
    for e in line["errors"]:
        text = describe(e["code"], "ja")
        assert e["message"] == text.message and e["remediation"] == list(text.remediation)
    assert all(r["signed"] and r["content_type"] == "application/json" for r in receiver.requests)
    row = await db.fetchrow(
        "SELECT * FROM notifications WHERE notification_id = $1", p["notificationId"]
    )
    assert row["state"] == "delivered" and row["attempts"] == 1 and row["delivered_at"] is not None


async def test_revocation_notifies_the_customers_distributor(migrated, receiver, db):
    settings = configured(migrated, receiver)
    async with Bus(settings) as bus, running(settings, ["notifier"]):
        await publish(
            bus,
            REGISTRY,
            distributor("d1", "ja"),
            distributor("d2"),
            partnership("d1", "ten-5", "active"),
            partnership("d2", "ten-5", "active"),
            # A removed assignment still names the distributor to tell.
            assignment("cust-42", "ten-5", "d1", status="removed"),
        )
        await until(db, "SELECT count(*) FROM notifier.customer_assignments", 1)
        await until(db, "SELECT count(*) FROM notifier.partnerships", 2)
        await until(db, "SELECT count(*) FROM notifier.distributors", 2)
        # cust-9 is assigned to nobody: every distributor partnered with the reseller is told.
        await publish(
            bus,
            REVOCATIONS,
            revoked("rel-7", "cust-42", "ten-5"),
            revoked("rel-8", "cust-9", "ten-5", reason="customer_unassigned"),
        )
        await delivered(receiver, 3)
        await asyncio.sleep(0.5)

    by_rel = sorted(
        (p["relationshipId"], p["distributorId"], p["language"]) for p in receiver.delivered
    )
    assert by_rel == [("rel-7", "d1", "ja"), ("rel-8", "d1", "ja"), ("rel-8", "d2", "en")]
    p = next(p for p in receiver.delivered if p["relationshipId"] == "rel-7")
    assert p["kind"] == "privileges_revoked" and p["customerId"] == "cust-42"
    assert p["resellerTenantId"] == "ten-5" and p["reason"] == "reseller_suspended"
    assert p["revokedAt"].startswith("2026-01-10T10:00:00")


async def _removal_world(bus: Bus, db: asyncpg.Connection) -> None:
    """Reseller ten-5 works with d1 and d2; some of its GDAP access is gone, some is not."""
    await publish(
        bus,
        REGISTRY,
        distributor("d1"),
        distributor("d2"),
        partnership("d1", "ten-5", "active"),
        partnership("d2", "ten-5", "active"),
        assignment("cust-a", "ten-5", "d1"),
        assignment("cust-b", "ten-5", "d1", status="removed"),
        assignment("cust-c", "ten-5", "d2"),  # the other distributor's customer
        assignment("cust-d", "ten-9", "d1"),  # assigned with another reseller
        gdap("rel-a1", "cust-a", "ten-5", roles=("User Administrator", "Directory Readers")),
        gdap("rel-a2", "cust-a", "ten-5", status="terminated"),
        gdap("rel-b1", "cust-b", "ten-5"),
        gdap("rel-b2", "cust-b", "ten-5"),  # revoked below
        gdap("rel-c1", "cust-c", "ten-5"),
        gdap("rel-d1", "cust-d", "ten-5"),
        gdap("rel-x1", "cust-x", "ten-5"),  # assigned to nobody
    )
    await until(db, "SELECT count(*) FROM notifier.gdap_relationships", 7)
    await until(db, "SELECT count(*) FROM notifier.customer_assignments", 4)
    await until(db, "SELECT count(*) FROM notifier.partnerships", 2)
    await publish(bus, REVOCATIONS, revoked("rel-b2", "cust-b", "ten-5"))
    await until(db, "SELECT count(*) FROM notifier.revoked_relationships", 1)


EXPECTED_STILL_ADMINISTERED = [
    {
        "customerId": "cust-a",
        "relationships": [
            {"relationshipId": "rel-a1", "roles": ["User Administrator", "Directory Readers"]}
        ],
    },
    {
        "customerId": "cust-b",
        "relationships": [{"relationshipId": "rel-b1", "roles": ["Directory Readers"]}],
    },
]


async def test_partnership_removal_lists_the_customers_still_administered(migrated, receiver, db):
    settings = configured(migrated, receiver)
    async with Bus(settings) as bus, running(settings, ["notifier"]):
        await _removal_world(bus, db)
        await publish(
            bus, REGISTRY, partnership("d1", "ten-5", "removed", at=T0 + timedelta(hours=1))
        )
        await delivered(receiver, 1, "partnership_removed")
        # The same removal re-sent later (a new event id) is no transition: nothing new.
        again = partnership("d1", "ten-5", "removed", at=T0 + timedelta(hours=2))
        await publish(bus, REGISTRY, again)
        await until(db, "SELECT count(*) FROM notifier.inbox WHERE event_id = $1", 1, again["id"])
        await asyncio.sleep(0.5)

    [p] = receiver.of_kind("partnership_removed")
    assert p["distributorId"] == "d1" and p["resellerTenantId"] == "ten-5" and p["language"] == "en"
    assert p["customersStillAdministered"] == EXPECTED_STILL_ADMINISTERED
    assert "does not revoke" in p["note"] and "2 customer(s)" in p["title"]
    assert (
        await db.fetchval(
            "SELECT count(*) FROM notifier.notifications WHERE kind = 'partnership_removed'"
        )
        == 1
    )


def _duplicates() -> float:
    return sum(
        MESSAGES.labels("notifier", topic, "duplicate")._value.get()
        for topic in (REGISTRY, DECISIONS, REVOCATIONS)
    )


async def test_redelivery_and_replay_deliver_each_notification_once(migrated, receiver, db):
    settings = configured(migrated, receiver)
    async with Bus(settings) as bus, running(settings, ["notifier"]):
        await _removal_world(bus, db)  # one revocation notification so far
        removal = partnership("d1", "ten-5", "removed", at=T0 + timedelta(hours=1))
        blocked = decision("ord-dup", "d2", [800016])
        revocation = revoked("rel-c1", "cust-c", "ten-5")
        for _ in range(2):  # each event twice, same id
            await publish(bus, REGISTRY, removal)
            await publish(bus, DECISIONS, blocked)
            await publish(bus, REVOCATIONS, revocation)
        await delivered(receiver, 4)
        await asyncio.sleep(1.0)
        assert len(receiver.delivered) == 4

        # An on-call replay: every record of every input topic, published again.
        before = _duplicates()
        replayed = 0
        for topic, count in ((REGISTRY, 15 + 2), (DECISIONS, 2), (REVOCATIONS, 1 + 2)):
            records = await bus.read(topic, lambda rs, count=count: len(rs) >= count)
            assert len(records) == count
            for r in records:
                await bus.send(topic, r.value, key=r.key.decode() if r.key else None)
            replayed += len(records)

        async def all_seen():
            return _duplicates() - before >= replayed

        await eventually(all_seen)
        await asyncio.sleep(1.0)

    kinds = sorted(p["kind"] for p in receiver.delivered)
    assert kinds == [
        "partnership_removed",
        "privileges_revoked",
        "privileges_revoked",
        "transaction_blocked",
    ]
    ids = [r["id"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 4
    assert await db.fetchval("SELECT count(*) FROM notifier.notifications") == 4
    [p] = receiver.of_kind("partnership_removed")
    assert p["customersStillAdministered"] == EXPECTED_STILL_ADMINISTERED


async def test_failing_receiver_is_retried_then_failed_then_requeued(migrated, receiver, db):
    settings = configured(migrated, receiver, notify_max_attempts=3, notify_webhook_timeout_s=0.5)
    async with Bus(settings) as bus, running(settings, ["notifier"]):
        receiver.status = 500
        await publish(bus, DECISIONS, decision("ord-500", "d1", [900151]))
        await until(db, "SELECT state FROM notifier.notifications", "failed")
        row = await db.fetchrow("SELECT * FROM notifier.notifications")
        assert row["attempts"] == 3 and row["last_error"].startswith("HTTP 500")
        assert len(receiver.requests) == 3 and not receiver.delivered
        # One webhook-id on every attempt, so the receiver can dedupe; each attempt's own time.
        assert {r["id"] for r in receiver.requests} == {row["notification_id"]}
        for r in receiver.requests:
            assert abs(int(r["timestamp"]) - r["received"]) < 2, r
        listed = await asyncio.to_thread(cli, settings, "failed")
        assert (
            listed.exit_code == 0
            and row["notification_id"] in listed.output
            and "HTTP 500" in listed.output
        )
        assert (
            await asyncio.to_thread(cli, settings, "retry", "--notification-id", "nope")
        ).exit_code == 1

        receiver.status = 200
        assert await store.retry_failed(db) == 1
        await delivered(receiver, 1)
        await until(
            db,
            "SELECT state FROM notifier.notifications WHERE notification_id = $1",
            "delivered",
            row["notification_id"],
        )

        # A receiver that hangs past the timeout costs one attempt; the next one gets through.
        receiver.hang_next = 1
        await publish(bus, DECISIONS, decision("ord-hang", "d1", [900151]))
        hung_state = (
            "SELECT state FROM notifier.notifications WHERE payload->>'orderId' = 'ord-hang'"
        )
        await until(db, hung_state, "delivered")
        hung = await db.fetchrow(
            "SELECT * FROM notifier.notifications WHERE payload->>'orderId' = 'ord-hang'"
        )
        assert hung["attempts"] == 2 and "timed out" in hung["last_error"]

    assert [p["orderId"] for p in receiver.delivered] == ["ord-500", "ord-hang"]
    assert len(receiver.requests) == 3 + 1 + 2
