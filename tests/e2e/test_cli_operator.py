"""The operator's command line on real servers: every listing's --format parses, and bulk
changes show their plan, change nothing on --dry-run, refuse without --yes when nobody can
answer, and change exactly what they showed."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import asyncpg
import pytest
import typer
from typer.testing import CliRunner

from services.cli import app
from services.cli import confirm as confirmation
from services.cli.errors import ExitCode
from services.settings import get_settings
from tests.e2e.test_replay import dlq_headers, end_offsets
from tests.support import Bus

HOOK = "https://hooks.example.test/porgate"
GONE = "https://gone.example.test/porgate"


@pytest.fixture
def cli(migrated, monkeypatch):
    monkeypatch.setenv("PORGATE_KAFKA_BOOTSTRAP_SERVERS", migrated.kafka_bootstrap_servers)
    monkeypatch.setenv("PORGATE_DATABASE_URL", migrated.database_url)
    monkeypatch.setenv("PORGATE_TOPIC_PREFIX", migrated.topic_prefix)
    monkeypatch.setenv("PORGATE_NOTIFY_WEBHOOK_URL", HOOK)
    # Tables as when piped (not wrapped): whatever width an earlier test left in COLUMNS.
    monkeypatch.delenv("COLUMNS", raising=False)
    get_settings.cache_clear()

    async def invoke(*args: str, input: str | None = None):
        # The commands call asyncio.run(): a thread, and a loop, of their own.
        return await asyncio.to_thread(CliRunner().invoke, app, list(args), input=input)

    yield invoke
    get_settings.cache_clear()


async def execute(settings, sql: str, *args):
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def add_failed_notification(settings, notification_id: str) -> None:
    await execute(
        settings,
        "INSERT INTO notifier.notifications (notification_id, kind, distributor_id, language,"
        " cause_event_id, payload, state, attempts, last_error)"
        " VALUES ($1, 'transaction_blocked', 'dist-1', 'en', $1, '{}', 'failed', 10, 'HTTP 500')",
        notification_id,
    )


async def seed(settings) -> None:
    for n in ("n-1", "n-2"):
        await add_failed_notification(settings, n)
    for r in ("rel-1", "rel-2"):
        await execute(
            settings,
            "INSERT INTO gdap_revoker.terminations (relationship_id, customer_id,"
            " reseller_tenant_id, reason, cause_event_id, state, attempts, last_error)"
            " VALUES ($1, 'cust-1', 'ten-1', 'reseller_suspended', $1, 'failed', 5, 'HTTP 503')",
            r,
        )
    await execute(
        settings,
        "INSERT INTO notifier.webhook_endpoints (url, disabled_at, disabled_reason)"
        " VALUES ($1, now(), 'HTTP 410 Gone')",
        GONE,
    )


async def states(settings) -> dict[str, str]:
    rows = await execute(
        settings,
        "SELECT notification_id AS id, state FROM notifier.notifications"
        " UNION ALL SELECT relationship_id, state FROM gdap_revoker.terminations"
        " UNION ALL SELECT url, CASE WHEN disabled_at IS NULL THEN 'enabled' ELSE 'disabled' END"
        " FROM notifier.webhook_endpoints",
    )
    return {r["id"]: r["state"] for r in rows}


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


async def test_every_listing_gives_json_and_csv_that_parse(migrated, cli):
    await seed(migrated)
    async with Bus(migrated) as bus:
        await bus.producer.send_and_wait(
            migrated.topic_prefix + "por.dlq.v1",
            b'{"id": "evt-1"}',
            key=b"ord-dead",
            headers=dlq_headers(migrated, 7),
            partition=0,
        )
    listings = {
        ("gdap", "failed"): ("relationshipId", {"rel-1", "rel-2"}),
        ("gdap", "retry", "--dry-run"): ("relationshipId", {"rel-1", "rel-2"}),
        ("notifications", "failed"): ("notificationId", {"n-1", "n-2"}),
        ("notifications", "retry", "--dry-run"): ("notificationId", {"n-1", "n-2"}),
        ("notifications", "endpoints"): ("url", {HOOK, GONE}),
        ("notifications", "enable", "--dry-run"): ("url", {GONE}),
        ("dlq", "list"): ("key", {"ord-dead"}),
        ("dlq", "redrive", "--all", "--dry-run"): ("key", {"ord-dead"}),
        ("replay", "topic", "csp.orders.v1", "--dry-run"): ("partition", {0, 1}),
        ("replay", "revalidate", "--dry-run"): ("decisionId", set()),
        ("report", "eligibility", "--distributor", "dist-1"): ("PartnerId", set()),
        ("report", "at-risk", "--distributor", "dist-1"): ("PartnerId", set()),
    }
    for args, (key, expected) in listings.items():
        as_json = json.loads(ok(await cli(*args, "--format", "json")).stdout)
        assert {row[key] for row in as_json} == expected, args
        as_csv = list(csv.DictReader(io.StringIO(ok(await cli(*args, "--format", "csv")).stdout)))
        assert {row[key] for row in as_csv} == {str(v) for v in expected}, args
        assert ok(await cli(*args, "--format", "text")).stdout, args
    documents = [
        ("explain", "1234567", "--distributor", "dist-1"),
        ("report", "observe", "--distributor", "dist-1"),
        ("dlq", "inspect", "0"),
    ]
    shown = [json.loads(ok(await cli(*args, "--format", "json")).stdout) for args in documents]
    assert shown[0]["errorCodes"] == [800016]
    assert shown[1]["transactions"] == 0
    assert shown[2]["key"] == "ord-dead" and shown[2]["value"] == {"id": "evt-1"}
    # The old flag still works, and says what replaces it.
    old = ok(await cli("dlq", "list", "--json"))
    assert json.loads(old.stdout)[0]["key"] == "ord-dead"
    assert "--json is deprecated; use --format json" in old.stderr
    assert await states(migrated) == {
        "n-1": "failed", "n-2": "failed", "rel-1": "failed", "rel-2": "failed", GONE: "disabled",
    }  # fmt: skip


BULK = [
    (("gdap", "retry"), {"rel-1", "rel-2"}, "pending"),
    (("notifications", "retry"), {"n-1", "n-2"}, "pending"),
    (("notifications", "enable"), {GONE}, "enabled"),
]


@pytest.mark.parametrize(("args", "ids", "after"), BULK, ids=[" ".join(b[0]) for b in BULK])
async def test_a_bulk_change_shows_its_plan_refuses_without_yes_and_does_it_with_yes(
    migrated, cli, args, ids, after
):
    await seed(migrated)
    before = await states(migrated)
    dry = ok(await cli(*args, "--dry-run"))
    assert all(i in dry.stdout for i in ids), dry.stdout
    assert await states(migrated) == before

    refused = await cli(*args)  # the runner's stdin is not a terminal
    assert refused.exit_code == ExitCode.USAGE
    assert refused.stderr.splitlines()[-1].startswith("porgate: not going to ")
    assert "--yes" in refused.stderr
    assert await states(migrated) == before

    done = ok(await cli(*args, "--yes"))
    assert f"{len(ids)} " in done.stdout
    changed = {k: v for k, v in (await states(migrated)).items() if v != before[k]}
    assert changed == dict.fromkeys(ids, after)


async def test_asked_on_a_terminal_no_changes_nothing_and_yes_changes_only_what_was_shown(
    migrated, cli, monkeypatch
):
    await seed(migrated)
    monkeypatch.setattr(confirmation, "can_ask", lambda: True)
    before = await states(migrated)
    declined = await cli("notifications", "retry", input="n\n")
    assert declined.exit_code == ExitCode.FAILED and "nothing changed" in declined.stderr
    assert await states(migrated) == before

    def agree_while_another_fails(text: str, **_: object) -> bool:
        # A delivery that fails while the operator reads the plan was not in it.
        asyncio.run(add_failed_notification(migrated, "n-late"))
        return True

    monkeypatch.setattr(typer, "confirm", agree_while_another_fails)
    done = ok(await cli("notifications", "retry"))
    assert "would re-queue 2 notification(s)" in done.stdout
    assert "2 notification(s) re-queued" in done.stdout
    after = await states(migrated)
    assert (after["n-1"], after["n-2"], after["n-late"]) == ("pending", "pending", "failed")


async def test_dlq_redrive_of_everything_asks_and_named_offsets_do_not(migrated, cli):
    prefix = migrated.topic_prefix
    async with Bus(migrated) as bus:
        for n in range(2):
            await bus.producer.send_and_wait(
                prefix + "por.dlq.v1", b"{not json", key=f"bad-{n}".encode(),
                headers=dlq_headers(migrated, n), partition=0,
            )  # fmt: skip
        refused = await cli("dlq", "redrive", "--all")
        assert refused.exit_code == ExitCode.USAGE
        assert "would redrive 2 dead letter(s)" in refused.stdout
        assert sum((await end_offsets(migrated, "csp.orders.v1")).values()) == 0
        named = ok(await cli("dlq", "redrive", "--offset", "0"))
        assert "1 dead letter(s) redriven" in named.stdout
        everything = ok(await cli("dlq", "redrive", "--all", "--yes"))
        assert "2 dead letter(s) redriven" in everything.stdout
        assert sum((await end_offsets(migrated, "csp.orders.v1")).values()) == 3
