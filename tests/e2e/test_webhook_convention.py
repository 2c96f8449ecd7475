"""The Standard Webhooks convention on the real broker, PostgreSQL and HTTP: secret rotation,
410 Gone disabling the endpoint until an operator re-enables it, and 429/502/504 with
Retry-After holding deliveries back. The receiver verifies every request with the
`standardwebhooks` package."""

from __future__ import annotations

import asyncio
import base64

import asyncpg
import pytest
import standardwebhooks
from pydantic import SecretStr
from typer.testing import CliRunner

from services.cli import notifications as commands
from services.notifier import store
from services.notifier.metrics import ENDPOINT_DISABLED
from services.settings import get_settings
from tests.e2e.test_notifier import DECISIONS, configured, decision, delivered, publish, until
from tests.e2e.webhook_receiver import SECRET, Receiver
from tests.support import Bus, eventually, running

PREVIOUS = "whsec_" + base64.b64encode(b"the-secret-being-retired-24b").decode()


@pytest.fixture
async def receiver():
    async with Receiver(SECRET) as r:
        yield r
    assert all(req["signed"] for req in r.requests), r.requests


@pytest.fixture
async def db(migrated):
    conn = await asyncpg.connect(migrated.database_url, server_settings={"search_path": "notifier"})
    yield conn
    await conn.close()


def cli(settings, *args: str):
    """`porgate notifications ...` as an operator runs it, with the notifier's environment."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(
            commands.app,
            list(args),
            env={
                "PORGATE_DATABASE_URL": settings.database_url,
                "PORGATE_NOTIFY_WEBHOOK_URL": settings.notify_webhook_url,
                "COLUMNS": "300",
            },
        )
    finally:
        get_settings.cache_clear()


async def test_while_rotating_every_delivery_verifies_with_the_old_and_the_new_secret(migrated):
    # The receiver still has the old secret: deliveries must keep verifying for it.
    async with Receiver(PREVIOUS) as old_receiver:
        settings = configured(
            migrated,
            old_receiver,
            notify_webhook_secret=SecretStr(SECRET),
            notify_webhook_secret_previous=SecretStr(PREVIOUS),
        )
        async with Bus(settings) as bus, running(settings, ["notifier"]):
            await publish(bus, DECISIONS, decision("ord-rot-1", "d1", [900151]))
            await publish(bus, DECISIONS, decision("ord-rot-2", "d1", [900414]))
            await delivered(old_receiver, 2)
    assert len(old_receiver.requests) == 2
    for request in old_receiver.requests:
        assert request["signed"], request
        assert len(request["headers"]["webhook-signature"].split(" ")) == 2
        # ...and for a receiver that already switched to the new one.
        standardwebhooks.Webhook(SECRET).verify(request["body"], request["headers"])


async def test_a_gone_endpoint_is_disabled_until_the_cli_re_enables_it(migrated, receiver, db):
    settings = configured(migrated, receiver)
    async with Bus(settings) as bus, running(settings, ["notifier"]):
        receiver.status = 410
        await publish(bus, DECISIONS, decision("ord-gone-1", "d1", [900151]))
        await until(db, "SELECT count(*) FROM webhook_endpoints WHERE disabled_at IS NOT NULL", 1)
        # More notifications while it is disabled: queued, never sent.
        await publish(bus, DECISIONS, decision("ord-gone-2", "d1", [900414]))
        await until(db, "SELECT count(*) FROM notifications", 2)
        asked = len(receiver.requests)
        await asyncio.sleep(6)  # past the worker's longest poll
        assert len(receiver.requests) == asked == 1 and not receiver.delivered

        # Waiting, not failing: no attempt counted, nothing failed, the reason recorded.
        rows = await db.fetch("SELECT state, attempts FROM notifications")
        assert [(r["state"], r["attempts"]) for r in rows] == [("pending", 0)] * 2
        endpoint = await db.fetchrow("SELECT * FROM webhook_endpoints")
        assert endpoint["url"] == receiver.url and endpoint["disabled_reason"].startswith(
            "HTTP 410"
        )
        assert ENDPOINT_DISABLED._value.get() == 1
        assert await store.seconds_until_due(db, receiver.url) is None
        shown = await asyncio.to_thread(cli, settings, "endpoints")
        assert shown.exit_code == 0, shown.output
        assert "disabled" in shown.output and "HTTP 410" in shown.output
        assert "2 notification(s) pending" in shown.output
        assert "(configured)" in shown.output

        receiver.status = 200
        enabled = await asyncio.to_thread(cli, settings, "enable", "--url", receiver.url)
        assert enabled.exit_code == 0 and "1 endpoint(s) re-enabled" in enabled.output
        await delivered(receiver, 2)
        await until(db, "SELECT count(*) FROM notifications WHERE state = 'delivered'", 2)

        async def gauge_cleared():
            return ENDPOINT_DISABLED._value.get() == 0

        await eventually(gauge_cleared)
        again = await asyncio.to_thread(cli, settings, "enable", "--url", receiver.url)
        assert again.exit_code == 1 and "is not disabled" in again.output
        shown = await asyncio.to_thread(cli, settings, "endpoints")
        assert "enabled" in shown.output and "disabled" not in shown.output

    assert sorted(p["orderId"] for p in receiver.delivered) == ["ord-gone-1", "ord-gone-2"]
    row = await db.fetchrow("SELECT * FROM notifications WHERE payload->>'orderId' = 'ord-gone-1'")
    assert row["attempts"] == 1  # the 410 attempt was not counted


@pytest.mark.parametrize("status", [429, 502, 504])
async def test_slowing_down_holds_every_delivery_back_for_the_retry_after(
    migrated, receiver, db, status
):
    # A backoff far shorter than the Retry-After: only the Retry-After explains the wait.
    settings = configured(migrated, receiver, delivery_retry_initial_s=0.1)
    retry_after_s = 3
    receiver.answer_next = [status]
    receiver.retry_after = str(retry_after_s)
    async with Bus(settings) as bus, running(settings, ["notifier"]):
        await publish(bus, DECISIONS, decision("ord-slow-1", "d1", [900151]))

        async def throttled():
            return len(receiver.requests) >= 1

        await eventually(throttled)
        # A notification queued during the pause waits too: the endpoint is paused, not one row.
        await publish(bus, DECISIONS, decision("ord-slow-2", "d1", [900414]))
        await delivered(receiver, 2)

    first, *later = receiver.requests
    assert len(later) == 2
    for request in later:
        assert request["at"] - first["at"] >= retry_after_s - 0.01, request["at"] - first["at"]
    row = await db.fetchrow("SELECT * FROM notifications WHERE payload->>'orderId' = 'ord-slow-1'")
    assert row["state"] == "delivered" and row["attempts"] == 2
    assert row["last_error"].startswith(f"HTTP {status}")
    # Nothing pending: the worker waits for work, whatever pause is recorded.
    assert await store.seconds_until_due(db, receiver.url) is None
