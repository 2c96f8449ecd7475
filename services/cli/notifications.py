"""`porgate notifications ...`: inspect and re-queue notifications the webhook refused; show
and re-enable webhook endpoints that answered 410 Gone."""

# No `from __future__ import annotations`: typer reads the commands' annotations at run time.

import asyncio
from datetime import datetime
from typing import Annotated, Any

import asyncpg
import typer

from services.cli.confirm import DryRun, Yes, confirm
from services.cli.errors import command_group, fail
from services.cli.failed import add_failed_commands, each, with_pool
from services.cli.output import Column, Tabular, TabularFormat, emit, say
from services.notifier import store
from services.settings import get_settings

app = command_group("Distributor notifications (webhook deliveries).")

add_failed_commands(
    app,
    schema=store.SCHEMA,
    list_failed=store.failed,
    retry_failed=store.retry_failed,
    columns=[
        Column("notification id", "notificationId", "notification_id"),
        Column("kind", "kind"),
        Column("distributor", "distributorId", "distributor_id"),
        Column("attempts", "attempts"),
        Column("created", "createdAt", "created_at"),
        Column("last error", "lastError", "last_error"),
    ],
    id_key="notificationId",
    noun="notification",
    title="failed notifications",
    id_option="--notification-id",
    order="newest first",
    failed_help="List notifications whose delivery failed for good.",
    retry_help="Put failed notifications back in the delivery queue with a fresh attempt budget.",
)

# A plan to re-enable names the endpoints and why they were disabled.
ENABLE_COLUMNS = [
    Column("url", "url"),
    Column("configured", "configured"),
    Column("state", "state"),
    Column("since", "disabledAt"),
    Column("reason", "disabledReason"),
    Column("paused until", "pausedUntil"),
    Column("re-enabled", "enabledAt"),
]
# The listing adds how deliveries go.
ENDPOINT_COLUMNS = [
    *ENABLE_COLUMNS[:3],
    Column("delivered", "delivered"),
    Column("last delivered", "lastDeliveredAt"),
    Column("last attempt", "lastAttemptAt", text=False),
    Column("result", "lastResult"),
    *ENABLE_COLUMNS[3:],
]


def endpoint_rows(
    records: list[asyncpg.Record], configured: str | None, now: datetime
) -> list[dict[str, Any]]:
    """Each endpoint a notifier delivers to (recorded from its start) or that was paused or
    disabled, with its deliveries; and the configured one even without a record."""
    rows = []
    for r in records:
        state = "disabled" if r["disabled_at"] is not None else "enabled"
        if state == "enabled" and r["paused_until"] is not None and r["paused_until"] > now:
            state = "paused"
        rows.append(
            {
                "url": r["url"],
                "configured": r["url"] == configured,
                "state": state,
                "delivered": r["delivered"],
                "lastDeliveredAt": r["last_delivered_at"],
                "lastAttemptAt": r["last_attempt_at"],
                "lastResult": r["last_result"],
                "disabledAt": r["disabled_at"],
                "disabledReason": r["disabled_reason"],
                "pausedUntil": r["paused_until"],
                "enabledAt": r["enabled_at"],
            }
        )
    if configured and configured not in {r["url"] for r in records}:
        rows.append({"url": configured, "configured": True, "state": "enabled", "delivered": 0})
    return rows


@app.command()
def endpoints(fmt: TabularFormat = Tabular.text) -> None:
    """Every webhook endpoint: enabled, paused (429, 502, 504) or disabled (410 Gone), with
    its deliveries."""

    async def read(pool: asyncpg.Pool) -> tuple[list[asyncpg.Record], int]:
        return await store.endpoints(pool), await store.pending_count(pool)

    records, pending = asyncio.run(with_pool(store.SCHEMA, read))
    rows = endpoint_rows(records, get_settings().notify_webhook_url, datetime.now().astimezone())
    columns = ENDPOINT_COLUMNS
    if fmt is Tabular.text:  # people read "configured" beside the url, not as a column
        columns = [c for c in columns if c.key != "configured"]
        rows = [r | {"url": r["url"] + " (configured)"} if r["configured"] else r for r in rows]
    emit(rows, columns, fmt, title="webhook endpoints", empty="no webhook endpoint configured")
    say(f"{pending} notification(s) pending")


@app.command()
def enable(
    url: Annotated[
        str | None,
        typer.Option(help="Re-enable only this endpoint (default: every disabled one)."),
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    fmt: TabularFormat = Tabular.text,
) -> None:
    """Re-enable webhook endpoints that answered 410 Gone; their pending notifications go out."""
    if url is not None and not dry_run:  # one named endpoint: nothing to confirm
        count = asyncio.run(with_pool(store.SCHEMA, lambda pool: store.enable_endpoints(pool, url)))
        if count == 0:
            raise fail(f"{url} is not disabled")
        typer.echo(f"{count} endpoint(s) re-enabled")
        return
    records = asyncio.run(with_pool(store.SCHEMA, store.endpoints))
    now = datetime.now().astimezone()
    plan = [
        r
        for r in endpoint_rows(records, get_settings().notify_webhook_url, now)
        if r["state"] == "disabled" and (url is None or r["url"] == url)
    ]
    if not plan:
        emit([], ENABLE_COLUMNS, fmt, title="", empty="no disabled endpoints")
        return
    if dry_run or not yes:
        emit(plan, ENABLE_COLUMNS, fmt, title=f"would re-enable {len(plan)} endpoint(s)", empty="")
    if dry_run:
        return
    confirm(f"re-enable {len(plan)} endpoint(s)", yes=yes)
    urls = [r["url"] for r in plan]
    count = asyncio.run(
        with_pool(store.SCHEMA, lambda pool: each(pool, urls, store.enable_endpoints))
    )
    typer.echo(f"{count} endpoint(s) re-enabled")
